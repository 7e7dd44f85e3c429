"""CKKS parameter presets chosen for aggregation (add-only circuits).

Aggregation never multiplies two ciphertexts and, with clients pre-weighting
in plaintext, never multiplies by a plaintext either: the circuit is a chain
of additions. So the coefficient modulus needs one *data* prime ``q0`` (what a
ciphertext carries: 2 polynomials x N coefficients mod q0) plus the special
prime TenSEAL insists on for its key-switching keys, which never travels with
a ciphertext. Ciphertext size per value is therefore about
``2 * N * bits(q0) / 8 / (N/2) = bits(q0) / 2`` bytes before SEAL's zstd
compression, independent of N; the smallest ring (N = 2048) gives the
smallest public context and the fastest encryption.

All presets stay under the 128-bit limits of the Homomorphic Encryption
Security Standard (Albrecht et al., 2018, Table 1: log q <= 54 at N = 2048,
ternary secret).

Decoding is correct while ``|value| * scale < q0 / 2``; each preset keeps a
factor-2 margin (``max_abs``), which :class:`he.ckks.CKKSPublic` enforces on
the public bound ``clip * total weight`` of every aggregate. Fresh-encryption
noise divided by the scale sets the error; it grows like ``sqrt(clients)``.

How to pick (bytes per value and max abs error of the weighted mean of 1000
clients with values in [-1, 1], measured here, worst of 4 runs; tutorial: 2):

=========  =============  =====  ============  =======  =================
preset     primes         scale  bytes/value   max_abs  error, 1000 clnts
=========  =============  =====  ============  =======  =================
compact    [32, 22]       2^29   ~17           2        1.4e-4
standard   [37, 17]       2^34   ~23.6         2        3.4e-6
wide       [40, 14]       2^35   ~24.1         8        2.2e-6
tutorial   [60,40,40,60]  2^40   ~83 (N=8192)  2^18     2.3e-7
=========  =============  =====  ============  =======  =================

``"standard"`` (default) for weighted means of clipped updates (clients
pre-weight with ``n_i / sum n``); ``"wide"`` when the aggregate may reach
|8| (e.g. clip bounds above 2 or un-normalized weights); ``"compact"`` when
~1e-4 absolute error is acceptable and bandwidth rules. The error grows like
``sqrt(clients)``; ``error_1000_clients`` is the documented bound per preset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from he.errors import ParameterError

__all__ = ["CKKSPreset", "PRESETS", "DEFAULT_PRESET", "get_preset", "preset_for", "preset_for_bound"]

# 128-bit security limits on total log q, HE Security Standard (2018), Table 1.
_MAX_LOG_Q: Final = {2048: 54, 4096: 109, 8192: 218, 16384: 438, 32768: 881}


@dataclass(frozen=True)
class CKKSPreset:
    """One CKKS parameter set: ring degree, prime bit sizes, scale."""

    name: str
    poly_modulus_degree: int
    coeff_mod_bit_sizes: tuple[int, ...]
    scale_bits: int
    #: Measured max abs error of the weighted mean of 1000 clients (values in [-1, 1]).
    error_1000_clients: float

    def __post_init__(self) -> None:
        limit = _MAX_LOG_Q.get(self.poly_modulus_degree)
        if limit is None:
            raise ParameterError(f"unsupported poly_modulus_degree {self.poly_modulus_degree}")
        if len(self.coeff_mod_bit_sizes) < 2:
            raise ParameterError("TenSEAL needs at least two primes (data + special)")
        if sum(self.coeff_mod_bit_sizes) > limit:
            raise ParameterError(
                f"log q = {sum(self.coeff_mod_bit_sizes)} exceeds the 128-bit limit {limit} "
                f"for N = {self.poly_modulus_degree}"
            )
        if self.scale_bits >= self.coeff_mod_bit_sizes[0] - 1:
            raise ParameterError("scale must leave at least one bit of q0 for the integer part")

    @property
    def slots(self) -> int:
        """Values per ciphertext chunk."""
        return self.poly_modulus_degree // 2

    @property
    def max_chunk_bytes(self) -> int:
        """An upper bound on one serialized ciphertext chunk: 2 polynomials of N words per prime,
        uncompressed, plus SEAL's headers (its zstd compression only makes chunks smaller)."""
        return 2 * self.poly_modulus_degree * 8 * len(self.coeff_mod_bit_sizes) + 4096

    @property
    def max_abs(self) -> float:
        """Largest |aggregate value| decoded correctly, with a factor-2 margin."""
        return float(2.0 ** (self.coeff_mod_bit_sizes[0] - self.scale_bits - 2))


PRESETS: Final[dict[str, CKKSPreset]] = {
    p.name: p
    for p in (
        CKKSPreset("compact", 2048, (32, 22), 29, error_1000_clients=2.5e-4),
        CKKSPreset("standard", 2048, (37, 17), 34, error_1000_clients=6e-6),
        CKKSPreset("wide", 2048, (40, 14), 35, error_1000_clients=4e-6),
        # TenSEAL tutorial parameters (as shipped by NVIDIA FLARE): the peer in benchmarks.
        CKKSPreset("tutorial", 8192, (60, 40, 40, 60), 40, error_1000_clients=4e-7),
    )
}
DEFAULT_PRESET: Final = "standard"


def get_preset(preset: str | CKKSPreset) -> CKKSPreset:
    """Resolve a preset name (or pass a :class:`CKKSPreset` through)."""
    if isinstance(preset, CKKSPreset):
        return preset
    if not isinstance(preset, str) or preset not in PRESETS:
        raise ParameterError(f"unknown CKKS preset {preset!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[preset]


MIN_SCALE_BITS: Final = 20
"""The smallest scale :func:`preset_for_bound` goes down to: about 2^-20 relative precision per value."""


def preset_for_bound(max_abs: float) -> CKKSPreset:
    """The add-only parameters for aggregates up to ``|max_abs|`` (e.g. clip x the largest total weight,
    for clients that encrypt ``n_i x_i`` and a server that divides by ``sum n_i`` after decryption).

    ``"standard"`` up to 2, ``"wide"`` up to 8; beyond, the wide chain (N = 2048, primes [40, 14], about
    24 bytes per value, 128-bit security) with the scale lowered by one bit per doubling of the bound,
    ``scale_bits = 38 - ceil(log2 max_abs)``, down to :data:`MIN_SCALE_BITS` (bounds up to 2^18). The
    absolute error doubles with each bit taken off the scale: ``error_1000_clients`` scales the wide
    preset's measured error by ``2^(35 - scale_bits)`` (fresh-encryption noise over the scale).
    """
    if not (isinstance(max_abs, (int, float)) and math.isfinite(max_abs) and max_abs > 0):
        raise ParameterError(f"max_abs must be a positive finite number, got {max_abs!r}")
    for name in ("standard", "wide"):
        if max_abs <= PRESETS[name].max_abs:
            return PRESETS[name]
    wide = PRESETS["wide"]
    scale_bits = wide.coeff_mod_bit_sizes[0] - 2 - math.ceil(math.log2(max_abs))
    if scale_bits < MIN_SCALE_BITS:
        raise ParameterError(
            f"no add-only CKKS preset decodes aggregates up to {max_abs:g} (at most 2^{38 - MIN_SCALE_BITS}): "
            "encrypt normalized weights (n_i / max total) instead of raw example counts"
        )
    return preset_for(wide.poly_modulus_degree, wide.coeff_mod_bit_sizes, scale_bits)


def preset_for(poly_modulus_degree: int, coeff_mod_bit_sizes: tuple[int, ...], scale_bits: int) -> CKKSPreset:
    """The named preset with these parameters, or a validated ``"custom"`` one."""
    for preset in PRESETS.values():
        if (preset.poly_modulus_degree, preset.coeff_mod_bit_sizes, preset.scale_bits) == (
            poly_modulus_degree,
            coeff_mod_bit_sizes,
            scale_bits,
        ):
            return preset
    wide = PRESETS["wide"]
    on_wide_chain = (poly_modulus_degree, coeff_mod_bit_sizes) == (wide.poly_modulus_degree, wide.coeff_mod_bit_sizes)
    # On the wide chain the error is the fresh-encryption noise over the scale (preset_for_bound); else unknown.
    error = wide.error_1000_clients * 2.0 ** (wide.scale_bits - scale_bits) if on_wide_chain else math.nan
    return CKKSPreset("custom", poly_modulus_degree, coeff_mod_bit_sizes, scale_bits, error)
