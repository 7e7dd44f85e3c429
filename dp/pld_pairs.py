"""Dominating pairs (P, Q) of the mechanisms the PLD accountant supports, described by the
survival functions of their privacy loss L = log(dP/dQ) under P and under Q.

Add/remove neighbouring needs two pairs per event ("remove": P is the mechanism on the larger
dataset; "add": the reverse); both are composed and the worse is reported, as in
Zhu, Dong, Wang, "Optimal accounting of differential privacy via characteristic function", 2022.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from dp.events import Event, GaussianEvent, LaplaceEvent, PoissonSampledEvent

Survival = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class LossPair:
    """A dominating pair given by ``survival(eps) = (P(L > eps), Q(L > eps))`` and a loss range
    [lo, hi] outside of which P has at most the requested tail mass."""

    survival: Survival
    lo: float
    hi: float


def _sf(z: np.ndarray) -> np.ndarray:
    return ndtr(-z)


_Q_SNAP = 1e-12


def sampled_gaussian_pairs(q: float, sigma: float, tail: float) -> tuple[LossPair, LossPair]:
    """(remove, add) pairs of the Poisson-sampled Gaussian with noise multiplier ``sigma``:
    P = (1-q) N(0, s^2) + q N(1, s^2) vs Q = N(0, s^2) and the reverse (q = 1: plain Gaussian)."""
    if q > 1 - _Q_SNAP:
        # Rounding q up is conservative (epsilon grows with q) and keeps the q -> 1 limit equal to
        # the unsampled case instead of a hair above it through rounding (found by hypothesis).
        q = 1.0
    z = float(-ndtri(tail))
    log_q = math.log(q)

    def loss(x: float) -> float:  # remove-pair loss at x, log(1 - q + q exp((2x - 1) / 2s^2))
        return float(np.logaddexp(math.log1p(-q) if q < 1 else -np.inf, log_q + (2 * x - 1) / (2 * sigma**2)))

    def x_of(log_arg: np.ndarray) -> np.ndarray:
        return sigma**2 * (log_arg - log_q) + 0.5

    def remove(eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            arg = np.expm1(eps) + q  # e^eps - (1 - q) > 0 iff eps > log(1 - q)
            x = np.where(arg > 0, x_of(np.log(np.where(arg > 0, arg, 1.0))), -np.inf)
        sq = _sf(x / sigma)
        return (1 - q) * sq + q * _sf((x - 1) / sigma), sq

    def add(eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            arg = np.expm1(-eps) + q
            x = np.where(arg > 0, x_of(np.log(np.where(arg > 0, arg, 1.0))), -np.inf)
        sp = ndtr(x / sigma)
        return sp, (1 - q) * sp + q * ndtr((x - 1) / sigma)

    r = LossPair(remove, lo=max(loss(-z * sigma), math.log1p(-q) if q < 1 else -np.inf), hi=loss(1 + z * sigma))
    a = LossPair(add, lo=-loss(1 + z * sigma), hi=-loss(-z * sigma))
    return r, a


def laplace_pair(scale: float) -> LossPair:
    """P = Lap(0, b), Q = Lap(1, b): loss in [-1/b, 1/b] with atoms at both ends (symmetric)."""
    inv = 1.0 / scale

    def survival(eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = np.clip((1 - scale * eps) / 2, 0.0, 1.0)  # L > eps  <=>  x < t inside [-1/b, 1/b)
        sp = np.where(eps < -inv, 1.0, np.where(eps >= inv, 0.0, 1 - 0.5 * np.exp(-t * inv)))
        sq = np.where(eps < -inv, 1.0, np.where(eps >= inv, 0.0, 0.5 * np.exp((t - 1) * inv)))
        return sp, sq

    return LossPair(survival, lo=-inv, hi=inv)


def pairs_for(event: Event, tail: float) -> tuple[LossPair, LossPair] | None:
    """(remove, add) pairs of a supported atomic event, or None if it has none here."""
    if isinstance(event, GaussianEvent) and event.noise_multiplier > 0:
        return sampled_gaussian_pairs(1.0, event.noise_multiplier, tail)
    if (
        isinstance(event, PoissonSampledEvent)
        and isinstance(event.event, GaussianEvent)
        and event.event.noise_multiplier > 0
        and event.sample_rate > 0
    ):
        return sampled_gaussian_pairs(event.sample_rate, event.event.noise_multiplier, tail)
    if isinstance(event, LaplaceEvent):
        p = laplace_pair(event.noise_multiplier)
        return p, p
    return None
