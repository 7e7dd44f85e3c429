"""Privacy curves of the integer noise used with secure aggregation.

* Sum of discrete Gaussians: Kairouz, Liu, Steinke, "The Distributed Discrete Gaussian
  Mechanism for Federated Learning with Secure Aggregation", ICML 2021, Prop. 14 (arXiv 2102.06387).
* Skellam: Agarwal, Kairouz, Liu, "The Skellam Mechanism for Differentially Private Federated
  Learning", NeurIPS 2021, Cor. 3.6 (integer orders).
* Norm bound after conditional randomized rounding: Kairouz, Liu, Steinke 2021, Thm. 2/Sec. 4.
"""

from __future__ import annotations

import math

import numpy as np

from dp.events import DiscreteGaussianSumEvent, SkellamSumEvent


def ddg_tau(sigma: float, num_clients: int) -> float:
    """tau = 10 * sum_{k=1}^{n-1} exp(-2 pi^2 sigma^2 k/(k+1)): how far a sum of n discrete
    Gaussians is from a discrete Gaussian (Kairouz, Liu, Steinke 2021, Thm. 1)."""
    k = np.arange(1, num_clients, dtype=float)
    return float(10.0 * np.sum(np.exp(-2.0 * math.pi**2 * sigma**2 * k / (k + 1))))


def ddg_rdp(event: DiscreteGaussianSumEvent, orders: np.ndarray) -> np.ndarray:
    """RDP of the distributed discrete Gaussian at each order: the minimum of the three bounds of
    Kairouz, Liu, Steinke 2021, Prop. 14."""
    a = np.asarray(orders, dtype=float)
    l2s, l1s, tau, d = _ddg_scales(event)
    return np.minimum.reduce(
        [
            a / 2 * l2s**2 + tau * d,
            a / 2 * (l2s**2 + 2 * l1s * tau + tau**2 * d),
            a / 2 * (l2s + math.sqrt(d) * tau) ** 2,
        ]
    )


def ddg_rho(event: DiscreteGaussianSumEvent) -> float:
    """rho such that the event is rho-zCDP (the two pure-zCDP bounds of Prop. 14)."""
    l2s, l1s, tau, d = _ddg_scales(event)
    return 0.5 * min(l2s**2 + 2 * l1s * tau + tau**2 * d, (l2s + math.sqrt(d) * tau) ** 2)


def _ddg_scales(event: DiscreteGaussianSumEvent) -> tuple[float, float, float, int]:
    central = math.sqrt(event.num_clients) * event.sigma
    tau = ddg_tau(event.sigma, event.num_clients)
    return event.l2_sensitivity / central, event.l1_sensitivity / central, tau, event.dimension


def skellam_rdp(event: SkellamSumEvent, orders: np.ndarray) -> np.ndarray:
    """RDP of the Skellam mechanism (Agarwal, Kairouz, Liu 2021, Cor. 3.6), which holds for integer
    orders; a fractional order uses its ceiling (RDP is non-decreasing in the order)."""
    a = np.maximum(2.0, np.ceil(np.asarray(orders, dtype=float)))
    mu, d2, d1 = event.variance, event.l2_sensitivity**2, event.l1_sensitivity
    return a * d2 / (2 * mu) + np.minimum(((2 * a - 1) * d2 + 6 * d1) / (4 * mu**2), 3 * d1 / (2 * mu))


def skellam_zcdp(event: SkellamSumEvent) -> tuple[float, float]:
    """(xi, rho) with D_a <= xi + rho * a for every real a > 1 (approximate zCDP, Bun and Steinke
    2016, Def. 1.2), from the first branch of Cor. 3.6; + rho in xi pays for rounding a up."""
    mu, d2, d1 = event.variance, event.l2_sensitivity**2, event.l1_sensitivity
    rho = d2 / (2 * mu) + d2 / (2 * mu**2)
    return max(0.0, (6 * d1 - d2) / (4 * mu**2) + rho), rho


def rounded_l2_bound(scaled_l2: float, dimension: int, beta: float) -> float:
    """Bound on the l2 norm of a vector of scaled norm ``scaled_l2`` after conditional randomized
    rounding that retries until the norm is below this bound (Kairouz, Liu, Steinke 2021, Sec. 4);
    with beta = 0 (plain rounding) only the deterministic bound applies."""
    deterministic = scaled_l2 + math.sqrt(dimension)
    if beta == 0:
        return deterministic
    probabilistic = math.sqrt(
        scaled_l2**2 + dimension / 4 + math.sqrt(2 * math.log(1 / beta)) * (scaled_l2 + math.sqrt(dimension) / 2)
    )
    return min(deterministic, probabilistic)


def integer_l1_bound(l2_bound: float, dimension: int) -> float:
    """l1 bound of an integer vector with l2 norm <= l2_bound: min(sqrt(d) * l2, l2^2)."""
    return min(math.sqrt(dimension) * l2_bound, l2_bound**2)
