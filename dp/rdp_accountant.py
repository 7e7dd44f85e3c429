"""Renyi-DP accountant (Mironov 2017) over a dense grid of orders, fractional ones included.

Supported atomic events: Gaussian, Laplace, the distributed discrete Gaussian and Skellam sums,
each alone or Poisson-sampled; the Gaussian also under fixed-size sampling (replace-one).
Conversion to (epsilon, delta) uses the improved bound of Canonne, Kamath, Steinke 2020.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from dp import distributed_math as dm
from dp import rdp_math as rm
from dp.accountant import Accountant, check_delta, check_epsilon
from dp.errors import InvalidParameterError
from dp.events import (
    DiscreteGaussianSumEvent,
    Event,
    FixedSizeSampledEvent,
    GaussianEvent,
    LaplaceEvent,
    PoissonSampledEvent,
    SkellamSumEvent,
)

_BASE = (GaussianEvent, LaplaceEvent, DiscreteGaussianSumEvent, SkellamSumEvent)


def _base_curve(event: Event) -> Callable[[np.ndarray], np.ndarray]:
    if isinstance(event, GaussianEvent):
        s = event.noise_multiplier
        return lambda a: np.full_like(a, np.inf) if s == 0 else a / (2 * s**2)
    if isinstance(event, LaplaceEvent):
        return lambda a: rm.rdp_laplace(event.noise_multiplier, a)
    if isinstance(event, DiscreteGaussianSumEvent):
        return lambda a: dm.ddg_rdp(event, a)
    if isinstance(event, SkellamSumEvent):
        return lambda a: dm.skellam_rdp(event, a)
    raise TypeError(type(event).__name__)  # unreachable: _check_atomic runs first


class RdpAccountant(Accountant):
    """RDP accountant; ``orders`` defaults to ``rdp_math.DEFAULT_ORDERS`` (1.01 .. 4096)."""

    name = "rdp"

    def __init__(self, orders: np.ndarray | None = None) -> None:
        super().__init__()
        o = rm.DEFAULT_ORDERS if orders is None else np.asarray(orders, dtype=float)
        if o.ndim != 1 or o.size == 0 or not np.all(np.isfinite(o)) or np.any(o <= 1):
            raise InvalidParameterError("orders must be a non-empty 1-d array of finite orders > 1")
        self.orders = np.unique(o)
        self._rdp: np.ndarray | None = None
        self._curves: dict[Event, np.ndarray] = {}

    def _check_atomic(self, event: Event) -> None:
        if isinstance(event, _BASE):
            return
        if isinstance(event, PoissonSampledEvent):
            if not isinstance(event.event, _BASE):
                raise self._unsupported(
                    event,
                    f"Poisson sampling of {type(event.event).__name__} "
                    "(only a Gaussian, Laplace, discrete Gaussian or Skellam base)",
                )
            return
        if isinstance(event, FixedSizeSampledEvent):
            if not isinstance(event.event, GaussianEvent):
                raise self._unsupported(
                    event, f"fixed-size sampling of {type(event.event).__name__} (only a Gaussian base)"
                )
            return
        raise self._unsupported(event, "no RDP curve is known for it")

    def curve(self, event: Event) -> np.ndarray:
        """The RDP of one occurrence of an atomic ``event`` at ``self.orders`` (cached)."""
        self._check_atomic(event)
        if event not in self._curves:
            self._curves[event] = self._compute_curve(event)
        return self._curves[event]

    def _compute_curve(self, event: Event) -> np.ndarray:
        o = self.orders
        if isinstance(event, PoissonSampledEvent):
            if isinstance(event.event, GaussianEvent):
                return rm.rdp_sampled_gaussian(event.sample_rate, event.event.noise_multiplier, o)
            base = _base_curve(event.event)
            # Sampling never hurts: keep the unsampled curve where the general bound is worse.
            return np.minimum(base(o), rm.rdp_poisson_subsampled_general(event.sample_rate, base, o))
        if isinstance(event, FixedSizeSampledEvent):
            base = _base_curve(event.event)
            return np.minimum(base(o), rm.rdp_sampled_without_replacement(event.sample_rate, base, o))
        return _base_curve(event)(o)

    def _on_change(self) -> None:
        self._rdp = None

    def rdp(self) -> np.ndarray:
        """The total RDP of the ledger at ``self.orders``."""
        if self._rdp is None:
            total = np.zeros_like(self.orders)
            for event, count in self._ledger.items():
                with np.errstate(invalid="ignore"):
                    total = total + count * self.curve(event)
            self._rdp = np.where(np.isnan(total), np.inf, total)
        return self._rdp

    def epsilon(self, delta: float) -> float:
        """Upper bound on epsilon at ``delta`` (minimum over orders)."""
        delta = check_delta(delta)
        if not self._ledger:
            return 0.0
        return rm.rdp_to_epsilon(self.orders, self.rdp(), delta)[0]

    def delta(self, epsilon: float) -> float:
        """Upper bound on delta at ``epsilon`` (minimum over orders)."""
        epsilon = check_epsilon(epsilon)
        if not self._ledger:
            return 0.0
        if math.isinf(epsilon):
            return 0.0
        return rm.rdp_to_delta(self.orders, self.rdp(), epsilon)[0]
