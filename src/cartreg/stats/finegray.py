"""Fine-Gray proportional subdistribution hazards regression, as R ``cmprsk::crr`` (2.2).

Estimand: the subdistribution hazard of cause ``k``, ``h_k(t | x) = h_k0(t) exp(x'beta)``
(Fine & Gray 1999), i.e. the hazard of the cumulative incidence ``F_k(t | x)``. ``beta``
maximises a weighted partial likelihood in which a patient who failed from another cause stays
in the risk set after failing, with weight ``G(s-) / G(t_i-)``, ``G`` the Kaplan-Meier estimate of
the censoring distribution (inverse probability of censoring weighting).

The computation follows ``crr``'s R code and Fortran (``crrfsv``, ``crrf``, ``crrvv``) exactly:

* rows are sorted by time; ``G(t-)`` is ``survfit(Surv(time, censored) ~ 1)`` read by
  ``approx(..., method = "constant")`` at ``time * (1 - 100 eps)`` (left-continuous);
* tied failures of cause ``k`` enter as Breslow ties (``d log S0``);
* Newton-Raphson from 0 with ``crr``'s stopping rule ``max |score| max(|b|, 1) < max(|f|, 1) gtol``
  (``gtol = 1e-6``, ``maxiter = 10``) and its backtracking line search (step halved while the
  objective fails the Armijo test with constant 1e-4, at most 20 times), so the estimates are R's
  iterates, not just the same optimum;
* the variance is Fine & Gray's sandwich ``I^-1 (sum_i (eta_i + psi_i)(eta_i + psi_i)') I^-1``
  where ``eta_i`` is the score residual and ``psi_i`` the term for estimating ``G`` (``crrvv``);
* Wald intervals ``exp(coef -/+ z se)`` and two-sided normal P values, as ``summary.crr``.

Every sum is vectorised (cumulative sums over the sorted rows); nothing per row runs in Python.
Censoring groups (``cengroup``) and time-varying covariates (``cov2``) are not supported: one
censoring distribution for all rows, as ``crr``'s default.

References
----------
Fine JP, Gray RJ (1999). A proportional hazards model for the subdistribution of a competing risk.
JASA 94:496-509.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import special

from cartreg.errors import CartregError
from cartreg.stats._data import complete_cases
from cartreg.stats.cox import term_lines

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["FineGrayResult", "finegray"]

GTOL = 1e-6  #: crr(gtol=)
MAXITER = 10  #: crr(maxiter=)
_EPS = float(np.finfo(float).eps)


@dataclass(frozen=True, eq=False)
class FineGrayResult:
    """A fitted Fine-Gray model; per-term arrays in the order of ``names``.

    Attributes
    ----------
    names : tuple of str
        Term names (``COL=LEVEL`` for a factor level).
    coef, se, hr, ci_lower, ci_upper, z, p : ndarray
        log subdistribution hazard ratios, sandwich standard errors (``sqrt(diag(fit$var))``),
        ``exp(coef)``, Wald interval, ``coef / se`` and its two-sided normal P value.
    var : ndarray
        The sandwich variance matrix (``fit$var``).
    loglik, loglik_null : float
        The weighted log pseudo-likelihood at the estimate and at 0 (``fit$loglik``,
        ``fit$loglik.null``).
    cause : str
        The cause modelled (``failcode``).
    n, excluded, events, competing : int
        Rows used, rows dropped for a missing value, failures from ``cause``, failures from other
        causes.
    converged : bool
        ``fit$converged``.
    iterations : int
        Newton steps taken.
    conf_level : float
    warnings : tuple of str
    """

    names: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    hr: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    z: np.ndarray
    p: np.ndarray
    var: np.ndarray
    loglik: float
    loglik_null: float
    cause: str
    n: int
    excluded: int
    events: int
    competing: int
    converged: bool
    iterations: int
    conf_level: float
    warnings: tuple[str, ...]

    def summary(self) -> str:
        """A printable table in the spirit of ``summary.crr``; formatting only."""
        lines = [f"Fine-Gray model for cause {self.cause}: n={self.n}, events={self.events}, "
                 f"competing={self.competing}, excluded={self.excluded}"]
        lines += term_lines(self, "sHR", p_format=lambda p: f"{p:.3g}")
        lines.append(f"Pseudo log-likelihood: null {self.loglik_null:.6g}, model {self.loglik:.6g}"
                     f" ({'converged' if self.converged else 'NOT converged'})")
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)

    def to_frame(self) -> "pd.DataFrame":
        """The terms as a tidy pandas DataFrame (``broom::tidy``; see :mod:`cartreg.stats.tidy`)."""
        from cartreg.stats.tidy import finegray_frame

        return finegray_frame(self)

    def _repr_html_(self) -> str:
        from cartreg.stats.tidy import finegray_html

        return finegray_html(self)

    def __repr__(self) -> str:
        return self.summary()


@dataclass(frozen=True, eq=False)
class _Data:
    t: np.ndarray  # sorted times
    ici: np.ndarray  # 1 = cause, 2 = other cause, 0 = censored
    x: np.ndarray  # (n, p)
    xt: np.ndarray  # (p, n) contiguous: cumulative sums along rows are fast
    g: np.ndarray  # G(t_i-) per row
    ft: np.ndarray  # distinct failure times of the cause
    d: np.ndarray  # failures at each
    gf: np.ndarray  # G(s-) at each
    lo: np.ndarray  # first row with t >= s, per failure time
    fail: np.ndarray  # rows failing from the cause
    fk: np.ndarray  # failure-time index of each failing row
    xfail: np.ndarray  # sum of x over the rows failing from the cause
    crows: np.ndarray  # rows failing from another cause
    cbin: np.ndarray  # per such row: first failure time s_k with t_row < s_k


def _censoring_weights(t: np.ndarray, cens: np.ndarray) -> np.ndarray:
    """``G(t_i-)`` as crr computes it (``survfit`` of the censoring, ``approx`` constant)."""
    from cartreg.stats.km import kaplan_meier

    km = kaplan_meier(t, cens.astype(float))
    knots = np.concatenate(([min(0.0, float(km.time[0])) - 10 * _EPS], km.time,
                            [float(km.time.max()) * (1 + 10 * _EPS)]))
    vals = np.concatenate(([1.0], km.surv, [0.0]))
    xout = t * (1 - 100 * _EPS)
    idx = np.clip(np.searchsorted(knots, xout, side="right") - 1, 0, knots.size - 1)
    return vals[idx]


def _sums(dat: _Data, b: np.ndarray, first_order: bool = True) -> tuple[Any, ...]:
    """exp(eta), S0 and S1 (K, p) at every failure time, the competing-failure weights
    ``ow = e / G(t-)`` (0 unless another cause), and their running sums ``b0``/``b1``.

    ``S(s) = sum_{t_j >= s} e_j x_j + G(s-) sum_{t_j < s, other cause} e_j x_j / G(t_j-)``.
    """
    e = np.exp(dat.x @ b)
    with np.errstate(invalid="ignore", divide="ignore"):
        ow = np.where(dat.ici == 2, e / dat.g, 0.0)
    lo = dat.lo
    cs0 = np.concatenate(([0.0], np.cumsum(e)))
    b0 = np.concatenate(([0.0], np.cumsum(ow)))  # rows < index
    s0 = (cs0[-1] - cs0[lo]) + dat.gf * b0[lo]
    if not first_order:
        return e, s0
    n, p = dat.x.shape
    # at risk (t_j >= s_k): sums over the blocks [lo_k, lo_k+1) then a reverse cumulative sum
    blocks = np.add.reduceat(dat.x * e[:, None], lo, axis=0) if lo.size else np.zeros((0, p))
    a1 = np.cumsum(blocks[::-1], axis=0)[::-1]
    # after another cause (t_j < s_k): each such row counts from failure time index cbin on
    cr = dat.crows
    wcr = ow[cr]
    k = lo.size
    b1k = np.stack([np.bincount(dat.cbin, weights=wcr * dat.x[cr, q], minlength=k + 1)
                    for q in range(p)], axis=1) if p else np.zeros((k + 1, 0))
    b1k = np.cumsum(b1k, axis=0)[:k]
    s1 = a1 + dat.gf[:, None] * b1k
    return e, s0, s1, ow, b0, None


def _objective(dat: _Data, b: np.ndarray) -> float:
    """crrf: minus the log pseudo-likelihood."""
    _, s0 = _sums(dat, b, first_order=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(-(dat.xfail @ b) + dat.d @ np.log(s0))


def _weights_per_row(dat: _Data, per_time: np.ndarray) -> np.ndarray:
    """``sum_k per_time[k] * omega_i(s_k)`` per row: at risk (t_i >= s_k) with weight 1, and
    after another cause (t_i < s_k, ici 2) with weight ``G(s_k-) / G(t_i-)``.

    ``per_time`` is (K,) or (K, q); the result is (n,) or (n, q).
    """
    k_le = np.searchsorted(dat.ft, dat.t, side="right")  # failure times <= t_i
    c1 = np.concatenate(([np.zeros(per_time.shape[1:])], np.cumsum(per_time, axis=0)))
    gp = per_time * (dat.gf if per_time.ndim == 1 else dat.gf[:, None])
    c2 = np.concatenate((np.cumsum(gp[::-1], axis=0)[::-1], [np.zeros(per_time.shape[1:])]))
    other = (dat.ici == 2) / dat.g
    if per_time.ndim == 1:
        return c1[k_le] + other * c2[k_le]
    return c1[k_le] + other[:, None] * c2[k_le]


def _score_info(dat: _Data, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """crrfsv: objective, its gradient and Hessian (the information)."""
    e, s0, s1, _, _, _ = _sums(dat, b)
    f = float(-(dat.xfail @ b) + dat.d @ np.log(s0))
    grad = -dat.xfail + (dat.d / s0) @ s1
    c = _weights_per_row(dat, dat.d / s0)
    hess = dat.xt @ (dat.xt * (e * c)).T - (s1 * (dat.d / s0**2)[:, None]).T @ s1
    return f, grad, 0.5 * (hess + hess.T)


def _sandwich_middle(dat: _Data, b: np.ndarray) -> np.ndarray:
    """crrvv's ``v2 = sum_i (eta_i + psi_i)(eta_i + psi_i)'``."""
    e, s0, s1, ow, b0, _ = _sums(dat, b)
    n, p = dat.x.shape
    b1 = np.empty((n + 1, p))  # running sums of ow * x over the rows before each index
    b1[0] = 0.0
    np.cumsum(dat.x * ow[:, None], axis=0, out=b1[1:])
    xbar = s1 / s0[:, None]  # (K, p)
    # eta_i: dN part minus the d Lambda part
    c = _weights_per_row(dat, dat.d / s0)
    m = _weights_per_row(dat, xbar * (dat.d / s0)[:, None])
    eta = -(dat.x * c[:, None] - m) * e[:, None]
    eta[dat.fail] += dat.x[dat.fail] - xbar[dat.fk]
    # psi_i: estimation of G. Distinct times u with censored rows; Y(u) rows with t >= u.
    ut, first = np.unique(dat.t, return_index=True)
    ncens = np.bincount(np.searchsorted(ut, dat.t), weights=(dat.ici == 0).astype(float),
                        minlength=ut.size)
    y_at = (n - first).astype(float)
    kge = np.searchsorted(dat.ft, ut, side="left")  # failure times >= u start here
    r1 = np.concatenate((np.cumsum((dat.d * dat.gf / s0)[::-1])[::-1], [0.0]))
    r2 = np.concatenate((np.cumsum((xbar * (dat.d * dat.gf / s0)[:, None])[::-1], axis=0)[::-1],
                         np.zeros((1, p))))
    q = b1[first] * r1[kge][:, None] - b0[first][:, None] * r2[kge]  # (U, p)
    ss2 = -np.cumsum(q * (ncens / y_at**2)[:, None], axis=0)
    ui = np.searchsorted(ut, dat.t)
    psi = ss2[ui]
    cens = dat.ici == 0
    psi[cens] += q[ui[cens]] / y_at[ui[cens]][:, None]
    tot = eta + psi
    return tot.T @ tot


def finegray(
    time: Any,
    status: Any,
    X: Any,
    names: list[str] | tuple[str, ...],
    cause: Any = 1,
    cens_code: Any = 0,
    conf_level: float = 0.95,
    *,
    gtol: float = GTOL,
    maxiter: int = MAXITER,
) -> FineGrayResult:
    """Fine-Gray regression for ``cause``, as ``crr(time, status, X, failcode = cause, cencode = cens_code)``.

    Parameters
    ----------
    time : array (n,)
        Follow-up times (>= 0).
    status : array (n,)
        ``cens_code`` for censored rows, any other code (number or text) for a cause.
    X : array (n, p)
        Covariates (e.g. from :func:`cartreg.stats.design.model_matrix`); NaN marks a missing value.
    names : sequence of str
        One name per column of ``X``.
    cause : number or str
        The cause of interest (``failcode``); the other causes are competing events.
    cens_code : number or str
        The censoring code (``cencode``).
    conf_level : float
        Level of the Wald intervals.
    gtol, maxiter : float, int
        ``crr(gtol =, maxiter =)``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([1., 2, 3, 4, 5, 6, 7, 8]); s = np.array([1, 2, 1, 0, 1, 2, 0, 1])
    >>> x = np.array([[0.], [1], [0], [1], [1], [0], [1], [0]])
    >>> fit = finegray(t, s, x, ["x"], cause=1)
    >>> fit.events, fit.competing, fit.converged
    (4, 2, True)
    """
    if not (0.0 < float(conf_level) < 1.0):
        raise CartregError(f"conf_level must be between 0 and 1, not {conf_level!r}")
    from cartreg.stats.cuminc import _status_codes

    time_a = np.asarray(time)
    status_a = np.asarray(status)
    Xa = np.asarray(X, dtype=float)
    names = tuple(str(s) for s in names)
    if Xa.ndim == 1:
        Xa = Xa.reshape(-1, 1)
    n_all = time_a.shape[0]
    if Xa.shape != (n_all, len(names)):
        raise CartregError(f"X has shape {Xa.shape}, expected ({n_all}, {len(names)})")
    if not names:
        raise CartregError("the Fine-Gray model needs at least one covariate")
    cc = complete_cases(time_a, status_a, Xa)
    t_raw, st, Xc = cc.arrays
    try:
        t = np.asarray(t_raw, dtype=float)
    except (TypeError, ValueError):
        raise CartregError("time must be numeric") from None
    if t.size == 0:
        raise CartregError("no complete rows to fit the Fine-Gray model")
    if not np.isfinite(t).all() or (t < 0).any():
        raise CartregError("time must be finite and >= 0")
    idx, causes = _status_codes(st, cens_code)
    from cartreg.stats.cuminc import _label_of, _same_number

    label = _label_of(cause)
    match = [k for k, c in enumerate(causes) if c == label or _same_number(c, cause)]
    if not match:
        raise CartregError(f"cause {label!r} does not occur in the status column "
                           f"(causes: {', '.join(causes) or 'none'})")
    k = match[0]
    ici = np.where(idx == k, 1, np.where(idx < 0, 0, 2)).astype(np.int8)
    order = np.argsort(t, kind="stable")
    t, ici, Xc = t[order], ici[order], Xc[order]
    events = int((ici == 1).sum())
    if events == 0:
        raise CartregError(f"no failures from cause {label!r}: the model cannot be fitted")
    g = _censoring_weights(t, ici == 0)
    fail = np.flatnonzero(ici == 1)
    ft, fk, d = np.unique(t[fail], return_inverse=True, return_counts=True)
    lo = np.searchsorted(t, ft, side="left")
    crows = np.flatnonzero(ici == 2)
    dat = _Data(t=t, ici=ici, x=Xc, xt=np.ascontiguousarray(Xc.T), g=g, ft=ft, d=d.astype(float), gf=g[fail][np.searchsorted(t[fail], ft)],
                lo=lo, fail=fail, fk=fk.reshape(-1), xfail=Xc[fail].sum(axis=0), crows=crows,
                cbin=np.searchsorted(ft, t[crows], side="right"))

    p = len(names)
    b = np.zeros(p)
    converged = False
    it = 0
    warnings: list[str] = []
    hess = None
    for ll in range(maxiter + 1):
        f, grad, hess = _score_info(dat, b)
        if np.max(np.abs(grad) * np.maximum(np.abs(b), 1.0)) < max(abs(f), 1.0) * gtol:
            converged = True
            break
        if ll == maxiter:
            break
        try:
            sc = -np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            raise CartregError("the Fine-Gray information matrix is singular: a covariate is "
                               "constant or collinear among the rows used") from None
        bn = b + sc
        fbn = _objective(dat, bn)
        i = 0
        while np.isnan(fbn) or fbn > f + 1e-4 * float(sc @ grad):
            i += 1
            sc = sc * 0.5
            bn = b + sc
            fbn = _objective(dat, bn)
            if i > 20:
                break
        if i > 20:
            break
        b = bn
        it += 1
    if not converged:
        warnings.append(f"the Fine-Gray fit did not converge in {maxiter} iterations (as crr: "
                        "converged = FALSE); estimates may be unreliable")
    # crrvv's information at the final b: the loop's last evaluation when it stopped there
    h0 = hess if (converged and hess is not None) else _score_info(dat, b)[2]
    try:
        h = np.linalg.inv(h0)
    except np.linalg.LinAlgError:
        raise CartregError("the Fine-Gray information matrix is singular at the estimate") from None
    var = h @ _sandwich_middle(dat, b) @ h.T
    se = np.sqrt(np.diag(var))
    conf_level = float(conf_level)
    zq = float(special.ndtri(0.5 + conf_level / 2.0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = b / se
        pval = 2.0 * special.ndtr(-np.abs(z))
    return FineGrayResult(
        names=names, coef=b, se=se, hr=np.exp(b), ci_lower=np.exp(b - zq * se),
        ci_upper=np.exp(b + zq * se), z=z, p=pval, var=var, loglik=-_objective(dat, b),
        loglik_null=-_objective(dat, np.zeros(p)), cause=causes[k], n=int(t.size),
        excluded=cc.excluded, events=events, competing=int((ici == 2).sum()),
        converged=converged, iterations=it, conf_level=conf_level, warnings=tuple(warnings),
    )
