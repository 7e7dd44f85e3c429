"""Renyi-DP curves of the mechanisms in ``dp.events`` and the RDP -> (epsilon, delta) conversion.

Pure functions over numpy arrays of orders; no state. All sums are taken in log space.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
from scipy.special import gammaln, logsumexp

#: Opacus' orders (1.1..10.9 by 0.1, 12..63) plus finer small orders and integer orders up to 4096,
#: a superset of Opacus' and dp-accounting's defaults so the minimum over orders is never looser.
DEFAULT_ORDERS: np.ndarray = np.unique(
    np.concatenate(
        [
            1.0 + np.arange(1, 10) / 100.0,
            1.0 + np.arange(1, 100) / 10.0,
            np.arange(11, 64, dtype=float),
            np.arange(64, 256, 4, dtype=float),
            np.arange(256, 1024, 32, dtype=float),
            np.array([1024.0, 1536.0, 2048.0, 3072.0, 4096.0]),
        ]
    )
)


def _log_binom(alpha: float, k: np.ndarray) -> np.ndarray:
    """log C(alpha, k) for integer alpha >= k >= 0."""
    return gammaln(alpha + 1) - gammaln(k + 1) - gammaln(alpha - k + 1)


def _log_a_int(q: float, sigma: float, alphas: np.ndarray) -> np.ndarray:
    """log A_alpha of the sampled Gaussian for integer orders (Mironov, Talwar, Zhang 2019, Sec. 3.3),
    vectorized over orders grouped by power-of-two size: row n sums k = 0..alphas[n]."""
    out = np.empty_like(alphas)
    size = np.ceil(np.log2(alphas)).astype(int)
    for b in np.unique(size):
        rows = size == b
        a = alphas[rows][:, None]
        k = np.arange((1 << int(b)) + 1, dtype=float)[None, :]
        with np.errstate(invalid="ignore"):
            terms = (
                gammaln(a + 1)
                - gammaln(k + 1)
                - gammaln(np.maximum(a - k, 0) + 1)
                + k * math.log(q)
                + (a - k) * math.log1p(-q)
                + (k * k - k) / (2 * sigma**2)
            )
        out[rows] = logsumexp(np.where(k <= a, terms, -np.inf), axis=1)
    return out


def _log_a_frac(q: float, sigma: float, alphas: np.ndarray) -> np.ndarray:
    """log A_alpha of the sampled Gaussian for fractional orders, from its integral form
    A_alpha = E_{z ~ N(0, s^2)} [(1 - q + q exp((2z - 1) / 2s^2))^alpha]
    (Mironov, Talwar, Zhang 2019, Sec. 3.3) by the trapezoid rule with step s/16 over
    [-12 s, max alpha + 12 s], which converges exponentially fast for this smooth, Gaussian-tailed
    integrand. A_alpha - 1 is integrated directly (expm1/log1p) so tiny values keep their digits."""
    a = alphas[:, None]
    h = sigma / 16
    z = np.arange(-12 * sigma, float(alphas.max()) + 12 * sigma + h, h)[None, :]
    t = a * np.log1p(q * np.expm1((2 * z - 1) / (2 * sigma**2)))  # log of the integrand's base^alpha
    with np.errstate(divide="ignore"):
        # log |expm1(t)|, split by sign of t
        log_mag = np.where(t > 0, t + np.log(-np.expm1(-np.abs(t))), np.log(-np.expm1(-np.abs(t))))
    log_w = log_mag - z**2 / (2 * sigma**2) - 0.5 * math.log(2 * math.pi) + math.log(h / sigma)
    pos = logsumexp(np.where(t > 0, log_w, -np.inf), axis=1)
    neg = logsumexp(np.where(t < 0, log_w, -np.inf), axis=1)
    with np.errstate(divide="ignore"):
        log_excess = pos + np.log1p(-np.exp(neg - pos))  # log(A - 1)
    return np.logaddexp(0.0, log_excess)


def rdp_sampled_gaussian(q: float, sigma: float, orders: np.ndarray) -> np.ndarray:
    """RDP of the Poisson-subsampled Gaussian mechanism at each order (Mironov, Talwar, Zhang 2019)."""
    orders = np.asarray(orders, dtype=float)
    if q == 0:
        return np.zeros_like(orders)
    if sigma == 0:
        return np.full_like(orders, np.inf)
    if q == 1:
        return orders / (2 * sigma**2)
    log_a = np.full_like(orders, np.inf)  # order inf: the sampled Gaussian is not pure DP
    finite = np.isfinite(orders)
    integer = finite & (orders == np.floor(orders))
    fractional = finite & ~integer
    if integer.any():
        log_a[integer] = _log_a_int(q, sigma, orders[integer])
    if fractional.any():
        log_a[fractional] = _log_a_frac(q, sigma, orders[fractional])
    # Subsampling never increases a Renyi divergence (joint quasi-convexity), so the unsampled
    # Gaussian's alpha / (2 sigma^2) also bounds it; the min keeps epsilon monotone in q up to q = 1
    # where the series above and the closed form differ by rounding.
    with np.errstate(invalid="ignore"):  # inf / inf at order inf
        ratio = np.where(finite, log_a / (orders - 1), np.inf)
    return np.minimum(ratio, orders / (2 * sigma**2))


def rdp_laplace(scale: float, orders: np.ndarray) -> np.ndarray:
    """RDP of the Laplace mechanism with scale ``scale`` / sensitivity (Mironov 2017, Prop. 6)."""
    a = np.asarray(orders, dtype=float)
    b = 1.0 / scale
    t1 = np.log(a / (2 * a - 1)) + (a - 1) * b
    t2 = np.log((a - 1) / (2 * a - 1)) - a * b
    return np.logaddexp(t1, t2) / (a - 1)


def rdp_poisson_subsampled_general(
    q: float, base: Callable[[np.ndarray], np.ndarray], orders: np.ndarray
) -> np.ndarray:
    """Upper bound on the RDP of any mechanism with RDP curve ``base`` under Poisson sampling,
    for integer orders >= 2 (Zhu and Wang, ICML 2019, Thm. 6); a fractional order uses its
    ceiling, valid because RDP is non-decreasing in the order."""
    orders = np.asarray(orders, dtype=float)
    if q == 0:
        return np.zeros_like(orders)
    if q == 1:
        return base(orders)
    out = np.empty_like(orders)
    log_q, log_1q = math.log(q), math.log1p(-q)
    for n, a_real in enumerate(orders):
        a = max(2, math.ceil(a_real))
        ls = np.arange(3, a + 1, dtype=float)
        eps = base(np.arange(2, a + 1, dtype=float))
        terms = [
            (a - 1) * log_1q + math.log1p(a * q - q),
            float(_log_binom(a, np.array(2.0))) + 2 * log_q + (a - 2) * log_1q + float(eps[0]),
        ]
        if a >= 3:
            rest = math.log(3) + _log_binom(a, ls) + (a - ls) * log_1q + ls * log_q + (ls - 1) * eps[1:]
            terms.extend(rest.tolist())
        out[n] = float(logsumexp(terms)) / (a - 1)
    return out


def rdp_sampled_without_replacement(
    gamma: float, base: Callable[[np.ndarray], np.ndarray], orders: np.ndarray
) -> np.ndarray:
    """Upper bound on the RDP of a mechanism with unbounded eps(inf) (e.g. Gaussian) run on a
    uniformly sampled subset of fraction ``gamma``, replace-one neighbouring, integer orders >= 2
    (Wang, Balle, Kasiviswanathan, AISTATS 2019, Thm. 9); fractional orders use their ceiling."""
    orders = np.asarray(orders, dtype=float)
    if gamma == 0:
        return np.zeros_like(orders)
    out = np.empty_like(orders)
    for n, a_real in enumerate(orders):
        a = max(2, math.ceil(a_real))
        eps = base(np.arange(2, a + 1, dtype=float))
        second = math.log(min(4 * math.expm1(float(eps[0])), 2 * math.exp(float(eps[0]))))
        terms = [0.0, 2 * math.log(gamma) + float(_log_binom(a, np.array(2.0))) + second]
        if a >= 3:
            js = np.arange(3, a + 1, dtype=float)
            terms.extend((math.log(2) + js * math.log(gamma) + _log_binom(a, js) + (js - 1) * eps[1:]).tolist())
        out[n] = float(logsumexp(terms)) / (a - 1)
    return out


def rdp_to_epsilon(orders: np.ndarray, rdp: np.ndarray, delta: float) -> tuple[float, float]:
    """Smallest epsilon over orders by the improved conversion
    eps = rdp + log(1 - 1/a) - (log delta + log a) / (a - 1)
    (Canonne, Kamath, Steinke 2020, Prop. 12; Balle et al. 2020, Thm. 21). Returns (eps, order)."""
    orders = np.asarray(orders, dtype=float)
    rdp = np.asarray(rdp, dtype=float)
    if delta == 0:
        return math.inf, math.nan
    if delta >= 1 or not np.any(rdp):  # no leakage at all
        return 0.0, math.nan
    with np.errstate(invalid="ignore", over="ignore"):
        eps = rdp + np.log1p(-1 / orders) - (math.log(delta) + np.log(orders)) / (orders - 1)
    eps = np.where(np.isnan(eps), np.inf, eps)
    i = int(np.argmin(eps))
    _warn_if_edge(orders, i, eps)
    return max(0.0, float(eps[i])), float(orders[i])


def rdp_to_delta(orders: np.ndarray, rdp: np.ndarray, epsilon: float) -> tuple[float, float]:
    """Smallest delta over orders, the inverse of the conversion in ``rdp_to_epsilon``."""
    orders = np.asarray(orders, dtype=float)
    with np.errstate(invalid="ignore", over="ignore"):
        log_delta = (orders - 1) * (np.asarray(rdp) - epsilon + np.log1p(-1 / orders)) - np.log(orders)
    log_delta = np.where(np.isnan(log_delta), np.inf, log_delta)
    i = int(np.argmin(log_delta))
    return min(1.0, math.exp(min(0.0, float(log_delta[i])))), float(orders[i])


def _warn_if_edge(orders: np.ndarray, i: int, eps: np.ndarray) -> None:
    if len(orders) > 1 and np.isfinite(eps[i]) and (i == 0 or i == len(orders) - 1):
        warnings.warn(
            f"the optimal RDP order {orders[i]} lies at the edge of the order grid; "
            "extend the orders for a tighter epsilon",
            RuntimeWarning,
            stacklevel=3,
        )
