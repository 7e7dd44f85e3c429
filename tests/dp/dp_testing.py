"""Helpers shared by the sampler tests: a counting deterministic byte stream and a chi-square test."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
from scipy.stats import chisquare


class CountingStream:
    """A deterministic byte stream (SHAKE-256 of a seed and a counter) that counts what it serves."""

    def __init__(self, seed: bytes) -> None:
        self.seed, self.counter, self.served = seed, 0, 0

    def __call__(self, n: int) -> bytes:
        self.counter += 1
        self.served += n
        return hashlib.shake_256(self.seed + self.counter.to_bytes(8, "little")).digest(n)


def gof(samples: np.ndarray, log_weight: Callable[[np.ndarray], np.ndarray], support: int) -> float:
    """p-value of a chi-square test of ``samples`` against the pmf ~ exp(log_weight(x)) on |x| <= support."""
    xs = np.arange(-support, support + 1)
    pmf = np.exp(log_weight(xs))
    pmf /= pmf.sum()
    expected = pmf * samples.size
    observed = np.array([(samples == x).sum() for x in xs], dtype=float)
    keep = expected >= 5  # pool the sparse tails into one bin
    obs = np.append(observed[keep], observed[~keep].sum() + (np.abs(samples) > support).sum())
    exp = np.append(expected[keep], expected[~keep].sum())
    if exp[-1] < 5:
        obs[-2] += obs[-1]
        exp[-2] += exp[-1]
        obs, exp = obs[:-1], exp[:-1]
    return float(chisquare(obs, exp * obs.sum() / exp.sum()).pvalue)
