"""One generic calibration routine over any accountant (each calibrates the same way): bracket the
noise, solve epsilon(noise) = target on a log-log scale, then check the answer meets the target."""

from __future__ import annotations

import math
from collections.abc import Callable

from dp._validate import check_real
from dp.errors import CalibrationError

_MIN_NOISE, _MAX_NOISE = 1e-3, 1e6


def calibrate_noise(
    epsilon_of: Callable[[float], float],
    target_epsilon: float,
    *,
    guess: float = 1.0,
    rtol: float = 1e-3,
    max_evals: int = 60,
) -> float:
    """Smallest noise (up to ``rtol`` relative) with ``epsilon_of(noise) <= target_epsilon``,
    for an ``epsilon_of`` that is non-increasing in the noise. The returned noise always meets
    the target; ``CalibrationError`` if no noise in [1e-3, 1e6] does."""
    target = check_real("target_epsilon", target_epsilon, low=0.0, low_open=True)
    cache: dict[float, float] = {}

    def f(noise: float) -> float:
        """log(epsilon / target), memoized; +inf when epsilon is infinite."""
        if noise not in cache:
            if len(cache) >= max_evals:
                raise CalibrationError(f"calibration did not converge in {max_evals} evaluations")
            eps = epsilon_of(noise)
            cache[noise] = math.log(eps / target) if 0 < eps < math.inf else (math.inf if eps > 0 else -math.inf)
        return cache[noise]

    lo, hi = _bracket(f, max(min(guess, _MAX_NOISE), _MIN_NOISE))
    g_lo, g_hi = f(lo), f(hi)  # Illinois-weighted copies of f at the bracket ends
    side = 0
    while hi / lo - 1 > rtol and f(hi) < -rtol:
        # Illinois variant of regula falsi in (log noise, log epsilon) coordinates.
        x_lo, x_hi = math.log(lo), math.log(hi)
        x = 0.5 * (x_lo + x_hi)
        if math.isfinite(g_lo) and math.isfinite(g_hi) and g_lo != g_hi:
            x = x_hi - g_hi * (x_hi - x_lo) / (g_hi - g_lo)
            x = min(max(x, x_lo + 0.01 * (x_hi - x_lo)), x_hi - 0.01 * (x_hi - x_lo))
        mid = math.exp(x)
        if f(mid) > 0:
            lo, g_lo = mid, f(mid)
            g_hi = g_hi / 2 if side == -1 else g_hi
            side = -1
        else:
            hi, g_hi = mid, f(mid)
            g_lo = g_lo / 2 if side == 1 else g_lo
            side = 1
    if not f(hi) <= 0:
        raise CalibrationError(f"internal error: noise {hi} does not meet epsilon {target}")
    return hi


def _bracket(f: Callable[[float], float], start: float) -> tuple[float, float]:
    """(lo, hi) with f(lo) > 0 >= f(hi), by doubling/halving from ``start``."""
    x = start
    if f(x) <= 0:
        while True:
            y = x / 2
            if y < _MIN_NOISE:
                return _MIN_NOISE, x  # even (almost) no noise meets the target
            if f(y) > 0:
                return y, x
            x = y
    while True:
        y = x * 2
        if y > _MAX_NOISE:
            raise CalibrationError(f"no noise multiplier up to {_MAX_NOISE:g} meets the target epsilon")
        if f(y) <= 0:
            return x, y
        x = y
