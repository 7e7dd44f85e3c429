"""Quantization and packing of many values into one Paillier plaintext.

BatchCrypt (Zhang et al., USENIX ATC 2020, its batch-encryption design) quantizes gradients to
b-bit integers and concatenates them into one big plaintext, so one Paillier
operation works on a whole batch. Two choices differ from the paper here:

* signs are handled by an **offset** encoding, ``q = round((x + c) / (2c) *
  (2^b - 1))`` in ``[0, 2^b - 1]``, instead of two's complement; with a public
  total weight ``W`` the sum decodes exactly as ``S * step - c * W``;
* every slot has ``ceil(log2(W_max * (2^b - 1) + 1))`` bits, so the weighted
  sum of up to ``W_max`` total weight can never carry into its neighbour. The
  headroom is checked *before* aggregating (:meth:`PackingLayout.check_headroom`)
  and again on unpacking, so an overflow raises instead of decoding garbage.

Pure integer/numpy code: no randomness, no keys.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from fedsecure import checks
from fedsecure.errors import shown
from he.errors import PackingOverflowError, ParameterError

__all__ = ["PackingLayout", "MIN_BITS", "MAX_BITS"]

MIN_BITS: Final = 2
MAX_BITS: Final = 32
_MAX_SLOT_BITS: Final = 62  # slots are summed in uint64 when unpacking
_BLOCK: Final = 1 << 16  # values per numpy block, bounds temporary memory


@dataclass(frozen=True)
class PackingLayout:
    """How b-bit quantized values sit in the slots of a ``plaintext_bits`` integer."""

    bits: int
    clip: float
    max_total_weight: int
    plaintext_bits: int

    def __post_init__(self) -> None:
        set_field = object.__setattr__
        set_field(self, "bits", checks.integer("bits", self.bits, error=ParameterError, low=MIN_BITS, high=MAX_BITS))
        set_field(self, "clip", checks.real("clip", self.clip, error=ParameterError, low=0.0, low_open=True))
        set_field(
            self,
            "max_total_weight",
            checks.integer("max_total_weight", self.max_total_weight, error=ParameterError, low=1),
        )
        if self.slot_bits > _MAX_SLOT_BITS:
            raise ParameterError(
                f"{self.bits}-bit values with total weight {shown(self.max_total_weight)} need "
                f"{self.slot_bits}-bit slots; at most {_MAX_SLOT_BITS} are supported"
            )
        # Decoding computes sums * step - clip * W with sums up to W (2^b - 1): both must stay finite,
        # and a step that underflows to zero (or a subnormal) could not quantize at all.
        if not (math.isfinite(2.0 * self.clip * self.max_total_weight) and self.step >= sys.float_info.min):
            raise ParameterError(
                f"clip {self.clip} with total weight {self.max_total_weight} and {self.bits}-bit values "
                "cannot be quantized and decoded in float64"
            )
        if self.per_plaintext < 1:
            raise ParameterError(f"a {self.slot_bits}-bit slot does not fit a {self.plaintext_bits}-bit plaintext")

    @property
    def levels(self) -> int:
        """Largest quantized value, ``2^b - 1``."""
        return (1 << self.bits) - 1

    @property
    def step(self) -> float:
        """Quantization step: one integer unit in the original scale."""
        return 2.0 * self.clip / self.levels

    @property
    def slot_bits(self) -> int:
        """Bits per slot: enough for ``max_total_weight * (2^b - 1)``."""
        return (self.max_total_weight * self.levels).bit_length()

    @property
    def per_plaintext(self) -> int:
        """Values per plaintext; the packed integer stays below ``2^plaintext_bits``."""
        return self.plaintext_bits // self.slot_bits

    def chunks_for(self, length: int) -> int:
        """Plaintexts (ciphertexts) needed for ``length`` values."""
        return -(-length // self.per_plaintext)

    def error_bound(self, total_weight: int) -> float:
        """Max abs error of a decoded weighted sum: half a step per unit of weight."""
        return total_weight * self.step / 2.0

    def check_headroom(self, total_weight: int) -> None:
        """Raise :class:`PackingOverflowError` if ``total_weight`` could overflow a slot."""
        if total_weight > self.max_total_weight:
            raise PackingOverflowError(
                f"total weight {total_weight} exceeds the packing headroom {self.max_total_weight} "
                f"({self.bits}-bit values in {self.slot_bits}-bit slots)"
            )

    def quantize(self, values: np.ndarray, weight: int = 1) -> np.ndarray:
        """Map clipped floats to ``weight * q`` with ``q`` in ``[0, 2^b - 1]`` (uint64)."""
        self.check_headroom(weight)
        scaled = np.rint((np.clip(values, -self.clip, self.clip) + self.clip) / self.step)
        return scaled.astype(np.uint64) * np.uint64(weight)

    def dequantize(self, sums: np.ndarray, total_weight: int) -> np.ndarray:
        """Decode slot sums of total weight ``W`` to the weighted sum of the inputs."""
        return sums.astype(np.float64) * self.step - self.clip * total_weight

    def pack(self, quantized: np.ndarray) -> list[int]:
        """Concatenate slots little-endian: value ``j`` of a chunk at bit ``j * slot_bits``."""
        per = self.per_plaintext
        padded = np.zeros(self.chunks_for(quantized.size) * per, dtype=np.uint64)
        padded[: quantized.size] = quantized
        shifts = np.arange(self.slot_bits, dtype=np.uint64)
        rows: list[int] = []
        for start in range(0, padded.size, _BLOCK - _BLOCK % per):
            block = padded[start : start + _BLOCK - _BLOCK % per]
            bits = ((block[:, None] >> shifts) & np.uint64(1)).astype(np.uint8)
            bits = bits.reshape(-1, per * self.slot_bits)
            packed = np.packbits(bits, axis=1, bitorder="little")
            rows.extend(int.from_bytes(row.tobytes(), "little") for row in packed)
        return rows

    def unpack(self, plaintexts: Sequence[int], length: int) -> np.ndarray:
        """Inverse of :meth:`pack`; a plaintext wider than its slots means overflow."""
        if len(plaintexts) != self.chunks_for(length):
            raise ParameterError(f"{len(plaintexts)} plaintexts cannot hold exactly {length} values")
        width = self.per_plaintext * self.slot_bits
        nbytes = -(-width // 8)
        if any(p < 0 or p >> width for p in plaintexts):
            raise PackingOverflowError("decrypted plaintext exceeds its packing width (headroom overflow)")
        weights = np.uint64(1) << np.arange(self.slot_bits, dtype=np.uint64)
        out = []
        rows_per_block = max(1, _BLOCK // self.per_plaintext)
        for start in range(0, len(plaintexts), rows_per_block):
            block = plaintexts[start : start + rows_per_block]
            raw = np.frombuffer(b"".join(int(p).to_bytes(nbytes, "little") for p in block), dtype=np.uint8)
            bits = np.unpackbits(raw.reshape(len(block), nbytes), axis=1, bitorder="little")[:, :width]
            out.append(bits.reshape(-1, self.slot_bits).astype(np.uint64) @ weights)
        values = np.concatenate(out) if out else np.zeros(0, dtype=np.uint64)
        return values[:length]
