"""Distributed DP with secure aggregation: integer noise that sums correctly modulo 2^k.

One pipeline, two noises. Client side (``encode``; Kairouz, Liu, Steinke, ICML 2021, Alg. 1, and
Agarwal, Kairouz, Liu, NeurIPS 2021, Alg. 1): clip to ``l2_clip``, randomized Hadamard rotation
with public signs, scale by 1/gamma, conditional randomized rounding (retry until the integer
vector's norm is within the bound the accounting uses), add integer noise drawn exactly from a
CSPRNG, reduce modulo 2^modulus_bits. Server side (``decode_sum``, Alg. 2 of both papers): map
the modular sum to signed integers, unscale, inverse rotation, truncate the padding.

* ``DistributedDiscreteGaussian``: discrete Gaussian noise N_Z(0, sigma_int^2) per client,
  accounted as a ``DiscreteGaussianSumEvent`` (KLS 2021, Prop. 14).
* ``DistributedSkellam``: Skellam noise of variance sigma_int^2 per client; the sum of n such is
  exactly Skellam(n sigma_int^2), accounted as a ``SkellamSumEvent`` (AKL 2021, Cor. 3.6).

Noise is split over ``expected_clients``: each adds variance sigma_int^2 with
sigma_int = noise_multiplier * l2_clip / (sqrt(expected_clients) * gamma), so the sum carries the
central noise noise_multiplier * l2_clip when every expected client survives. Accounting uses the
number of clients whose noise is certainly in the sum (``contributing_clients``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from fractions import Fraction
from typing import ClassVar, TypeVar

import numpy as np

from dp import rotation
from dp._validate import MAX_DIMENSION, MAX_NOISE, check_int, check_real
from dp.calibration import calibrate_noise
from dp.clipping import clip_l2
from dp.csprng import CsprngSource
from dp.discrete import discrete_gaussian
from dp.distributed_math import integer_l1_bound, rounded_l2_bound
from dp.errors import CalibrationError, InvalidParameterError, SamplerError
from dp.events import DiscreteGaussianSumEvent, Event, PoissonSampledEvent, SkellamSumEvent
from dp.poisson import MAX_VARIANCE, skellam

_MAX_ROUNDING_TRIES = 1000
_M = TypeVar("_M", bound="DistributedIntegerMechanism")


@dataclass
class DistributedIntegerMechanism(ABC):
    """The shared encoder/decoder pipeline (see the module docstring); a subclass supplies its
    noise (``_noise``) and the accounting event of its noise sum (``_sum_event``)."""

    #: the largest per-client variance the noise sampler takes; gamma is coarsened to stay below
    max_local_variance: ClassVar[float] = math.inf

    l2_clip: float
    noise_multiplier: float
    modulus_bits: int
    dimension: int
    expected_clients: int
    rotation_seed: bytes
    beta: float = math.exp(-0.5)
    headroom_stddevs: float = 4.0
    source: CsprngSource = field(default_factory=CsprngSource, repr=False)

    def __post_init__(self) -> None:
        check_real("l2_clip", self.l2_clip, low=0.0, low_open=True)
        check_real("noise_multiplier", self.noise_multiplier, low=0.0, low_open=True, high=MAX_NOISE)
        check_int("modulus_bits", self.modulus_bits, low=2, high=62)
        check_int("dimension", self.dimension, low=1, high=MAX_DIMENSION)
        check_int("expected_clients", self.expected_clients, low=1)
        check_real("beta", self.beta, low=0.0, high=1.0, high_open=True)
        check_real("headroom_stddevs", self.headroom_stddevs, low=0.0, low_open=True)
        self.padded_dimension = rotation.padded_dimension(self.dimension)
        self._signs = rotation.signs_from_seed(self.rotation_seed, self.padded_dimension)
        self.gamma = self._granularity()
        sigma = self.noise_multiplier * self.l2_clip / (math.sqrt(self.expected_clients) * self.gamma)
        #: per-client variance on the integer lattice, an exact rational
        self.local_variance = Fraction(sigma**2).limit_denominator(1 << 16)
        if self.local_variance <= 0:
            raise InvalidParameterError("the per-client noise variance rounds to zero; raise noise_multiplier")
        self.l2_bound = rounded_l2_bound(self.l2_clip / self.gamma, self.padded_dimension, self.beta)
        self.l1_bound = integer_l1_bound(self.l2_bound, self.padded_dimension)

    def _granularity(self) -> float:
        """gamma such that the modular sum's std times ``headroom_stddevs`` fits in half the ring:
        per coordinate, var = n (c/gamma)^2/d + n/4 + z^2 c^2/gamma^2 (rotation, rounding, noise);
        coarser where needed to keep the per-client variance within ``max_local_variance``."""
        n, c, z, d = self.expected_clients, self.l2_clip, self.noise_multiplier, self.padded_dimension
        room = (2.0 ** (self.modulus_bits - 1) / self.headroom_stddevs) ** 2 - n / 4
        if room <= 0:
            raise CalibrationError(
                f"{self.modulus_bits} modulus bits cannot hold the rounding noise of "
                f"{n} clients; use more bits or fewer clients per round"
            )
        headroom_gamma = math.sqrt((n * c * c / d + z * z * c * c) / room)
        return max(headroom_gamma, z * c / math.sqrt(n * self.max_local_variance))

    @property
    def modulus(self) -> int:
        return 1 << self.modulus_bits

    def encode(self, x: np.ndarray) -> np.ndarray:
        """A client's update as uint64 values in [0, 2^modulus_bits), length ``padded_dimension``."""
        return self.noised(self.integerize(x), self._noise())

    def integerize(self, x: np.ndarray) -> np.ndarray:
        """Clip, rotate, scale and conditionally round one update (no noise yet): int64 values."""
        arr = np.asarray(x, dtype=float)
        if arr.shape != (self.dimension,):
            raise InvalidParameterError(f"update must have shape ({self.dimension},), got {arr.shape}")
        scaled = rotation.rotate(clip_l2(arr, self.l2_clip), self._signs) / self.gamma
        return self._conditional_round(scaled)

    def noised(self, rounded: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """``rounded + noise`` reduced into the ring, as uint64 words."""
        return np.mod(rounded + noise, self.modulus).astype(np.uint64)

    @abstractmethod
    def _noise(self) -> np.ndarray:
        """One client's integer noise vector of variance ``local_variance`` per coordinate."""

    @abstractmethod
    def _sum_event(self, contributing_clients: int) -> Event:
        """The event of the rounded vector plus the noise of ``contributing_clients`` clients."""

    def _conditional_round(self, v: np.ndarray) -> np.ndarray:
        """Randomized rounding repeated until ||y||_2 <= l2_bound (KLS 2021, Sec. 4)."""
        floor = np.floor(v)
        frac_thr = np.minimum(np.floor((v - floor) * 2.0**53), 2.0**53).astype(np.uint64)
        bound_sq = self.l2_bound**2 * (1 - 1e-12)
        for _ in range(_MAX_ROUNDING_TRIES):
            up = (self.source.words(v.size) >> np.uint64(11)) < frac_thr
            y = floor.astype(np.int64) + up
            if float(np.dot(y.astype(float), y.astype(float))) <= bound_sq:
                return y
        raise SamplerError(f"conditional rounding failed {_MAX_ROUNDING_TRIES} times; raise beta")

    def decode_sum(self, total: np.ndarray) -> np.ndarray:
        """The float sum of the clients' clipped updates (plus the noise) from their modular sum."""
        arr = np.asarray(total)
        if arr.shape != (self.padded_dimension,):
            raise InvalidParameterError(f"modular sum must have shape ({self.padded_dimension},), got {arr.shape}")
        if arr.dtype.kind not in "ui":
            raise InvalidParameterError(f"modular sum must be an integer array, got dtype {arr.dtype}")
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= self.modulus):
            raise InvalidParameterError(f"modular sum values must lie in [0, 2^{self.modulus_bits})")
        signed = arr.astype(np.int64)
        signed = np.where(signed >= self.modulus // 2, signed - self.modulus, signed)  # modular clip
        return rotation.unrotate(signed.astype(float) * self.gamma, self._signs, self.dimension)

    def round_event(self, sample_rate: float = 1.0, contributing_clients: int | None = None) -> Event:
        """The event of one round; ``contributing_clients`` (default expected_clients) must be the
        number of clients whose noise is certainly in the sum, e.g. the SecAgg survivors."""
        n = self.expected_clients if contributing_clients is None else contributing_clients
        check_int("contributing_clients", n, low=1)
        base = self._sum_event(n)
        return base if sample_rate == 1 else PoissonSampledEvent(sample_rate, base)

    def epsilon(self, rounds: int, sample_rate: float, delta: float, contributing_clients: int | None = None) -> float:
        """Epsilon (RDP accountant) after ``rounds`` identical rounds."""
        # Imported here: a client that only encodes never loads the accountant's scipy machinery.
        from dp.rdp_accountant import RdpAccountant

        return RdpAccountant().compose(self.round_event(sample_rate, contributing_clients), rounds).epsilon(delta)

    @classmethod
    def calibrate(
        cls: type[_M],
        target_epsilon: float,
        delta: float,
        rounds: int,
        sample_rate: float,
        modulus_bits: int,
        l2_clip: float,
        dimension: int,
        expected_clients: int,
        rotation_seed: bytes,
        **kwargs: object,
    ) -> _M:
        """The mechanism with the smallest noise multiplier meeting (target_epsilon, delta) after
        ``rounds``; ``CalibrationError`` if no noise can at this bit width (rounding and modular
        headroom put a floor under epsilon)."""

        def make(z: float) -> _M:
            return cls(l2_clip, z, modulus_bits, dimension, expected_clients, rotation_seed, **kwargs)  # type: ignore[arg-type]

        try:
            z = calibrate_noise(lambda z: make(z).epsilon(rounds, sample_rate, delta), target_epsilon)
        except CalibrationError as err:
            raise CalibrationError(
                f"epsilon {target_epsilon} at delta {delta} over {rounds} rounds cannot be "
                f"met with {modulus_bits} modulus bits: {err}"
            ) from err
        return make(z)


@dataclass
class DistributedDiscreteGaussian(DistributedIntegerMechanism):
    """Distributed discrete Gaussian (Kairouz, Liu, Steinke, ICML 2021); see the module docstring."""

    def _noise(self) -> np.ndarray:
        return discrete_gaussian(self.source, self.local_variance, self.padded_dimension)

    def _sum_event(self, contributing_clients: int) -> Event:
        return DiscreteGaussianSumEvent(
            sigma=math.sqrt(float(self.local_variance)),
            l2_sensitivity=self.l2_bound,
            l1_sensitivity=self.l1_bound,
            dimension=self.padded_dimension,
            num_clients=contributing_clients,
        )


@dataclass
class DistributedSkellam(DistributedIntegerMechanism):
    """Distributed Skellam mechanism (Agarwal, Kairouz, Liu, NeurIPS 2021, Sec. 4); see the module
    docstring. The per-client variance is kept within the exact sampler's range (half of
    ``dp.poisson.MAX_VARIANCE``) by a coarser gamma where needed; at that variance the rounding
    adds a relative d z^2 / (4 n var) to the squared sensitivity, negligible for practical models."""

    max_local_variance: ClassVar[float] = MAX_VARIANCE / 2

    def _noise(self) -> np.ndarray:
        return skellam(self.source, self.local_variance, self.padded_dimension)

    def _sum_event(self, contributing_clients: int) -> Event:
        return SkellamSumEvent(
            variance=contributing_clients * float(self.local_variance),
            l2_sensitivity=self.l2_bound,
            l1_sensitivity=self.l1_bound,
        )
