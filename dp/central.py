"""Central DP: the server adds noise to the sum of clipped updates.

The noise is an exact discrete Gaussian on a fine lattice g*Z^d drawn from a CSPRNG, never
floating-point Gaussian noise (whose low-order bits leak: Mironov, CCS 2012). The sum is first
rounded to the lattice, which can move neighbouring sums apart by at most sqrt(d) lattice steps,
so the accounted l2-sensitivity is l2_clip/g + sqrt(d) (a 2^-granularity_bits relative increase).
Privacy follows Canonne, Kamath, Steinke 2020 (discrete Gaussian as a single-summand case of
Kairouz, Liu, Steinke 2021, Prop. 14).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from dp._validate import MAX_DIMENSION, MAX_NOISE, check_int, check_real
from dp.csprng import CsprngSource
from dp.discrete import discrete_gaussian
from dp.distributed_math import integer_l1_bound
from dp.errors import InvalidParameterError
from dp.events import DiscreteGaussianSumEvent, Event, PoissonSampledEvent


@dataclass
class GaussianMechanism:
    """Adds discrete Gaussian noise of std ``noise_multiplier * l2_clip`` (up to lattice rounding)
    to a sum of updates each clipped to ``l2_clip``."""

    l2_clip: float
    noise_multiplier: float
    dimension: int
    granularity_bits: int = 10
    source: CsprngSource = field(default_factory=CsprngSource, repr=False)

    def __post_init__(self) -> None:
        check_real("l2_clip", self.l2_clip, low=0.0, low_open=True)
        check_real("noise_multiplier", self.noise_multiplier, low=0.0, low_open=True, high=MAX_NOISE)
        check_int("dimension", self.dimension, low=1, high=MAX_DIMENSION)
        check_int("granularity_bits", self.granularity_bits, low=0, high=30)
        #: lattice step: sqrt(d) lattice steps are 2^-bits of the clip
        self.granularity = self.l2_clip / (math.sqrt(self.dimension) * 2.0**self.granularity_bits)
        sigma = self.noise_multiplier * self.l2_clip / self.granularity
        self.lattice_variance = Fraction(sigma**2).limit_denominator(1 << 16)
        self.l2_sensitivity = self.l2_clip / self.granularity + math.sqrt(self.dimension)

    def add_noise(self, total: np.ndarray) -> np.ndarray:
        """The noisy sum: ``total`` rounded to the lattice plus exact discrete Gaussian noise."""
        arr = np.asarray(total, dtype=float)
        if arr.shape != (self.dimension,) or not np.all(np.isfinite(arr)):
            raise InvalidParameterError(f"total must be a finite array of shape ({self.dimension},)")
        lattice = np.rint(arr / self.granularity)
        noise = discrete_gaussian(self.source, self.lattice_variance, self.dimension)
        return (lattice + noise) * self.granularity

    def round_event(self, sample_rate: float = 1.0) -> Event:
        """The event of one noisy release, Poisson-sampled at ``sample_rate``."""
        base = DiscreteGaussianSumEvent(
            sigma=math.sqrt(float(self.lattice_variance)),
            l2_sensitivity=self.l2_sensitivity,
            l1_sensitivity=integer_l1_bound(self.l2_sensitivity, self.dimension),
            dimension=self.dimension,
            num_clients=1,
        )
        return base if sample_rate == 1 else PoissonSampledEvent(sample_rate, base)
