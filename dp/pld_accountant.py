"""Tight numerical accountant over privacy loss distributions (PLD).

Reports an upper bound by default (connect-the-dots discretization, tails and round-off added
to delta) and, on request, a lower bound from the optimistic discretization, so every answer
comes with its error: ``epsilon_bounds(delta) -> (lower, upper)``.
Memory is O(grid_points) whatever the number of steps or the size of epsilon.
"""

from __future__ import annotations

import math

from dp import pld
from dp._validate import check_int, check_real
from dp.accountant import Accountant, check_delta, check_epsilon
from dp.events import Event, GaussianEvent, LaplaceEvent, PoissonSampledEvent
from dp.pld_pairs import LossPair, pairs_for

_COARSE_POINTS = 1024


class PldAccountant(Accountant):
    """PLD accountant for Gaussian, Laplace and Poisson-sampled Gaussian events (add/remove).

    ``grid_points`` is the FFT window size (memory ~ 40 bytes per point); ``tail`` bounds the
    probability mass left outside the loss ranges and the window (it is added to delta).
    """

    name = "pld"

    def __init__(self, grid_points: int = 1 << 15, tail: float = 1e-15) -> None:
        super().__init__()
        self.grid_points = check_int("grid_points", grid_points, low=1 << 8, high=1 << 26)
        self.tail = check_real("tail", tail, low=0.0, high=1e-6, low_open=True)
        self._cache: dict[bool, tuple[pld.ComposedPld, ...] | None] = {}

    def _check_atomic(self, event: Event) -> None:
        if isinstance(event, (GaussianEvent, LaplaceEvent)):
            return
        if isinstance(event, PoissonSampledEvent) and isinstance(event.event, GaussianEvent):
            return
        raise self._unsupported(
            event, "the PLD accountant handles Gaussian, Laplace and Poisson-sampled Gaussian events only"
        )

    def _on_change(self) -> None:
        self._cache = {}

    def _infinite(self) -> bool:
        for event in self._ledger:
            base = event.event if isinstance(event, PoissonSampledEvent) else event
            q = event.sample_rate if isinstance(event, PoissonSampledEvent) else 1.0
            if isinstance(base, GaussianEvent) and base.noise_multiplier == 0 and q > 0:
                return True
        return False

    def _composed(self, pessimistic: bool) -> tuple[pld.ComposedPld, ...] | None:
        """The composed PLD of each direction (remove, add); None if nothing leaks."""
        if pessimistic not in self._cache:
            total = sum(self._ledger.values())
            per_step_tail = self.tail / max(total, 1)
            pairs = [(p, c) for e, c in self._ledger.items() if (p := pairs_for(e, per_step_tail)) is not None]
            if not pairs:
                self._cache[pessimistic] = None
            else:
                self._cache[pessimistic] = tuple(
                    self._compose_direction([(pr[d], c) for pr, c in pairs], pessimistic) for d in (0, 1)
                )
        return self._cache[pessimistic]

    def _compose_direction(self, pairs: list[tuple[LossPair, int]], pessimistic: bool) -> pld.ComposedPld:
        log_tail = math.log(self.tail)
        coarse_step = min((p.hi - p.lo) for p, _ in pairs) / _COARSE_POINTS
        coarse = [(pld.discretize(p, coarse_step, True), c) for p, c in pairs]
        t_lo, t_hi, lam = pld.chernoff_window(coarse, log_tail)
        n = self.grid_points
        step = max(t_hi - t_lo, 1e-12) / (n - 1)
        fine = [(pld.discretize(p, step, pessimistic), c) for p, c in pairs]
        start = math.floor(t_lo / step)
        masses, inf_mass, negative = pld.compose(fine, start, n)
        outside = pld.tail_above(fine, (start + n) * step, lam)
        roundoff = 2 * negative + n * 1e-17
        if pessimistic:
            slack = outside + roundoff
        else:  # aliased mass from both tails may have landed inside the window
            mirrored = [(pld.GridPld(g.step, -g.start - g.masses.size + 1, g.masses[::-1], 0.0), c) for g, c in fine]
            below = pld.tail_above(mirrored, -start * step, pld.chernoff_window(mirrored, log_tail)[2])
            slack = -(outside + below + roundoff)
        return pld.ComposedPld(step, start, masses, inf_mass, slack)

    def epsilon(self, delta: float) -> float:
        """Upper bound on epsilon at ``delta`` (worse of the add and remove directions)."""
        return self.epsilon_bounds(delta, lower=False)[1]

    def delta(self, epsilon: float) -> float:
        """Upper bound on delta at ``epsilon``."""
        return self.delta_bounds(epsilon, lower=False)[1]

    def epsilon_bounds(self, delta: float, lower: bool = True) -> tuple[float, float]:
        """(lower, upper) bounds on epsilon at ``delta``; lower is nan unless asked for."""
        delta = check_delta(delta)
        if self._infinite():
            return math.inf, math.inf
        results = []
        for pessimistic in (True, False) if lower else (True,):
            comp = self._composed(pessimistic)
            results.append(0.0 if comp is None else max(c.epsilon(delta) for c in comp))
        return (results[1] if lower else math.nan), results[0]

    def delta_bounds(self, epsilon: float, lower: bool = True) -> tuple[float, float]:
        """(lower, upper) bounds on delta at ``epsilon``; lower is nan unless asked for."""
        epsilon = check_epsilon(epsilon)
        if self._infinite():
            return 1.0, 1.0
        results = []
        for pessimistic in (True, False) if lower else (True,):
            comp = self._composed(pessimistic)
            results.append(0.0 if comp is None or math.isinf(epsilon) else max(c.delta(epsilon) for c in comp))
        return (max(0.0, results[1]) if lower else math.nan), results[0]
