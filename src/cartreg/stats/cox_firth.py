"""Firth's penalised Cox regression, as R ``coxphf::coxphf`` (1.13) with its defaults.

Estimand: the Cox model's log hazard ratios, estimated by maximising the penalised partial
log-likelihood ``l*(beta) = l(beta) + 0.5 log det I(beta)`` (Firth 1993; Heinze & Schemper 2001).
The penalty removes the first-order bias and keeps the estimates finite under monotone likelihood
(e.g. a class whose 3 patients all had the event first), where ``coxph`` reports an infinite
coefficient and a meaningless Wald P.

Computation, as ``coxphf``'s Fortran (``FIRTHCOX``, ``LIKE``, ``PLCOMP``), step for step:

* Breslow ties; covariates divided by their standard deviation (``sd``, not centred);
* the modified score ``U*_j = U_j + 0.5 tr(I^-1 dI/dbeta_j)`` and Newton-type steps
  ``I^-1 U*`` from 0, each component capped at ``maxstep = 0.5``, step-halving (up to 6 times)
  while the penalised log-likelihood does not increase; convergence when every change is
  <= ``epsilon = 1e-6`` and every ``|U*_j|`` <= ``gconv = 1e-4`` (at most ``maxit = 50``);
* variance ``I^-1`` at the estimate (Wald SEs);
* profile penalised-likelihood intervals by Venzon & Moolgavkar's (1988) iteration (the bound
  where ``2 (l*max - l*) = qchisq(conf_level, 1)``), and P values from the penalised
  likelihood-ratio test ``2 (l*max - l*restricted)`` against the fit with that coefficient
  fixed at 0, on 1 df.

The third-order sums of ``dI/dbeta`` are contracted with ``I^-1`` before summing over rows, so a
likelihood evaluation costs O(n p^2) and no (p, p, p) array per row or per time is stored.
Not supported (as the CLI does not need them): strata, case weights, time-varying effects.

References
----------
Firth D (1993). Bias reduction of maximum likelihood estimates. Biometrika 80:27-38.
Heinze G, Schemper M (2001). A solution to the problem of monotone likelihood in Cox regression.
Biometrics 57:114-119.
Venzon DJ, Moolgavkar SH (1988). A method for computing profile-likelihood-based confidence
intervals. Applied Statistics 37:87-94.
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

__all__ = ["FirthCoxResult", "coxphf"]

MAXIT = 50
MAXHS = 5
EPSILON = 1e-6
GCONV = 1e-4
MAXSTEP = 0.5
_DLOWEST = 1.0e-44


@dataclass(frozen=True, eq=False)
class FirthCoxResult:
    """A Firth-penalised Cox fit; per-term arrays in the order of ``names``.

    Attributes
    ----------
    names : tuple of str
    coef : ndarray
        Penalised log hazard ratios.
    se : ndarray
        Wald standard errors ``sqrt(diag(var))`` (``var`` = inverse information at the estimate).
    hr : ndarray
        ``exp(coef)``.
    ci_lower, ci_upper : ndarray
        Profile penalised-likelihood limits of the HR (NaN where the iteration did not converge
        in ``maxit`` steps, R's NA).
    chi2, p : ndarray
        Penalised likelihood-ratio statistic for ``coef = 0`` and its P value on 1 df (computed
        in the upper tail, accurate where R's ``1 - pchisq`` rounds to 0).
    var : ndarray
    loglik_null, loglik : float
        Penalised log-likelihood at 0 and at the estimate (``fit$loglik``).
    n, events, excluded : int
    converged : bool
        Whether the estimate met both criteria within ``maxit`` iterations.
    iterations : int
    ci_iterations : ndarray (p, 3)
        Iterations for the lower and upper limits and the restricted fit (R's ``iter.ci``).
    conf_level : float
    warnings : tuple of str
    """

    names: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    hr: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    chi2: np.ndarray
    p: np.ndarray
    var: np.ndarray
    loglik_null: float
    loglik: float
    n: int
    events: int
    excluded: int
    converged: bool
    iterations: int
    ci_iterations: np.ndarray
    conf_level: float
    warnings: tuple[str, ...]

    def summary(self) -> str:
        """A printable table in the spirit of ``summary.coxphf``; formatting only."""
        lines = [f"Firth's penalised Cox (Breslow ties): n={self.n}, events={self.events}, "
                 f"excluded={self.excluded}; profile penalised-likelihood CI and P"]
        lines += term_lines(self, "HR", p_format=lambda p: f"{p:.3g}")
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def to_frame(self) -> "pd.DataFrame":
        """The terms as a tidy pandas DataFrame (``broom::tidy``; see :mod:`cartreg.stats.tidy`)."""
        from cartreg.stats.tidy import firth_frame

        return firth_frame(self)

    def _repr_html_(self) -> str:
        from cartreg.stats.tidy import firth_html

        return firth_html(self)


@dataclass(frozen=True, eq=False)
class _Data:
    x: np.ndarray  # (n, p) standardised covariates, rows sorted by time
    gfirst: np.ndarray  # first row of each tie group
    grp: np.ndarray  # tie group of each row
    d: np.ndarray  # events per tie group
    xev: np.ndarray  # sum of x over event rows
    ev: np.ndarray  # event rows


def _like(dat: _Data, b: np.ndarray, firth: bool = True,
          penalty: float = 0.5) -> tuple[float, np.ndarray, np.ndarray, int]:
    """``LIKE``: penalised log-likelihood, modified score and ``-I`` (Breslow), and JCODE."""
    x = dat.x
    p = x.shape[1]
    eta = x @ b
    e = np.exp(eta)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        s0 = np.cumsum(e[::-1])[::-1][dat.gfirst]
        s1 = np.cumsum((x * e[:, None])[::-1], axis=0)[::-1][dat.gfirst]
        d = dat.d
        xl = float(eta[dat.ev].sum() - d @ np.log(np.maximum(s0, _DLOWEST)))
        m1 = s1 / s0[:, None]
        u = dat.xev - d @ m1
        cg = d / s0
        c = np.cumsum(cg)[dat.grp]
        ec = e * c
        info = x.T @ (x * ec[:, None]) - (m1 * d[:, None]).T @ m1
    info = 0.5 * (info + info.T)
    jcode = 0
    if firth:
        try:
            iinv = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            iinv = np.full((p, p), np.nan)
        with np.errstate(over="ignore", invalid="ignore"):
            xi = x @ iinv
            q = np.einsum("ij,ij->i", xi, x)
            a = np.cumsum(m1 * cg[:, None], axis=0)[dat.grp]
            r = np.einsum("ij,ij->i", xi, a)
            part3 = x.T @ (ec * q)
            part1 = a.T @ (e * q)
            part2 = x.T @ (e * r)
            mq = np.einsum("ij,ij->i", m1 @ iinv, m1)
            mpart = m1.T @ (d * mq)
            u = u + penalty * (part3 - part1 - 2.0 * part2 + 2.0 * mpart)
        if p == 1:
            det = float(info[0, 0])
        else:
            det = float(np.linalg.det(info))
            if not det >= _DLOWEST:
                det = _DLOWEST
                jcode = 2
        with np.errstate(invalid="ignore", divide="ignore"):
            xl += penalty * float(np.log(det))
    return xl, u, -info, jcode


def _inv(sd: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(-sd)
    except np.linalg.LinAlgError:
        return np.full(sd.shape, np.nan)


def _firthcox(dat: _Data, free: np.ndarray, maxit: int, maxhs: int, epsilon: float, gconv: float,
              maxstep: float) -> tuple[np.ndarray, float, float, np.ndarray, int, bool, int]:
    """``FIRTHCOX``: the penalised fit with the coefficients not ``free`` fixed at 0."""
    p = free.size
    b = np.zeros(p)
    fmask = free.astype(float)
    xl = 0.0
    xl_null = np.nan
    fd = np.zeros(p)
    sd = np.zeros((p, p))
    it = 0
    conv = False
    jcode = 0
    while not conv and it < maxit:
        it += 1
        b0 = b.copy()
        xl0 = xl
        if it == 1:
            xl, fd, sd, jcode = _like(dat, b)
            xl_null = xl
            if jcode >= 1:
                break
        vm = _inv(sd)
        if free.any():
            tt = vm @ (fd * fmask)
            tt = np.where(np.abs(tt) > maxstep, np.sign(tt) * maxstep, tt)
            b = np.where(free, b + tt, b)
            xl, fd, sd, jcode = _like(dat, b)
            ihs = 0
            while xl <= xl0 and it != 1 and ihs <= maxhs:
                ihs += 1
                b = np.where(free, (b + b0) / 2, b)
                xl, fd, sd, jcode = _like(dat, b)
        conv = True
        if free.any():
            with np.errstate(invalid="ignore"):
                if np.any(np.abs(b - b0) > epsilon) or np.any(np.abs(fd) * fmask > gconv):
                    conv = False
            if not (np.isfinite(b).all() and np.isfinite(fd).all()):
                conv = False
    return b, xl, xl_null, _inv(sd), it, conv, jcode


def _profile_limit(dat: _Data, k: int, sign: float, bsave: np.ndarray, xgrad: np.ndarray,
                   xvm: np.ndarray, xl0: float, maxit: int, crili: float,
                   maxstep: float) -> tuple[float, int]:
    """One profile limit of coefficient ``k`` (``PLCOMP``'s inner loop)."""
    p = bsave.size
    xe = np.zeros(p)
    xe[k] = 1.0
    lam = 0.0
    vm, fd, b = xvm, xgrad.copy(), bsave.copy()
    it = 0
    conv = False
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        while not conv:
            it += 1
            delta = vm @ (fd + lam * xe)
            delta = np.where(np.abs(delta) > maxstep, np.copysign(maxstep, delta), delta)
            b = b + delta
            xl, fd, sd, _ = _like(dat, b)
            vm = _inv(sd)
            gvg = float(fd @ vm @ fd)
            lam = sign * np.sqrt(-(2.0 * (xl0 - xl - 0.5 * gvg) / vm[k, k]))
            conv = bool(abs(xl0 - xl) <= crili)
            g = fd + lam * xe
            c2 = float(g @ vm @ g)
            if c2 > crili:
                conv = False
            if it == maxit:
                conv = True
    return float(b[k]), it


def coxphf(
    time: Any,
    event: Any,
    X: Any,
    names: list[str] | tuple[str, ...],
    conf_level: float = 0.95,
    *,
    maxit: int = MAXIT,
    maxhs: int = MAXHS,
    epsilon: float = EPSILON,
    gconv: float = GCONV,
    maxstep: float = MAXSTEP,
) -> FirthCoxResult:
    """Fit Firth's penalised Cox model as ``coxphf(Surv(time, event) ~ X, pl = TRUE)``.

    ``time`` > 0, ``event`` 0/1, ``X`` (n, p) with NaN for missing (rows excluded and counted);
    ``conf_level`` = 1 - ``alpha``. The other arguments are ``coxphf``'s.

    Examples
    --------
    Monotone likelihood: every patient with x = 1 fails before every patient with x = 0, so
    ``coxph`` diverges, while the penalised estimate is finite.

    >>> import numpy as np
    >>> fit = coxphf(np.array([1., 2, 3, 4, 5, 6]), np.array([1, 1, 1, 0, 1, 0]),
    ...              np.array([[1.], [1], [0], [0], [0], [0]]), ["x"])
    >>> bool(np.isfinite(fit.coef[0])), bool(fit.coef[0] > 0), fit.converged
    (True, True, True)
    """
    if not (0.0 < float(conf_level) < 1.0):
        raise CartregError(f"conf_level must be between 0 and 1, not {conf_level!r}")
    names = tuple(str(s) for s in names)
    Xa = np.asarray(X, dtype=float)
    if Xa.ndim == 1:
        Xa = Xa.reshape(-1, 1)
    t_all = np.asarray(time, dtype=float)
    if Xa.shape != (t_all.shape[0], len(names)) or not names:
        raise CartregError(f"X has shape {Xa.shape}, expected ({t_all.shape[0]}, {len(names)}) "
                           "with at least one covariate")
    ev_all = np.asarray(event, dtype=float)
    cc = complete_cases(t_all, ev_all, Xa)
    t, ev, Xc = cc.arrays
    if t.size == 0:
        raise CartregError("no complete rows for Firth's Cox model")
    if not np.isin(ev, (0.0, 1.0)).all():
        raise CartregError("event must be 0/1")
    if not (np.isfinite(t).all() and (t > 0).all()):
        raise CartregError("Firth's Cox model needs finite times > 0 (coxphf's Fortran drops an "
                           "event at time 0 from its own risk set)")
    sd = Xc.std(axis=0, ddof=1) if t.size > 1 else np.zeros(Xc.shape[1])
    if not (sd > 0).all():
        bad = [names[j] for j in np.flatnonzero(~(sd > 0))]
        raise CartregError(f"covariate {', '.join(bad)} is constant among the rows used: "
                           "Firth's Cox model cannot scale it (coxphf divides by the SD)")
    order = np.lexsort((-ev, t))  # as decomposeSurv: by time, events first
    t, ev, xs = t[order], ev[order], Xc[order] / sd
    newg = np.concatenate(([True], t[1:] != t[:-1]))
    gfirst = np.flatnonzero(newg)
    grp = np.cumsum(newg) - 1
    d = np.bincount(grp, weights=ev, minlength=gfirst.size)
    evr = np.flatnonzero(ev == 1)
    dat = _Data(x=xs, gfirst=gfirst, grp=grp, d=d, xev=xs[evr].sum(axis=0), ev=evr)
    p = len(names)
    warnings: list[str] = []
    if evr.size == 0:
        raise CartregError("no events: Firth's Cox model cannot be estimated")

    free = np.ones(p, bool)
    b, xl, xl_null, vm, it, conv, jcode = _firthcox(dat, free, maxit, maxhs, epsilon, gconv, maxstep)
    if jcode:
        warnings.append("numerical problem in parameter estimation (determinant of the information "
                        "near 0; coxphf warns the same)")
    if it >= maxit:
        warnings.append(f"convergence for parameter estimation not attained in {maxit} iterations")
    # profile penalised-likelihood limits and penalised LR tests (PLCOMP)
    chi = float(special.chdtri(1, 1.0 - float(conf_level)))  # qchisq(1 - alpha, 1)
    xlmax, xgrad, xhess, _ = _like(dat, b)
    xvm = _inv(xhess)
    xl0 = xlmax - 0.5 * chi
    lims = np.full((p, 2), np.nan)
    iters = np.zeros((p, 3), dtype=int)
    for k in range(p):
        for j, sign in enumerate((-1.0, 1.0)):
            lims[k, j], iters[k, j] = _profile_limit(dat, k, sign, b, xgrad, xvm, xl0, maxit,
                                                     epsilon, maxstep)
    chi2 = np.full(p, np.nan)
    for k in range(p):
        fr = np.ones(p, bool)
        fr[k] = False
        _, xlr, _, _, itr, _, jr = _firthcox(dat, fr, maxit, maxhs, epsilon, gconv, maxstep)
        iters[k, 2] = itr
        chi2[k] = 2.0 * (xlmax - xlr)
    coef = b / sd
    var = vm / np.outer(sd, sd)
    with np.errstate(invalid="ignore", over="ignore"):
        lo = np.where(iters[:, 0] >= maxit, np.nan, np.exp(lims[:, 0] / sd))
        hi = np.where(iters[:, 1] >= maxit, np.nan, np.exp(lims[:, 1] / sd))
        pval = np.where(iters[:, 2] >= maxit, np.nan, special.chdtrc(1, np.maximum(chi2, 0.0)))
        se = np.sqrt(np.diag(var))
    if (iters >= maxit).any():
        warnings.append("convergence in estimating profile likelihood CI or P values not attained "
                        "for all terms (NA, as coxphf)")
    return FirthCoxResult(
        names=names, coef=coef, se=se, hr=np.exp(coef), ci_lower=lo, ci_upper=hi, chi2=chi2,
        p=pval, var=var, loglik_null=float(xl_null), loglik=float(xl), n=int(t.size),
        events=int(evr.size), excluded=cc.excluded, converged=bool(conv), iterations=int(it),
        ci_iterations=iters, conf_level=float(conf_level), warnings=tuple(warnings),
    )
