"""Per-update L2 clipping, fixed and adaptive.

Adaptive clipping follows Andrew, Thakkar, McMahan, Ramaswamy, "Differentially Private Learning
with Adaptive Clipping", NeurIPS 2021 (Alg. 1): each client reports whether its update norm is at
most the current clip, the server sums the centred bits with Gaussian noise and moves the clip
geometrically towards the target quantile. Its privacy cost is expressed as an event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dp._validate import check_real
from dp.errors import InvalidParameterError
from dp.events import GaussianEvent, PoissonSampledEvent


def clip_l2(x: np.ndarray, bound: float) -> np.ndarray:
    """``x`` scaled by min(1, bound / ||x||_2): a copy whose L2 norm is at most ``bound``."""
    bound = check_real("bound", bound, low=0.0)
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidParameterError(f"x must be an array of real numbers: {exc}") from None
    if not np.all(np.isfinite(arr)):
        raise InvalidParameterError("x must contain only finite values")
    peak = float(np.max(np.abs(arr))) if arr.size else 0.0
    norm = peak * float(np.linalg.norm(arr / peak)) if peak > 0 else 0.0  # scaled first: no overflow to inf
    return arr * (bound / norm) if norm > bound else arr.copy()


def combined_noise_multiplier(update_noise: float, count_noise: float) -> float:
    """The single Gaussian equivalent to releasing the update sum with noise multiplier
    ``update_noise`` and the clip-count with noise multiplier ``count_noise`` on the same sample:
    (z1^-2 + z2^-2)^-1/2 (composition of Gaussians is a Gaussian on the concatenated query)."""
    return (update_noise**-2 + count_noise**-2) ** -0.5


def update_noise_for_total(total_noise: float, count_noise: float) -> float:
    """Noise multiplier for the updates that keeps the combined one at ``total_noise``
    (Andrew et al. 2021, Thm. 1); ``InvalidParameterError`` if the count noise is too small."""
    rest = total_noise**-2 - count_noise**-2
    if rest <= 0:
        raise InvalidParameterError(f"count noise multiplier {count_noise} must exceed the total {total_noise}")
    return rest**-0.5


@dataclass
class AdaptiveClipper:
    """Geometric quantile tracking of the clip norm (Andrew et al. 2021, Sec. 3).

    ``count_stddev`` is the std of the Gaussian noise on the sum of centred bits (b_i - 1/2),
    whose add/remove sensitivity is 1/2; ``expected_clients`` normalizes the noisy count.
    """

    clip: float
    target_quantile: float = 0.5
    learning_rate: float = 0.2
    count_stddev: float = 1.0
    expected_clients: float = 10.0

    def __post_init__(self) -> None:
        check_real("clip", self.clip, low=0.0, low_open=True)
        check_real("target_quantile", self.target_quantile, low=0.0, high=1.0)
        check_real("learning_rate", self.learning_rate, low=0.0)
        check_real("count_stddev", self.count_stddev, low=0.0, low_open=True)
        check_real("expected_clients", self.expected_clients, low=0.0, low_open=True)

    def clip_bit(self, update: np.ndarray) -> float:
        """A client's centred indicator: +1/2 if ||update|| <= clip else -1/2."""
        return 0.5 if float(np.linalg.norm(np.asarray(update, dtype=float))) <= self.clip else -0.5

    @property
    def count_noise_multiplier(self) -> float:
        """Noise multiplier of the count release (std / sensitivity 1/2)."""
        return 2.0 * self.count_stddev

    def update(self, noisy_bit_sum: float) -> float:
        """Move the clip given the noisy sum of centred bits; returns the new clip."""
        noisy = check_real("noisy_bit_sum", noisy_bit_sum)
        below = noisy / self.expected_clients + 0.5  # estimated fraction of updates under the clip
        self.clip = self.clip * math.exp(-self.learning_rate * (below - self.target_quantile))
        return self.clip

    def round_event(self, update_noise_multiplier: float, sample_rate: float) -> PoissonSampledEvent:
        """The event of one round releasing both the noisy update sum and the noisy count."""
        z = combined_noise_multiplier(update_noise_multiplier, self.count_noise_multiplier)
        return PoissonSampledEvent(sample_rate, GaussianEvent(z))
