"""A single release answered from its dominating pair's closed form, without any grid.

For one use of a mechanism the hockey-stick divergence is delta(eps) = P(L > eps) - e^eps Q(L > eps)
(Balle and Wang, ICML 2018, Thm. 5 for the Gaussian; the same identity holds for any pair), so
epsilon(delta) is a one-dimensional root: found by Newton's method on log delta(eps) (slope
-e^eps Q(L > eps) / delta) inside a bisection bracket, each answer widened by its tolerance and
by a bound on the floating-point error of the two survival functions, so the upper answer stays an
upper bound and the lower one a lower bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dp.pld_pairs import LossPair

_REL_TOL = 1e-9  # relative width of the final epsilon bracket
_ABS_TOL = 1e-11  # absolute width, above the rounding band of delta(eps) near a tiny epsilon
_ROUNDING = 1e-12  # relative error allowed for P(L > eps) as computed (ndtr is accurate to ~1e-15)
_MAX_ITER = 200
_SCAN = 64  # points of the initial scan


@dataclass(frozen=True)
class ExactPld:
    """One release of ``pair``; ``pessimistic`` selects the upper (True) or lower bound side."""

    pair: LossPair
    pessimistic: bool

    def _deltas(self, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """delta(eps) as computed, its rounding error bound, and e^eps Q(L > eps) (minus the slope)."""
        sp, sq = self.pair.survival(eps)
        with np.errstate(over="ignore", invalid="ignore"):
            eq = np.exp(eps) * sq
        eq[sq == 0] = 0.0  # no Q-mass above eps, whatever e^eps
        return np.maximum(sp - eq, 0.0), _ROUNDING * sp, eq

    def delta(self, epsilon: float) -> float:
        d, err, _ = self._deltas(np.array([epsilon]))
        sign = 1.0 if self.pessimistic else -1.0
        return float(min(1.0, max(0.0, float(d[0]) + sign * float(err[0]))))

    def epsilon(self, delta: float) -> float:
        """Upper (or lower) bound on the smallest eps with delta(eps) <= ``delta``."""
        lo, hi = self._bracket(delta)
        tol = _REL_TOL * hi + _ABS_TOL
        return hi + tol if self.pessimistic else max(0.0, lo - tol)

    def _bracket(self, target: float) -> tuple[float, float]:
        """(lo, hi) with delta(lo) > target >= delta(hi) beyond rounding, hi - lo within tolerance;
        lo = hi = 0 when delta(0) <= target already."""
        hi = max(self.pair.hi, 1e-12)
        while True:  # one vectorized scan of [0, hi] brackets the root within hi / _SCAN
            pts = np.linspace(0.0, hi, _SCAN + 1)
            d, err, eq = self._deltas(pts)
            below = np.nonzero(d + err <= target)[0]
            if below.size:
                break
            hi = 2 * hi + 1.0
        j = int(below[0])
        if j == 0:
            return 0.0, 0.0
        lo, hi = float(pts[j - 1]), float(pts[j])
        x = 0.5 * (lo + hi)
        if d[j - 1] > 0 and d[j] > 0:  # start from the root of log delta interpolated linearly
            la, lb = math.log(float(d[j - 1])), math.log(float(d[j]))
            x = lo + (la - math.log(target)) / (la - lb) * (hi - lo)
        for _ in range(_MAX_ITER):
            tol = _REL_TOL * hi + _ABS_TOL
            if hi - lo <= tol:
                break
            if not lo < x < hi:  # outside the bracket (or no slope): bisect
                x = 0.5 * (lo + hi)
            pts = np.array([x, max(lo, x - 0.5 * tol), min(hi, x + 0.5 * tol)])
            d, err, eq = self._deltas(pts)
            moved = False
            for p, dv, ev in zip(pts.tolist(), d.tolist(), err.tolist(), strict=True):
                if dv + ev <= target and p < hi:
                    hi, moved = p, True
                elif dv - ev > target and p > lo:
                    lo, moved = p, True
            if not moved:  # all points inside the rounding band: the root is pinned down
                break
            dx, eqx = float(d[0]), float(eq[0])  # Newton step on log delta (slope -eqx / dx)
            x = x + (math.log(dx) - math.log(target)) * dx / eqx if dx > 0 and eqx > 0 else math.nan
        return lo, hi
