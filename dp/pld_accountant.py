"""Tight numerical accountant over privacy loss distributions (PLD).

Reports an upper bound by default (connect-the-dots discretization, tails and round-off added
to delta) and, on request, a lower bound from the optimistic discretization, so every answer
comes with its error: ``epsilon_bounds(delta) -> (lower, upper)``.
One release of one mechanism is answered from its closed form (``dp.pld_exact``). Otherwise the
FFT window is sized to the question: the answer is computed on windows of 2^11, 2^12, ... points
until the worse direction's answer agrees to ``_REL_TOL`` with its answer on the window half as
large, at most ``grid_points`` (the connect-the-dots error falls as the square of the grid step,
so the finer answer is then within about a third of that of the limit). Every window's answer is
a bound; the tightest is returned.
Memory is O(grid_points) whatever the number of steps or the size of epsilon.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from dp import pld
from dp._validate import check_int, check_real
from dp.accountant import Accountant, check_delta, check_epsilon
from dp.events import Event, GaussianEvent, LaplaceEvent, PoissonSampledEvent
from dp.pld_exact import ExactPld
from dp.pld_pairs import LossPair, pairs_for

_COARSE_POINTS = 64
_FIRST_POINTS = 1 << 10
_REL_TOL = 7.5e-3  # two successive windows agreeing this well end the refinement
# Laplace losses are bounded (pure DP), where RDP reaches the tight k/b: refine further to stay below it.
_REL_TOL_LAPLACE = 1e-4

Pld = pld.ComposedPld | ExactPld


class PldAccountant(Accountant):
    """PLD accountant for Gaussian, Laplace and Poisson-sampled Gaussian events (add/remove).

    ``grid_points`` is the largest FFT window (memory ~ 40 bytes per point); ``tail`` bounds the
    probability mass left outside the loss ranges and the window (it is added to delta).
    """

    name = "pld"

    def __init__(self, grid_points: int = 1 << 15, tail: float = 1e-15) -> None:
        super().__init__()
        self.grid_points = check_int("grid_points", grid_points, low=1 << 8, high=1 << 26)
        self.tail = check_real("tail", tail, low=0.0, high=1e-6, low_open=True)
        self._cache: dict[tuple[bool, int, int], pld.ComposedPld] = {}
        self._windows: dict[int, tuple[float, float, float]] = {}

    def _check_atomic(self, event: Event) -> None:
        if isinstance(event, (GaussianEvent, LaplaceEvent)):
            return
        if isinstance(event, PoissonSampledEvent) and isinstance(event.event, GaussianEvent):
            return
        raise self._unsupported(
            event, "the PLD accountant handles Gaussian, Laplace and Poisson-sampled Gaussian events only"
        )

    def _on_change(self) -> None:
        self._cache, self._windows = {}, {}

    def _infinite(self) -> bool:
        for event in self._ledger:
            base = event.event if isinstance(event, PoissonSampledEvent) else event
            q = event.sample_rate if isinstance(event, PoissonSampledEvent) else 1.0
            if isinstance(base, GaussianEvent) and base.noise_multiplier == 0 and q > 0:
                return True
        return False

    def _pairs(self) -> list[tuple[tuple[LossPair, LossPair], int]]:
        """(remove, add) dominating pairs of the ledger's events with their counts."""
        per_step_tail = self.tail / max(sum(self._ledger.values()), 1)
        return [(p, c) for e, c in self._ledger.items() if (p := pairs_for(e, per_step_tail)) is not None]

    def _composed(self, pessimistic: bool, points: int, direction: int) -> pld.ComposedPld:
        """The composed PLD of one direction (0 remove, 1 add) on a window of ``points``."""
        key = (pessimistic, points, direction)
        if key not in self._cache:
            pairs = [(pr[direction], c) for pr, c in self._pairs()]
            self._cache[key] = self._compose_direction(direction, pairs, pessimistic, points)
        return self._cache[key]

    def _refined(self, pessimistic: bool, query: Callable[[Pld], float], empty: float) -> float:
        """The worse direction's ``query`` on windows of doubling size, until the worse direction
        agrees with its answer on the window half as large (module docstring); ``empty`` if
        nothing leaks."""
        pairs = self._pairs()
        if not pairs:
            return empty
        if len(pairs) == 1 and pairs[0][1] == 1:  # one release: closed form, no grid
            return max(query(ExactPld(pr, pessimistic)) for pr in pairs[0][0])
        pick = min if pessimistic else max  # every window gives a bound: keep the tightest
        tol = _REL_TOL_LAPLACE if any(isinstance(e, LaplaceEvent) for e in self._ledger) else _REL_TOL
        points = min(2 * _FIRST_POINTS, self.grid_points)
        coarser: dict[int, float] = {}
        best = math.nan
        while True:
            values = [query(self._composed(pessimistic, points, d)) for d in (0, 1)]
            best = max(values) if math.isnan(best) else pick(best, max(values))
            top = int(values[1] > values[0])
            if top not in coarser:
                coarser[top] = query(self._composed(pessimistic, points // 2, top))
            v, c = values[top], coarser[top]
            if points >= self.grid_points or (
                math.isfinite(v) and abs(v - c) <= tol * abs(v) and (v > 0 or pessimistic)
            ):
                return best
            coarser = dict(enumerate(values))
            points = min(2 * points, self.grid_points)

    def _compose_direction(
        self, direction: int, pairs: list[tuple[LossPair, int]], pessimistic: bool, n: int
    ) -> pld.ComposedPld:
        log_tail = math.log(self.tail)
        if direction not in self._windows:  # the window depends on neither the size nor the side
            coarse_step = min((p.hi - p.lo) for p, _ in pairs) / _COARSE_POINTS
            coarse = [(pld.discretize(p, coarse_step, True), c) for p, c in pairs]
            self._windows[direction] = pld.chernoff_window(coarse, log_tail)
        t_lo, t_hi, lam = self._windows[direction]
        width, total = max(t_hi - t_lo, 1e-12), sum(c for _, c in pairs)
        step = width / (n - 1)
        top = sum(c * p.hi for p, c in pairs)  # largest sum before rounding up, by < step per event
        if top - t_lo <= 1.25 * width and total + 2 < n // 2:  # cover the whole support: no tail
            step = max(step, (top - t_lo) / (n - 2 - total))
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
        results = [
            self._refined(pessimistic, lambda c: c.epsilon(delta), 0.0)
            for pessimistic in ((True, False) if lower else (True,))
        ]
        return (results[1] if lower else math.nan), results[0]

    def delta_bounds(self, epsilon: float, lower: bool = True) -> tuple[float, float]:
        """(lower, upper) bounds on delta at ``epsilon``; lower is nan unless asked for."""
        epsilon = check_epsilon(epsilon)
        if self._infinite():
            return 1.0, 1.0
        if math.isinf(epsilon):
            return (0.0 if lower else math.nan), 0.0
        results = [
            self._refined(pessimistic, lambda c: c.delta(epsilon), 0.0)
            for pessimistic in ((True, False) if lower else (True,))
        ]
        return (max(0.0, results[1]) if lower else math.nan), results[0]
