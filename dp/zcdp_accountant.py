"""Approximate zero-concentrated DP accountant (Bun and Steinke, TCC 2016).

Tracks (xi, rho) with D_a(M(D) || M(D')) <= xi + rho * a for all a > 1; composition adds both.
Suited to the un-sampled integer noise of distributed DP (discrete Gaussian, Skellam sums)
and the Gaussian. Sampling is refused: zCDP does not amplify by subsampling.
"""

from __future__ import annotations

import math

from scipy.optimize import minimize_scalar

from dp import distributed_math as dm
from dp.accountant import Accountant, check_delta, check_epsilon
from dp.events import DiscreteGaussianSumEvent, Event, GaussianEvent, SkellamSumEvent


class ZcdpAccountant(Accountant):
    """(xi, rho)-zCDP accountant with the tight conversion to (epsilon, delta)."""

    name = "zcdp"

    def _check_atomic(self, event: Event) -> None:
        if not isinstance(event, (GaussianEvent, DiscreteGaussianSumEvent, SkellamSumEvent)):
            raise self._unsupported(
                event,
                "zCDP covers only un-sampled Gaussian, discrete Gaussian "
                "and Skellam events (no amplification by sampling)",
            )

    @staticmethod
    def _xi_rho(event: Event) -> tuple[float, float]:
        if isinstance(event, GaussianEvent):
            s = event.noise_multiplier
            return 0.0, (math.inf if s == 0 else 1 / (2 * s**2))
        if isinstance(event, DiscreteGaussianSumEvent):
            return 0.0, dm.ddg_rho(event)
        if isinstance(event, SkellamSumEvent):
            return dm.skellam_zcdp(event)
        raise TypeError(type(event).__name__)  # unreachable: _check_atomic runs first

    def xi_rho(self) -> tuple[float, float]:
        """The composed (xi, rho)."""
        xi = rho = 0.0
        for event, count in self._ledger.items():
            x, r = self._xi_rho(event)
            xi, rho = xi + count * x, rho + count * r
        return xi, rho

    def _log_delta(self, a: float, epsilon: float) -> float:
        # Improved conversion of the RDP curve xi + rho*a (Canonne, Kamath, Steinke 2020, Prop. 12).
        xi, rho = self.xi_rho()
        return (a - 1) * (xi + rho * a - epsilon + math.log1p(-1 / a)) - math.log(a)

    def epsilon(self, delta: float) -> float:
        """Upper bound on epsilon at ``delta``: minimum over real orders of the converted curve."""
        delta = check_delta(delta)
        xi, rho = self.xi_rho()
        if rho == 0 and xi == 0:
            return 0.0
        if math.isinf(rho) or delta == 0:
            return math.inf

        def eps(t: float) -> float:  # the converted curve at order a = 1 + e^t
            a = 1 + math.exp(t)
            return xi + rho * a + math.log1p(-1 / a) - (math.log(delta) + math.log(a)) / (a - 1)

        res = minimize_scalar(eps, bounds=(-20, 20), method="bounded")
        return max(0.0, float(res.fun))

    def delta(self, epsilon: float) -> float:
        """Upper bound on delta at ``epsilon``."""
        epsilon = check_epsilon(epsilon)
        xi, rho = self.xi_rho()
        if rho == 0 and xi == 0:
            return 0.0
        if math.isinf(rho):
            return 1.0
        res = minimize_scalar(lambda t: self._log_delta(1 + math.exp(t), epsilon), bounds=(-20, 20), method="bounded")
        return min(1.0, math.exp(min(0.0, float(res.fun))))
