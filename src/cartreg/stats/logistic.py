"""Logistic regression as R ``glm(family = binomial)`` (R 4.2), with Wald and profile-likelihood
confidence intervals, and Firth's penalised logistic regression as R ``logistf``.

Estimand: log odds ratios ``beta`` in ``logit P(Y = 1 | x) = x' beta``.

* **Maximum likelihood** — iteratively reweighted least squares exactly as ``glm.fit``: start
  ``mu = (y + 0.5) / 2``; each step solves the weighted least-squares problem by QR; stop when
  ``|dev - dev_old| / (|dev| + 0.1) < 1e-8`` (``glm.control()``), at most 25 iterations, with
  step halving when the fitted probabilities leave (0, 1). ``logit`` link and its inverse with R's
  thresholds (``|eta| > 30``). Columns that are linear combinations of earlier ones are aliased
  (coefficient ``NaN``, R's ``NA``), as the pivoting QR of ``glm.fit`` (tolerance 1e-11).
* **Wald**: SE from ``(X'WX)^-1`` of the last IRLS step (``summary.glm``), ``z = b / SE``,
  ``P = 2 Phi(-|z|)``, CI ``b -/+ z_(1-a/2) SE`` (``confint.default``).
* **Profile likelihood CI** — ``confint(fit)`` of R 4.2-4.4 (MASS's ``profile.glm`` +
  ``confint.profile.glm``; R 4.4 moved the same code into ``stats``): the signed root deviance
  ``z(b) = sign(b - b_hat) sqrt(D(b) - D(b_hat))`` is evaluated on the grid
  ``b_hat +/- k (zmax / 5) SE``, ``k = 1..9`` until ``|z| >= zmax = qnorm(1 - (1 - level) / 8)``,
  each point refitted by ``glm.fit`` with that term as an offset, started from the previous
  point's linear predictor; an interpolating cubic spline (``spline()``, Forsythe-Malcolm-Moler
  end conditions, ``3 m`` points) is drawn through ``(b, z)`` and inverted by linear interpolation
  at ``qnorm(a/2)`` and ``qnorm(1 - a/2)``. This reproduces what R returns (including its small
  interpolation error relative to the exact root of the profile); ``ci_profile_exact`` gives the
  exact roots for comparison.
* **Firth** (Firth 1993; Heinze & Schemper 2002), as ``logistf``: maximises
  ``l(beta) + 1/2 log |X'WX|`` by Newton-Raphson on the modified score
  ``X'(y - mu + h (1/2 - mu))`` with step halving; SE from the inverse of ``logistf``'s augmented
  information ``X' diag(w (1 + h)) X`` (``vcov(logistf(...))``); CIs and P from
  the profile penalised likelihood (``2 (PL_max - PL(b_j = c)) <= qchisq(level, 1)``; P for
  ``b_j = 0``), found here to 1e-10 by Brent's method. ``logistf``'s defaults stop at 1e-5; the
  R reference uses its own tightened controls (see ``scripts/r-reference/logistic.R``).

>>> import numpy as np
>>> x = np.array([1., 2, 3, 4, 5, 6, 7, 8]); y = np.array([0., 0, 1, 0, 1, 0, 1, 1])
>>> fit = logistic_fit(y, x[:, None], ["x"])
>>> [round(float(b), 8) for b in fit.coef]   # glm(y ~ x, binomial): -2.6733796209 0.5940843602
[-2.67337962, 0.59408436]
>>> [round(float(b), 8) for b in fit.ci_profile_upper]   # confint(): 0.812291419 1.762220122
[0.81229142, 1.76222012]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
from scipy import special

from cartreg.errors import CartregError

__all__ = ["LogisticResult", "logistic", "logistic_fit", "logistic_design"]

_EPS = float(np.finfo(float).eps)
_THRESH = 30.0
_INVEPS = 1.0 / _EPS


def _brentq(*args: Any, **kwargs: Any) -> float:
    from scipy.optimize import brentq  # imported on use: keeps ``import cartreg.stats`` light

    return float(brentq(*args, **kwargs))


# ---- the binomial family with R's numerics -----------------------------------------------------

def _linkinv(eta: np.ndarray) -> np.ndarray:
    t = np.where(eta < -_THRESH, _EPS, np.where(eta > _THRESH, _INVEPS, np.exp(np.clip(eta, -_THRESH, _THRESH))))
    return t / (1.0 + t)


def _mu_eta(eta: np.ndarray) -> np.ndarray:
    e = np.exp(np.clip(eta, -_THRESH, _THRESH))
    out = e / ((1.0 + e) * (1.0 + e))
    return np.where((eta > _THRESH) | (eta < -_THRESH), _EPS, out)


def _dev(y: np.ndarray, mu: np.ndarray, w: np.ndarray | None = None) -> float:
    """Binomial deviance for 0/1 ``y``: ``-2 sum w [y log mu + (1 - y) log(1 - mu)]``."""
    with np.errstate(divide="ignore"):
        r = np.where(y > 0, np.log(mu), np.log1p(-mu))
    return float(-2.0 * (r.sum() if w is None else (w * r).sum()))


@dataclass
class _Fit:
    coef: np.ndarray
    deviance: float
    iterations: int
    converged: bool
    boundary: bool
    cov: np.ndarray
    eta: np.ndarray
    mu: np.ndarray


def _aliased(X: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    """Columns that are (numerically) linear combinations of earlier columns, as R's ``dqrdc2``
    limited pivoting moves them to the end (``coef`` NA). Computed from the Gram matrix (one pass
    over the data): a sequential Cholesky of ``X'X`` scaled to unit diagonal, where a column whose
    remaining norm falls below ``tol`` (relative) is aliased. R's QR uses 1e-11 on the norm; the
    Gram matrix squares the condition number, so 1e-7 is the resolvable equivalent — the two differ
    only for columns collinear to between 1e-11 and 1e-7, which a registry design does not have."""
    p = X.shape[1]
    if p == 0:
        return np.zeros(0, dtype=bool)
    G = X.T @ X
    d = np.sqrt(np.diag(G))
    out = d == 0
    ds = np.where(out, 1.0, d)
    C = G / np.outer(ds, ds)
    kept: list[int] = []
    L = np.zeros((p, p))
    for j in range(p):
        if out[j]:
            continue
        if kept:
            lk = L[np.ix_(kept, kept)]
            v = np.linalg.solve(lk, C[kept, j])
            r2 = C[j, j] - v @ v
        else:
            v = np.zeros(0)
            r2 = C[j, j]
        if r2 <= tol * tol:
            out[j] = True
            continue
        L[j, kept] = v
        L[j, j] = np.sqrt(r2)
        kept.append(j)
    return out


def _wls(X: np.ndarray, z: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares ``argmin sum w (z - X b)^2`` and ``(X'WX)^-1``.

    R's ``Cdqrls`` uses a Householder QR of ``sqrt(w) X``; here the normal equations are solved by
    Cholesky after scaling the columns to unit weighted norm (equilibration), which is much faster
    at 10^6 rows and agrees with the QR solution to ~1e-12 relative for the well-conditioned
    designs of a registry (tests compare with R to 1e-6 or tighter).
    """
    Xw = X * w[:, None]
    A = Xw.T @ X
    b = Xw.T @ z
    d = np.sqrt(np.diag(A))
    d = np.where(d > 0, d, 1.0)
    As = A / np.outer(d, d)
    try:
        c = np.linalg.cholesky(As)
    except np.linalg.LinAlgError:
        raise CartregError("logistic regression: the weighted design is singular", 1) from None
    cinv = np.linalg.inv(c)
    inv_s = cinv.T @ cinv
    inv = inv_s / np.outer(d, d)
    return inv @ b, inv


def _irls(X: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None,
          etastart: np.ndarray | None = None, epsilon: float = 1e-8, maxit: int = 25) -> _Fit:
    """``glm.fit(x, y, family = binomial(), offset, etastart)`` for full-rank ``X`` (may have 0
    columns)."""
    n, p = X.shape
    off = np.zeros(n) if offset is None else offset
    if etastart is None:
        mustart = (y + 0.5) / 2.0
        eta = np.log(mustart / (1.0 - mustart))
    else:
        eta = etastart.astype(float).copy()
    mu = _linkinv(eta)
    devold = _dev(y, mu)
    coef = np.zeros(p)
    coefold: np.ndarray | None = None
    cov = np.full((p, p), np.nan)
    conv = boundary = False
    it = 0
    if p == 0:
        eta = off.copy()
        mu = _linkinv(eta)
        return _Fit(coef, _dev(y, mu), 0, True, False, cov, eta, mu)
    for it in range(1, maxit + 1):
        me = _mu_eta(eta)
        var = mu * (1.0 - mu)
        good = me != 0
        z = (eta - off) + (y - mu) / me
        w = np.sqrt(me * me / var)
        if not good.all():
            Xg, zg, wg = X[good], z[good], w[good]
        else:
            Xg, zg, wg = X, z, w
        start, cov_r = _wls(Xg, zg, wg * wg)
        eta = X @ start + off
        mu = _linkinv(eta)
        dev = _dev(y, mu)
        boundary = False
        if not np.isfinite(dev) or not (np.all(mu > 0) and np.all(mu < 1)):
            if coefold is None:
                raise CartregError("logistic regression: no valid set of coefficients has been found", 1)
            ii = 1
            while not np.isfinite(dev) or not (np.all(mu > 0) and np.all(mu < 1)):
                if ii > maxit:
                    raise CartregError("logistic regression: inner loop; cannot correct step size", 1)
                ii += 1
                start = (start + coefold) / 2
                eta = X @ start + off
                mu = _linkinv(eta)
                dev = _dev(y, mu)
            boundary = True
        coef = start
        if abs(dev - devold) / (abs(dev) + 0.1) < epsilon:
            conv = True
            cov = cov_r
            break
        devold = dev
        coefold = start
        cov = cov_r
    return _Fit(coef, dev, it, conv, boundary, cov, eta, mu)


# ---- R's spline() (fmm) and approx() for confint.profile.glm -----------------------------------

def _fmm_coef(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forsythe, Malcolm & Moler cubic spline coefficients (R ``spline_coef``, method "fmm")."""
    n = x.size
    b = np.zeros(n)
    c = np.zeros(n)
    d = np.zeros(n)
    if n < 2:
        return b, c, d
    if n < 3:
        t = (y[1] - y[0])
        b[0] = t / (x[1] - x[0])
        b[1] = b[0]
        return b, c, d
    nm1 = n - 1
    d[0] = x[1] - x[0]
    c[1] = (y[1] - y[0]) / d[0]
    for i in range(1, nm1):
        d[i] = x[i + 1] - x[i]
        b[i] = 2.0 * (d[i - 1] + d[i])
        c[i + 1] = (y[i + 1] - y[i]) / d[i]
        c[i] = c[i + 1] - c[i]
    b[0] = -d[0]
    b[nm1] = -d[n - 2]
    c[0] = c[nm1] = 0.0
    if n > 3:
        c[0] = c[2] / (x[3] - x[1]) - c[1] / (x[2] - x[0])
        c[nm1] = c[n - 2] / (x[nm1] - x[n - 3]) - c[n - 3] / (x[n - 2] - x[n - 4])
        c[0] = c[0] * d[0] * d[0] / (x[3] - x[0])
        c[nm1] = -c[nm1] * d[n - 2] * d[n - 2] / (x[nm1] - x[n - 4])
    for i in range(1, n):
        t = d[i - 1] / b[i - 1]
        b[i] = b[i] - t * d[i - 1]
        c[i] = c[i] - t * c[i - 1]
    c[nm1] = c[nm1] / b[nm1]
    for i in range(n - 2, -1, -1):
        c[i] = (c[i] - d[i] * c[i + 1]) / b[i]
    b[nm1] = (y[nm1] - y[n - 2]) / d[n - 2] + d[n - 2] * (c[n - 2] + 2.0 * c[nm1])
    for i in range(0, nm1):
        b[i] = (y[i + 1] - y[i]) / d[i] - d[i] * (c[i + 1] + 2.0 * c[i])
        d[i] = (c[i + 1] - c[i]) / d[i]
        c[i] = 3.0 * c[i]
    c[nm1] = 3.0 * c[nm1]
    d[nm1] = d[n - 2]
    return b, c, d


def _spline(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R ``spline(x, y)``: ``n = 3 length(x)`` equally spaced points over ``range(x)``."""
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    ux, inv = np.unique(x, return_inverse=True)  # ties = mean
    if ux.size < x.size:
        y = np.bincount(inv, weights=y) / np.bincount(inv)
        x = ux
    nout = 3 * x.size
    xout = np.linspace(x[0], x[-1], nout)
    b, c, d = _fmm_coef(x, y)
    i = np.searchsorted(x, xout, side="right") - 1
    i = np.clip(i, 0, x.size - 1)
    dx = xout - x[i]
    return xout, y[i] + dx * (b[i] + dx * (c[i] + dx * d[i]))


def _approx(x: np.ndarray, y: np.ndarray, xout: float) -> float:
    """R ``approx(x, y, xout)$y`` (linear, ties averaged, NA outside the range)."""
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    ux, inv = np.unique(x, return_inverse=True)
    if ux.size < x.size:
        y = np.bincount(inv, weights=y) / np.bincount(inv)
        x = ux
    if x.size == 0 or xout < x[0] or xout > x[-1]:
        return float("nan")
    return float(np.interp(xout, x, y))


def _profile_ci_mass(X: np.ndarray, y: np.ndarray, fit: _Fit, j: int, level: float,
                     se: float) -> tuple[float, float]:
    """``confint(glm)`` (MASS ``profile.glm`` + ``confint.profile.glm``) for column ``j``."""
    alpha = (1 - level) / 4
    zmax = float(np.sqrt(special.chdtri(1, alpha)))
    delta = zmax / 5
    maxsteps = 10
    Xi = np.delete(X, j, axis=1)
    zs = [0.0]
    bs = [float(fit.coef[j])]
    lp0 = X @ fit.coef
    for sgn in (-1.0, 1.0):
        step = 0
        z = 0.0
        lp = lp0
        while True:
            step += 1
            if not (step < maxsteps and abs(z) < zmax):
                break
            bi = fit.coef[j] + sgn * step * delta * se
            off = X[:, j] * bi
            fm = _irls(Xi, y, offset=off, etastart=lp)
            lp = Xi @ fm.coef + off
            zz = fm.deviance - fit.deviance
            if zz > -0.001:
                zz = max(zz, 0.0)
            else:
                raise CartregError("profiling has found a better solution, so the original fit had not "
                                   "converged", 1)
            z = sgn * np.sqrt(zz)
            zs.append(float(z))
            bs.append(float(bi))
    zs_a, bs_a = np.array(zs), np.array(bs)
    order = np.argsort(zs_a, kind="stable")
    sx, sy = _spline(bs_a[order], zs_a[order])
    a = (1 - level) / 2
    return _approx(sy, sx, float(special.ndtri(a))), _approx(sy, sx, float(special.ndtri(1 - a)))


def _profile_ci_exact(X: np.ndarray, y: np.ndarray, fit: _Fit, j: int, level: float,
                      se: float) -> tuple[float, float]:
    """The exact roots of ``D(b_j) - D(b_hat) = qchisq(level, 1)`` (for comparison)."""
    q = float(special.chdtri(1, 1 - level))
    Xi = np.delete(X, j, axis=1)
    lp0 = X @ fit.coef

    def f(b: float) -> float:
        off = X[:, j] * b
        fm = _irls(Xi, y, offset=off, etastart=lp0, epsilon=1e-14, maxit=100)
        return fm.deviance - fit.deviance - q

    out = []
    for sgn in (-1.0, 1.0):
        lo = fit.coef[j]
        step = se
        hi = lo + sgn * step
        k = 0
        while f(hi) < 0:
            k += 1
            if k > 60:
                out.append(float("nan"))
                break
            lo, hi = hi, hi + sgn * step
            step *= 1.5
        else:
            out.append(float(_brentq(f, min(lo, hi), max(lo, hi), xtol=1e-12, rtol=1e-12)))
    return out[0], out[1]


# ---- Firth --------------------------------------------------------------------------------------

def _firth_fit(X: np.ndarray, y: np.ndarray, fixed: np.ndarray | None = None,
               start: np.ndarray | None = None, maxit: int = 200, maxhs: int = 15, maxstep: float = 5.0,
               tol: float = 1e-11) -> tuple[np.ndarray, float, np.ndarray, int, bool]:
    """Maximise the penalised log-likelihood; ``fixed`` marks coefficients held at their start
    value (for the profile). Returns beta, penalised loglik, inverse information, iterations,
    converged."""
    n, p = X.shape
    beta = np.zeros(p) if start is None else start.astype(float).copy()
    free = np.ones(p, dtype=bool) if fixed is None else ~fixed

    def evaluate(b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        eta = X @ b
        mu = _linkinv(eta)
        w = mu * (1.0 - mu)
        info = (X * w[:, None]).T @ X
        sign, logdet = np.linalg.slogdet(info)
        with np.errstate(divide="ignore"):
            ll = float(np.sum(np.where(y > 0, np.log(mu), np.log1p(-mu))))
        pl = ll + 0.5 * logdet if sign > 0 else -np.inf
        return pl, mu, w, info

    pl, mu, w, info = evaluate(beta)
    conv = False
    it = 0
    for it in range(1, maxit + 1):
        cov = np.linalg.inv(info)
        h = np.einsum("ij,ij->i", X @ cov, X) * w
        score = X.T @ (y - mu + h * (0.5 - mu))
        sub = np.ix_(free, free)
        delta = np.zeros(p)
        if free.any():
            # logistf's Newton matrix: the augmented information X' diag(w (1 + h)) X
            aug = (X * (w * (1.0 + h))[:, None]).T @ X
            delta[free] = np.linalg.solve(aug[sub], score[free])
        mx = np.max(np.abs(delta)) if delta.size else 0.0
        if mx > maxstep:
            delta *= maxstep / mx
        new = beta + delta
        pl_new, mu_n, w_n, info_n = evaluate(new)
        hs = 0
        while (not np.isfinite(pl_new) or pl_new < pl - 1e-12 * max(1.0, abs(pl))) and hs < maxhs:
            hs += 1
            delta /= 2
            new = beta + delta
            pl_new, mu_n, w_n, info_n = evaluate(new)
        beta, pl, mu, w, info = new, pl_new, mu_n, w_n, info_n
        if np.max(np.abs(delta)) <= tol:
            conv = True
            break
    # logistf's vcov: the inverse of the "augmented" information X' diag(w (1 + h)) X (its Newton
    # matrix, weights 1 + 2 tau h with tau = 1/2), not of X'WX
    cov = np.linalg.inv(info)
    h = np.einsum("ij,ij->i", X @ cov, X) * w
    aug = (X * (w * (1.0 + h))[:, None]).T @ X
    return beta, pl, np.linalg.inv(aug), it, conv


def _firth_profile(X: np.ndarray, y: np.ndarray, beta: np.ndarray, pl_max: float, j: int,
                   value: float, cache: list[tuple[float, np.ndarray]] | None = None) -> float:
    """The profile penalised log-likelihood at ``b_j = value``: the maximum over the other
    coefficients. The constrained problem can have several local maxima near separation, so it is
    started from the full fit and from the two cached solutions nearest in ``b_j`` (continuation),
    and the best is kept."""
    fixed = np.zeros(X.shape[1], dtype=bool)
    fixed[j] = True
    starts = [beta.copy()]
    if cache:
        near = sorted(cache, key=lambda c: abs(c[0] - value))[:2]
        starts += [c[1].copy() for c in near]
    best_pl, best_b = -np.inf, None
    for st in starts:
        st[j] = value
        b, pl, _, _, _ = _firth_fit(X, y, fixed=fixed, start=st)
        if pl > best_pl:
            best_pl, best_b = pl, b
    if cache is not None and best_b is not None:
        cache.append((value, best_b))
    return best_pl


def _firth_ci(X: np.ndarray, y: np.ndarray, beta: np.ndarray, pl_max: float, j: int, level: float,
              se: float) -> tuple[float, float]:
    q = float(special.chdtri(1, 1 - level))
    out = []
    for sgn in (-1.0, 1.0):
        cache: list[tuple[float, np.ndarray]] = []

        def f(b: float) -> float:
            return 2.0 * (pl_max - _firth_profile(X, y, beta, pl_max, j, b, cache)) - q

        lo = beta[j]
        step = max(se, 1e-3) / 2
        hi = lo + sgn * step
        k = 0
        ok = True
        while f(hi) < 0:
            k += 1
            if k > 80:
                ok = False
                break
            lo, hi = hi, hi + sgn * step
            step *= 1.3
        out.append(float(_brentq(f, min(lo, hi), max(lo, hi), xtol=1e-12, rtol=1e-12))
                   if ok else float("nan"))
    return out[0], out[1]


# ---- result --------------------------------------------------------------------------------------

def _num(x: float) -> float | None:
    f = float(x)
    return f if np.isfinite(f) else None


@dataclass(frozen=True, eq=False)
class LogisticResult:
    """A fitted logistic regression (one row per coefficient, the intercept first).

    ``coef`` log odds ratios (NaN for an aliased column); ``se``; ``odds_ratio = exp(coef)``;
    ``ci_lower``/``ci_upper`` Wald (``confint.default``); ``ci_profile_lower``/``upper`` the
    profile-likelihood CI (``confint``: MASS's algorithm for ML, the profile penalised likelihood
    for Firth); ``z`` and ``p`` (Wald for ML, penalised likelihood ratio for Firth); ``n`` rows
    used, ``events``, ``excluded`` rows with a missing value; ``deviance``, ``null_deviance``,
    ``aic`` (ML; for Firth ``deviance = -2 x penalised loglik`` and ``aic`` is ``None``);
    ``method`` ``"glm"`` or ``"firth"``; ``fitted`` the fitted probabilities of the rows used.
    """

    names: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    odds_ratio: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    ci_profile_lower: np.ndarray
    ci_profile_upper: np.ndarray
    z: np.ndarray
    p: np.ndarray
    n: int
    events: int
    excluded: int
    deviance: float
    null_deviance: float
    aic: float | None
    df_residual: int
    iterations: int
    converged: bool
    method: str = "glm"
    conf_level: float = 0.95
    loglik: float = float("nan")
    ci_profile_exact_lower: np.ndarray | None = None
    ci_profile_exact_upper: np.ndarray | None = None
    warnings: tuple[str, ...] = field(default=())
    fitted: np.ndarray | None = field(default=None, repr=False)
    references: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``{n, events, excluded, terms[{term, coef, se, or, ci, ci_profile, p}], deviance,
        null_deviance, aic}`` (the JSON of ``cartreg logistic``), plus method details.

        ``ci`` is the interval R reports for the model: Wald (``confint.default``) for ``glm``, the
        profile penalised-likelihood CI for Firth (``logistf``; its Wald CI is then ``ci_wald``)."""
        terms = []
        with np.errstate(over="ignore"):
            return self._to_dict(terms)

    def _to_dict(self, terms: list[dict[str, Any]]) -> dict[str, Any]:
        for j, name in enumerate(self.names):
            t = {
                "term": name, "coef": _num(self.coef[j]), "se": _num(self.se[j]),
                "or": _num(self.odds_ratio[j]),
                "ci": [_num(np.exp(self.ci_lower[j])), _num(np.exp(self.ci_upper[j]))],
                "ci_profile": [_num(np.exp(self.ci_profile_lower[j])), _num(np.exp(self.ci_profile_upper[j]))],
                "p": _num(self.p[j]), "z": _num(self.z[j]), "aliased": bool(np.isnan(self.coef[j])),
                "ci_log": [_num(self.ci_lower[j]), _num(self.ci_upper[j])],
                "ci_profile_log": [_num(self.ci_profile_lower[j]), _num(self.ci_profile_upper[j])],
            }
            if self.method == "firth":
                # logistf reports the profile penalised-likelihood CI: that is the model's CI; the
                # Wald interval stays available as ci_wald
                t["ci_wald"], t["ci_wald_log"] = t["ci"], t["ci_log"]
                t["ci"], t["ci_log"] = t["ci_profile"], t["ci_profile_log"]
            if self.ci_profile_exact_lower is not None and self.ci_profile_exact_upper is not None:
                t["ci_profile_exact"] = [_num(np.exp(self.ci_profile_exact_lower[j])),
                                         _num(np.exp(self.ci_profile_exact_upper[j]))]
            terms.append(t)
        return {
            "n": self.n, "events": self.events, "excluded": self.excluded, "terms": terms,
            "deviance": _num(self.deviance), "null_deviance": _num(self.null_deviance),
            "aic": None if self.aic is None else _num(self.aic), "df_residual": self.df_residual,
            "method": self.method, "conf_level": self.conf_level, "iterations": self.iterations,
            "converged": self.converged, "loglik": _num(self.loglik), "warnings": list(self.warnings),
            "ci_scale": "odds ratio (exp of the coefficient scale)",
        }

    def to_frame(self) -> Any:
        """A tidy pandas DataFrame (``broom::tidy`` style: one row per term)."""
        import pandas as pd

        return pd.DataFrame({
            "term": list(self.names), "estimate": self.coef, "std_error": self.se, "statistic": self.z,
            "p_value": self.p, "odds_ratio": self.odds_ratio, "conf_low": np.exp(self.ci_lower),
            "conf_high": np.exp(self.ci_upper), "conf_low_profile": np.exp(self.ci_profile_lower),
            "conf_high_profile": np.exp(self.ci_profile_upper)})

    def __repr__(self) -> str:
        pct = f"{self.conf_level * 100:g}%"
        lines = [f"Logistic regression ({self.method}; n={self.n}, events={self.events}, excluded={self.excluded})",
                 f"  {'term':<24} {'OR':>9} {pct + ' CI (profile)':>24} {'P':>8}"]
        for j, name in enumerate(self.names):
            if np.isnan(self.coef[j]):
                lines.append(f"  {name:<24} {'aliased':>9}")
                continue
            p = "<.001" if self.p[j] < 0.001 else f"{self.p[j]:.3f}"
            lines.append(f"  {name:<24} {self.odds_ratio[j]:>9.4g} "
                         f"{np.exp(self.ci_profile_lower[j]):>11.4g}-{np.exp(self.ci_profile_upper[j]):<11.4g} {p:>8}")
        return "\n".join(lines)


def logistic_fit(
    y: np.ndarray,
    X: np.ndarray,
    names: Sequence[str],
    firth: bool = False,
    conf_level: float = 0.95,
    intercept: bool = True,
    profile: bool = True,
    exact_profile: bool = False,
    excluded: int = 0,
) -> LogisticResult:
    """Fit ``logit P(y = 1) = b0 + X b`` on complete 0/1 ``y`` and float ``X`` (n x p).

    ``firth=True`` fits Firth's penalised model as ``logistf``. ``profile=False`` skips the
    profile-likelihood CIs (NaN). ``exact_profile=True`` adds the exact profile roots of the ML
    fit (``ci_profile_exact_*``). Rows with a missing value must be removed first (see
    :func:`logistic`); ``excluded`` is carried into the result.
    """
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    if X.shape[0] != y.shape[0]:
        raise CartregError(f"outcome has {y.shape[0]} rows, covariates {X.shape[0]}", 2)
    if not (0 < conf_level < 1):
        raise CartregError("conf_level must be between 0 and 1", 2)
    if np.isnan(y).any() or np.isnan(X).any():
        raise CartregError("logistic_fit needs complete data (use logistic() to drop missing rows)", 2)
    if not np.isin(y, (0.0, 1.0)).all():
        raise CartregError("the outcome must be 0/1", 1)
    n = y.size
    names = list(names)
    if intercept:
        X = np.column_stack((np.ones(n), X))
        names = ["(Intercept)", *names]
    p = X.shape[1]
    if n == 0:
        raise CartregError("no complete rows to fit", 1)
    ev = int(y.sum())
    if ev == 0 or ev == n:
        raise CartregError(f"the outcome has {'no events' if ev == 0 else 'no non-events'}: "
                           "a logistic model cannot be fitted", 1)
    alias = _aliased(X)
    Xa = X[:, ~alias] if alias.any() else X  # no copy of a full-rank design
    warnings: list[str] = []
    if alias.any():
        warnings.append("aliased (linearly dependent) columns: " + ", ".join(np.array(names)[alias]))
    pa = Xa.shape[1]
    full = lambda v: _expand(v, alias)  # noqa: E731
    z_a = special.ndtri(1 - (1 - conf_level) / 2)
    null_mu = np.full(n, y.mean()) if intercept else np.full(n, 0.5)
    null_dev = _dev(y, null_mu)

    if not firth:
        fit = _irls(Xa, y)
        if not fit.converged:
            warnings.append("glm.fit: algorithm did not converge")
        if fit.boundary:
            warnings.append("glm.fit: algorithm stopped at boundary value")
        separated = bool(np.any(fit.mu > 1 - 10 * _EPS) or np.any(fit.mu < 10 * _EPS))
        if separated:
            warnings.append("glm.fit: fitted probabilities numerically 0 or 1 occurred")
            if profile:
                warnings.append("profile-likelihood CIs not computed: the fit separates the outcome "
                                "(R's confint fails here); use Firth's method (--firth)")
                profile = False
        se = np.sqrt(np.diag(fit.cov))
        zval = fit.coef / se
        pval = 2 * special.ndtr(-np.abs(zval))
        lo, hi = fit.coef - z_a * se, fit.coef + z_a * se
        plo = np.full(pa, np.nan)
        phi = np.full(pa, np.nan)
        elo = ehi = None
        if profile:
            for j in range(pa):
                plo[j], phi[j] = _profile_ci_mass(Xa, y, fit, j, conf_level, float(se[j]))
        if exact_profile:
            elo, ehi = np.full(pa, np.nan), np.full(pa, np.nan)
            for j in range(pa):
                elo[j], ehi[j] = _profile_ci_exact(Xa, y, fit, j, conf_level, float(se[j]))
        loglik = -fit.deviance / 2
        return LogisticResult(
            names=tuple(names), coef=full(fit.coef), se=full(se), odds_ratio=np.exp(full(fit.coef)),
            ci_lower=full(lo), ci_upper=full(hi), ci_profile_lower=full(plo), ci_profile_upper=full(phi),
            z=full(zval), p=full(pval), n=n, events=ev, excluded=excluded, deviance=fit.deviance,
            null_deviance=null_dev, aic=fit.deviance + 2 * pa, df_residual=n - pa,
            iterations=fit.iterations, converged=fit.converged, method="glm", conf_level=conf_level,
            loglik=loglik, ci_profile_exact_lower=None if elo is None else full(elo),
            ci_profile_exact_upper=None if ehi is None else full(ehi), warnings=tuple(warnings),
            fitted=fit.mu)

    beta, pl, cov, it, conv = _firth_fit(Xa, y)
    if not conv:
        warnings.append("Firth fit: did not converge")
    se = np.sqrt(np.diag(cov))
    lo, hi = beta - z_a * se, beta + z_a * se
    plo = np.full(pa, np.nan)
    phi = np.full(pa, np.nan)
    pval = np.full(pa, np.nan)
    for j in range(pa):
        pl0 = _firth_profile(Xa, y, beta, pl, j, 0.0)
        pval[j] = float(special.chdtrc(1, max(2.0 * (pl - pl0), 0.0)))
        if profile:
            plo[j], phi[j] = _firth_ci(Xa, y, beta, pl, j, conf_level, float(se[j]))
    mu = _linkinv(Xa @ beta)
    dev = _dev(y, mu)
    return LogisticResult(
        names=tuple(names), coef=full(beta), se=full(se), odds_ratio=np.exp(full(beta)),
        ci_lower=full(lo), ci_upper=full(hi), ci_profile_lower=full(plo), ci_profile_upper=full(phi),
        z=full(beta / se), p=full(pval), n=n, events=ev, excluded=excluded, deviance=dev,
        null_deviance=null_dev, aic=None, df_residual=n - pa, iterations=it, converged=conv,
        method="firth", conf_level=conf_level, loglik=pl, warnings=tuple(warnings), fitted=mu)


def _expand(v: np.ndarray, alias: np.ndarray) -> np.ndarray:
    out = np.full(alias.size, np.nan)
    out[~alias] = v
    return out


# ---- design from named columns ----------------------------------------------------------------

def _is_factor(values: np.ndarray) -> bool:
    arr = np.asarray(values)
    if arr.dtype.kind in "iuf":
        return False
    if arr.dtype.kind == "b":
        return True
    from cartreg.stats._data import is_missing

    present = arr[~is_missing(arr)]
    try:
        present.astype(float)
    except (TypeError, ValueError):
        return True
    return any(isinstance(v, (bool, np.bool_, str)) for v in present[:100].tolist())


def logistic_design(
    columns: Mapping[str, np.ndarray],
    reference_levels: Mapping[str, str] | None = None,
    factors: Sequence[str] = (),
) -> tuple[np.ndarray, list[str]]:
    """Design matrix (no intercept) of the covariates in ``columns``, in order: a numeric column as
    is; a text or boolean column (or one named in ``factors``) as a factor with treatment
    contrasts, terms ``COL=LEVEL``, reference = the first level in sorted order (R's) or
    ``reference_levels[COL]``. Missing values stay NaN."""
    from cartreg.stats.design import design_matrix

    reference_levels = dict(reference_levels or {})
    unknown = set(reference_levels) - set(columns)
    if unknown:
        raise CartregError(f"reference level given for a column that is not a covariate: "
                           f"{', '.join(sorted(unknown))}", 2)
    blocks: list[np.ndarray] = []
    names: list[str] = []
    for name, values in columns.items():
        arr = np.asarray(values)
        if arr.dtype.kind == "b":
            arr = np.where(arr, "TRUE", "FALSE").astype(object)
        if name in factors or _is_factor(arr) or name in reference_levels:
            X, nm = design_matrix(arr, reference_levels.get(name), group_name=name)
        elif arr.dtype.kind == "f":  # fast path: a float column is its own design column
            if np.isinf(arr).any():
                raise CartregError(f"covariate {name!r} has infinite values")
            X, nm = arr[:, None], [str(name)]
        else:
            X, nm = design_matrix(None, numeric={name: arr})
        blocks.append(X)
        names.extend(nm)
    n = len(next(iter(columns.values()))) if columns else 0
    from cartreg.stats._data import fill_columns

    out = np.empty((n, sum(b.shape[1] for b in blocks)))
    fill_columns(out, blocks)  # one allocation, filled by row slabs (np.column_stack is slower)
    return out, names


def outcome_01(values: np.ndarray, name: str = "outcome") -> tuple[np.ndarray, str | None]:
    """The outcome as float 0/1 with NaN where missing, and a note on how it was read.

    Numbers must be 0/1; booleans and yes/no, true/false words (any case) are read as 1/0; any
    other two-level text column is read as R reads a factor response: the second level (sorted) is
    the event."""
    from cartreg.stats._data import is_missing

    arr = np.asarray(values)
    miss = is_missing(arr)
    if arr.dtype.kind in "iuf":
        v = arr.astype(float)
        bad = ~miss & ~np.isin(v, (0.0, 1.0))
        if bad.any():
            raise CartregError(f"outcome {name!r} must be 0/1; found {v[np.argmax(bad)]!r}", 1)
        return np.where(miss, np.nan, v), None
    if arr.dtype.kind == "b":
        return arr.astype(float), None
    from cartreg.stats.km import factor

    f = factor(arr)  # distinct labels once (no loop over rows)
    true_w, false_w = ("1", "yes", "true", "1.0"), ("0", "no", "false", "0.0")
    words = [lev.strip().lower() for lev in f.levels]
    if words and all(w in true_w + false_w for w in words):
        per_level = np.array([1.0 if w in true_w else 0.0 for w in words])
        out = np.where(f.codes < 0, np.nan, per_level[np.maximum(f.codes, 0)])
        return out, None
    levels = list(f.levels)
    if len(levels) != 2:
        raise CartregError(f"outcome {name!r} must be 0/1, yes/no, true/false or have exactly two "
                           f"levels; found {len(levels)} levels", 1)
    out = np.where(f.codes < 0, np.nan, (f.codes == 1).astype(float))
    return out, f"outcome {name!r}: {levels[1]!r} is the event, {levels[0]!r} the reference (as R)"


def complete_columns(y: np.ndarray, columns: Mapping[str, np.ndarray]
                     ) -> tuple[dict[str, np.ndarray], np.ndarray, int]:
    """The covariate columns restricted to rows with no missing value in ``y`` or any column, the
    row mask and the number of rows dropped. Factor levels are then taken from these rows only, as
    R's ``model.frame(..., drop.unused.levels = TRUE)`` after ``na.omit`` does in ``glm``."""
    from cartreg.stats._data import is_missing

    bad = np.isnan(np.asarray(y, dtype=float))
    for v in columns.values():
        bad = bad | is_missing(np.asarray(v))
    keep = ~bad
    if keep.all():
        return dict(columns), keep, 0
    return {k: np.asarray(v)[keep] for k, v in columns.items()}, keep, int(bad.sum())


def complete_rows(y: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``(y, X, keep, excluded)`` without rows holding a NaN (R's ``na.omit``); no copy when
    nothing is missing."""
    bad = np.isnan(y) | np.isnan(X).any(axis=1)
    if not bad.any():
        return y, X, ~bad, 0
    keep = ~bad
    return y[keep], X[keep], keep, int(bad.sum())


def logistic(
    outcome: str,
    covariates: Sequence[str],
    data: Any,
    reference_levels: Mapping[str, str] | None = None,
    firth: bool = False,
    factors: Sequence[str] = (),
    conf_level: float = 0.95,
    profile: bool = True,
) -> LogisticResult:
    """Logistic regression of ``outcome`` on ``covariates`` from a DataFrame (pandas, polars) or
    a mapping of arrays; rows with a missing value in any column used are excluded and counted,
    as R's ``na.omit``. See :func:`logistic_fit` and :func:`logistic_design`.
    """
    from cartreg.stats._frame import column

    if not covariates:
        raise CartregError("give at least one covariate", 2)
    y, note = outcome_01(column(data, outcome), outcome)
    cols, keep, excluded = complete_columns(y, {c: column(data, c) for c in covariates})
    X, names = logistic_design(cols, reference_levels, factors)
    yy = y if keep.all() else y[keep]
    XX = X
    if keep.sum() == 0:
        raise CartregError("no complete rows: every row misses the outcome or a covariate", 1)
    res = logistic_fit(yy, XX, names, firth=firth, conf_level=conf_level, profile=profile,
                       excluded=excluded)
    if note:
        object.__setattr__(res, "warnings", (*res.warnings, note))
    return res
