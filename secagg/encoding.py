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

from fedsecure import checks
from secagg.errors import EncodingError

MAX_MODULUS_BITS = 64


def check_modulus_bits(bits: object) -> int:
    """Validate a ring size ``2^bits``; returns it."""
    return checks.integer("modulus_bits", bits, error=EncodingError, low=2, high=MAX_MODULUS_BITS)


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
        object.__setattr__(self, "clip", checks.real("clip", self.clip, error=EncodingError, low=0.0, low_open=True))
        object.__setattr__(
            self, "max_clients", checks.integer("max_clients", self.max_clients, error=EncodingError, low=1)
        )
        limit = self.signed_limit
        if self.max_clients > limit:
            raise EncodingError(
                f"{self.max_clients} clients cannot fit in {self.modulus_bits} bits: the ring holds sums "
                f"up to +-{limit}, less than one unit per client"
            )
        if self.scale is None:
            object.__setattr__(self, "scale", self._finest_scale(limit // self.max_clients))
        else:
            object.__setattr__(self, "scale", self._checked_scale(self.scale, limit))

    def _checked_scale(self, scale: object, limit: int) -> float:
        value = checks.real("scale", scale, error=EncodingError, low=0.0, low_open=True)
        peak = self._peak(value)
        if peak is None or self.max_clients * peak > limit:
            raise EncodingError(
                f"scale {scale} is too fine: {self.max_clients} clients with clip {self.clip} would wrap "
                f"a {self.modulus_bits}-bit ring"
            )
        return value

    def _finest_scale(self, per_client: int) -> float:
        """The largest power of two ``2^e`` with ``round(clip * 2^e) <= per_client``, computed exactly."""
        _, exponent = math.frexp(self.clip)  # clip = f * 2^exponent, 1/2 <= f < 1
        e = per_client.bit_length() - exponent
        while round(math.ldexp(self.clip, e)) > per_client:
            e -= 1
        if round(math.ldexp(self.clip, e)) < 1:
            raise EncodingError(f"clip {self.clip} leaves less than one unit per client in {self.modulus_bits} bits")
        try:
            return math.ldexp(1.0, e)
        except OverflowError:
            raise EncodingError(
                f"clip {self.clip} is too small: the scale it needs, 2^{e}, is not a finite float"
            ) from None

    def _peak(self, scale: float) -> int | None:
        """Largest magnitude one encoded coordinate can take (rounding is monotone, so exact);
        ``None`` when ``clip * scale`` is not a finite float."""
        product = self.clip * scale
        return round(product) if math.isfinite(product) else None

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
