"""Privacy loss distributions on a uniform grid: discretization, FFT composition, queries.

* Upper bound: "connect the dots" discretization (Doroshenko, Ghazi, Kamath, Kumar, Manurangsi,
  PETS 2022, Sec. 3): each loss bucket's P- and Q-mass is split between its two grid endpoints so
  that the hockey-stick curve becomes its chordal interpolation, which dominates the true curve.
* Lower bound: every loss rounded down to the grid (the pair is then dominated).
* Composition: one FFT per event raised to its count (Koskela, Jalko, Honkela AISTATS 2020),
  over a window of N grid points sized by a Chernoff bound; the mass outside the window is bounded
  by the same Chernoff bound and added to delta, so the reported upper bound stays an upper bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dp.pld_pairs import LossPair

_LAMBDAS = np.geomspace(1e-3, 1e4, 22)  # Chernoff exponents, in units of 1 / (sd of the sum)
_LINEAR_RANGE = 600.0  # loss span below which suffix sums of w e^{-e} are taken without logs


@dataclass(frozen=True)
class GridPld:
    """Masses ``masses[i]`` at losses ``(start + i) * step`` plus ``inf_mass`` at +infinity."""

    step: float
    start: int
    masses: np.ndarray
    inf_mass: float

    @property
    def losses(self) -> np.ndarray:
        return (self.start + np.arange(self.masses.size)) * self.step

    def log_mgf(self, lam: np.ndarray) -> np.ndarray:
        """log E_P[exp(lam * L); L finite] for each lam (for Chernoff tail bounds)."""
        keep = self.masses > 0
        x = np.log(self.masses[keep])[None, :] + lam[:, None] * self.losses[keep][None, :]
        top = x.max(axis=1)
        return top + np.log(np.exp(x - top[:, None]).sum(axis=1))

    def mean_var(self) -> tuple[float, float]:
        """Mean and variance of the finite part of the loss under P."""
        e = self.losses
        m = float(np.dot(self.masses, e))
        return m, float(np.dot(self.masses, (e - m) ** 2))


def discretize(pair: LossPair, step: float, pessimistic: bool) -> GridPld:
    """Discretize ``pair`` on the grid step*Z over its loss range (see module docstring)."""
    i_lo, i_hi = math.floor(pair.lo / step), math.ceil(pair.hi / step)
    if i_hi <= i_lo:
        i_hi = i_lo + 1
    e = np.arange(i_lo, i_hi + 1) * step
    sp, sq = pair.survival(e)
    p = np.maximum(sp[:-1] - sp[1:], 0.0)  # P(L in (e_j, e_j+1])
    if not pessimistic:
        masses = np.zeros(e.size)
        masses[:-1] = p
        masses[-1] = sp[-1]
        return GridPld(step, i_lo, masses, 0.0)
    q = np.maximum(sq[:-1] - sq[1:], 0.0)
    r = np.exp(e[:-1]) * q  # e^{e_j} Q(bucket) <= P(bucket) <= e^{e_j + step} Q(bucket)
    em1 = math.expm1(step)
    masses = np.zeros(e.size)
    masses[1:] += np.maximum(p - r, 0.0) * (em1 + 1) / em1
    masses[:-1] += np.maximum((em1 + 1) * r - p, 0.0) / em1
    masses[0] += 1.0 - sp[0]
    top_q = math.exp(e[-1]) * float(sq[-1])
    masses[-1] += top_q
    return GridPld(step, i_lo, masses, max(float(sp[-1]) - top_q, 0.0))


def chernoff_window(plds: list[tuple[GridPld, int]], log_tail: float) -> tuple[float, float, float]:
    """Losses (T_lo, T_hi) with P(sum < T_lo), P(sum > T_hi) <= exp(log_tail) for the composition,
    and the lambda that attains the upper bound (meant for a coarse discretization)."""
    mean, sd = _mean_sd(plds)
    lam = _LAMBDAS / sd
    both = (_log_mgf(plds, np.concatenate([lam, -lam])) - log_tail) / np.concatenate([lam, -lam])
    up, lo = both[: lam.size], float(np.max(both[lam.size :]))
    i = int(np.argmin(up))
    return min(lo, mean), max(float(up[i]), mean), float(lam[i])


def tail_above(plds: list[tuple[GridPld, int]], threshold: float, lam: float) -> float:
    """Chernoff bound on P(sum of finite losses > threshold) at lambdas around ``lam``;
    exactly 0 when the threshold is above the largest possible sum."""
    if threshold >= sum(c * float(g.losses[-1]) for g, c in plds):
        return 0.0
    lams = lam * np.array([0.5, 0.8, 1.0, 1.25, 2.0])
    return float(min(1.0, math.exp(min(0.0, float(np.min(_log_mgf(plds, lams) - lams * threshold))))))


def _log_mgf(plds: list[tuple[GridPld, int]], lam: np.ndarray) -> np.ndarray:
    return np.sum([c * g.log_mgf(lam) for g, c in plds], axis=0)


def _mean_sd(plds: list[tuple[GridPld, int]]) -> tuple[float, float]:
    mv = [(c, *g.mean_var()) for g, c in plds]
    return sum(c * m for c, m, _ in mv), math.sqrt(max(sum(c * v for c, _, v in mv), 1e-300))


def _power(z: np.ndarray, count: int) -> np.ndarray:
    """z ** count by repeated squaring (about log2(count) products; numpy's complex power is
    ten times slower)."""
    result, base = np.ones_like(z), z
    while count:
        if count & 1:
            result = result * base
        count >>= 1
        if count:
            base = base * base
    return result


def compose(plds: list[tuple[GridPld, int]], window_start: int, size: int) -> tuple[np.ndarray, float, float]:
    """Masses of the composition on grid indices [window_start, window_start + size), its mass at
    +infinity and the sum of negative round-off that was clipped (a measure of FFT error)."""
    spectrum = np.ones(size // 2 + 1, dtype=complex)
    offset, finite = 0, 1.0
    for g, count in plds:
        if g.masses.size <= size:  # rfft zero-pads
            folded = g.masses
        else:
            folded = np.bincount(np.arange(g.masses.size) % size, weights=g.masses, minlength=size)
        spectrum *= _power(np.fft.rfft(folded, n=size), count)
        offset += count * g.start
        finite *= (1.0 - g.inf_mass) ** count
    out = np.fft.irfft(spectrum, n=size)
    shift = (window_start - offset) % size
    out = np.concatenate([out[shift:], out[:shift]])
    negative = float(-out[out < 0].sum())
    return np.maximum(out, 0.0), 1.0 - finite, negative


@dataclass(frozen=True)
class ComposedPld:
    """A composed PLD on a window, with slack added to every delta (tail bound + round-off)."""

    step: float
    start: int
    masses: np.ndarray
    inf_mass: float
    slack: float

    def _suffix(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Grid losses e, a[k] = sum_{i >= k} w_i and log_b[k] = log sum_{i >= k} w_i e^{-e_i}
        (k = 0..n, a[n] = 0), so delta(eps) = a[k] - e^eps b[k] for eps in [e_{k-1}, e_k)."""
        e = (self.start + np.arange(self.masses.size)) * self.step
        a = np.concatenate([np.cumsum(self.masses[::-1])[::-1], [0.0]])
        with np.errstate(divide="ignore"):
            if e[-1] - e[0] < _LINEAR_RANGE:  # w_i e^{e_0 - e_i} in [0, 1]: plain suffix sums
                b = np.cumsum((self.masses * np.exp(e[0] - e))[::-1])[::-1]
                log_b = np.log(b) - e[0]
            else:
                log_b = np.logaddexp.accumulate((np.log(self.masses) - e)[::-1])[::-1]
        return e, a, np.concatenate([log_b, [-np.inf]])

    def delta(self, epsilon: float) -> float:
        """delta(eps) = inf_mass + sum_{e_i > eps} w_i (1 - e^{eps - e_i}) + slack."""
        e, a, log_b = self._suffix()
        k = int(np.searchsorted(e, epsilon, side="right"))
        d = float(a[k]) - math.exp(epsilon + float(log_b[k])) if a[k] > 0 else 0.0
        return min(1.0, max(0.0, d) + self.inf_mass + self.slack)

    def epsilon(self, delta: float) -> float:
        """Smallest eps with delta(eps) <= delta; +inf if the mass at infinity plus slack exceeds delta."""
        target = delta - self.inf_mass - self.slack
        if target <= 0:
            return math.inf
        e, a, log_b = self._suffix()
        with np.errstate(over="ignore"):
            d_grid = a[1:] - np.exp(e + log_b[1:])  # delta without inf mass and slack at each e_j
        above = np.nonzero(d_grid > target)[0]
        k = int(above[-1]) + 1 if above.size else 0  # eps lies in (e_{k-1}, e_k]
        if a[k] <= target:
            return max(0.0, float(e[k - 1]) if k > 0 else 0.0)
        return max(0.0, math.log(float(a[k]) - target) - float(log_b[k]))
