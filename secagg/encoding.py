"""Fixed-point encoding of float vectors into the ring Z_{2^k}.

Secure aggregation sums integers modulo ``2^k``. A client's float update is
clipped to ``[-clip, clip]``, scaled by ``scale`` and rounded to the nearest
integer, then reduced mod ``2^k`` (two's complement). The scale is chosen so
that the sum of ``max_clients`` encoded values never leaves the signed range
``[-(2^(k-1) - 1), 2^(k-1) - 1]``: the modular sum then decodes to the exact
integer sum, and the only error is rounding, at most ``0.5 / scale`` per client
and coordinate (plus float64 rounding of the decoded value). The default scale
is the largest power of two that fits, so scaling itself is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.typing import NDArray

from secagg.errors import EncodingError

MAX_MODULUS_BITS = 64


def check_modulus_bits(bits: int) -> int:
    """Validate a ring size ``2^bits``; returns it."""
    if not isinstance(bits, int) or isinstance(bits, bool) or not 2 <= bits <= MAX_MODULUS_BITS:
        raise EncodingError(f"modulus_bits must be an integer in [2, {MAX_MODULUS_BITS}], got {bits!r}")
    return bits


@dataclass(frozen=True)
class FixedPointCodec:
    """Float <-> Z_{2^k} codec with clipping and headroom for ``max_clients`` summands.

    ``scale=None`` picks the finest scale that cannot wrap; an explicit scale is
    checked and refused with :class:`EncodingError` if the sum could wrap.
    """

    clip: float
    max_clients: int
    modulus_bits: int = 32
    scale: float | None = None

    def __post_init__(self) -> None:
        check_modulus_bits(self.modulus_bits)
        if not (isinstance(self.clip, (int, float)) and math.isfinite(self.clip) and self.clip > 0):
            raise EncodingError(f"clip must be a positive finite number, got {self.clip!r}")
        if not isinstance(self.max_clients, int) or self.max_clients < 1:
            raise EncodingError(f"max_clients must be a positive integer, got {self.max_clients!r}")
        limit = self.signed_limit
        if self.scale is None:
            scale = 2.0 ** (math.floor(math.log2(limit / (self.max_clients * self.clip))) + 1)
            while self.max_clients * self._peak(scale) > limit:
                scale /= 2
            if self._peak(scale) < 1:
                raise EncodingError(
                    f"{self.max_clients} clients cannot fit in {self.modulus_bits} bits: the ring holds sums "
                    f"up to +-{limit}, less than one unit per client"
                )
            object.__setattr__(self, "scale", scale)
        elif not (isinstance(self.scale, (int, float)) and math.isfinite(self.scale) and self.scale > 0):
            raise EncodingError(f"scale must be a positive finite number, got {self.scale!r}")
        elif self.max_clients * self._peak(self.scale) > limit:
            raise EncodingError(
                f"scale {self.scale} is too fine: {self.max_clients} clients with clip {self.clip} would wrap "
                f"a {self.modulus_bits}-bit ring"
            )

    def _peak(self, scale: float) -> int:
        """Largest magnitude one encoded coordinate can take (rounding is monotone, so exact)."""
        return int(np.rint(np.float64(self.clip) * np.float64(scale)))

    @property
    def signed_limit(self) -> int:
        """Largest magnitude the modular sum may take and still decode correctly."""
        return (1 << (self.modulus_bits - 1)) - 1

    @property
    def max_error_per_client(self) -> float:
        """Worst-case absolute rounding error per coordinate of one client's (clipped) value."""
        return 0.5 / self._scale

    def max_sum_error(self, clients: int) -> float:
        """Worst-case absolute error per coordinate of a decoded sum of ``clients`` encodings."""
        return clients * self.max_error_per_client

    @property
    def _scale(self) -> float:
        return cast(float, self.scale)  # resolved in __post_init__

    def encode(self, values: NDArray[np.floating] | NDArray[np.integer]) -> NDArray[np.uint64]:
        """Clip, scale, round and reduce a 1-D float vector into ``[0, 2^k)``."""
        array = np.asarray(values, dtype=np.float64)
        if array.ndim != 1:
            raise EncodingError(f"expected a 1-D vector, got shape {array.shape}")
        if not np.all(np.isfinite(array)):
            raise EncodingError("input contains NaN or infinity")
        clipped = np.clip(array, -self.clip, self.clip)
        signed = np.rint(clipped * self._scale).astype(np.int64)
        return _reduce(signed.view(np.uint64), self.modulus_bits)

    def decode_sum(self, total: NDArray[np.integer]) -> NDArray[np.float64]:
        """Decode a modular sum of at most ``max_clients`` encodings back to floats."""
        words = np.asarray(total)
        if words.ndim != 1 or not np.issubdtype(words.dtype, np.integer):
            raise EncodingError(f"expected a 1-D integer vector, got {words.dtype} of shape {words.shape}")
        unsigned = words.astype(np.uint64)
        if words.size and (int(words.min()) < 0 or int(unsigned.max()) >> self.modulus_bits):
            raise EncodingError(f"sum has words outside [0, 2^{self.modulus_bits})")
        return to_signed(unsigned, self.modulus_bits).astype(np.float64) / self._scale


def _reduce(words: NDArray[np.uint64], bits: int) -> NDArray[np.uint64]:
    if bits == 64:
        return words
    return words & np.uint64((1 << bits) - 1)


def to_signed(words: NDArray[np.uint64], bits: int) -> NDArray[np.int64]:
    """Interpret words of Z_{2^bits} as two's-complement integers (sign-extending shift)."""
    shift = np.uint64(64 - bits)
    return (np.asarray(words, dtype=np.uint64) << shift).view(np.int64) >> np.int64(64 - bits)
