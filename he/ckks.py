"""CKKS aggregation through TenSEAL (Cheon, Kim, Kim, Song, ASIACRYPT 2017).

The key holder generates a CKKS context and hands out a public copy (public
key only: no secret, relinearization or Galois keys, which an add-only
aggregation never needs). Clients encrypt a flat update chunk by chunk (one
TenSEAL ``CKKSVector`` per ``N/2`` slots, so TenSEAL never splits a vector
itself and never prints its stdout warning); the server adds ciphertexts;
only the key holder decrypts.

Weights are applied by the *clients*, in plaintext, through
``encrypt(vector, weight=w)``: a plaintext multiply on the server would
consume a level that the add-only presets of :mod:`he.ckks_presets` do not
have. Pass ``w = n_i / sum_j n_j`` (the total is public in FedAvg) so the
decrypted aggregate is the weighted mean and stays inside the preset's
``max_abs``. ``aggregate(cts, weights)`` then only checks the declared
weights (see :mod:`he.interface`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import numpy as np
import tenseal as ts

from fedsecure import checks
from fedsecure.wire import Kind, Reader, Writer
from he.ciphertext import EncryptedVector, check_compatible, fingerprint, open_ciphertext, write_header
from he.ckks_presets import DEFAULT_PRESET, CKKSPreset, get_preset, preset_for, preset_for_bound
from he.errors import (
    ContextMismatchError,
    MalformedCiphertextError,
    MalformedKeyError,
    PackingOverflowError,
    ParameterError,
)
from he.inputs import as_update, check_weight, plan_weights

__all__ = ["CKKSScheme", "CKKSKeyHolder", "CKKSPublic", "CKKSCiphertext"]

MAX_PUBLIC_BYTES: Final = 1 << 26
"""Largest public-context frame accepted (a `wide` N = 2048 context is about 100 kB)."""


class CKKSCiphertext(EncryptedVector[float]):
    """Encryption of one flat vector as a list of TenSEAL CKKS vectors."""

    def __init__(
        self,
        chunks: list[ts.CKKSVector],
        length: int,
        dtype: np.dtype,
        weight: float,
        weighted: bool,
        key_id: bytes,
    ) -> None:
        super().__init__(length, dtype, weight, weighted, key_id)
        self._chunks = chunks
        self._serialized: bytes | None = None

    @property
    def chunks(self) -> list[ts.CKKSVector]:
        return self._chunks

    @property
    def nbytes(self) -> int:
        return len(self.serialize())

    def serialize(self) -> bytes:
        """Header (key id, length, dtype, weight) then length-prefixed SEAL chunks."""
        if self._serialized is None:
            out = Writer(Kind.CKKS_CIPHERTEXT)
            write_header(out, self, len(self._chunks))
            for chunk in self._chunks:
                out.blob(chunk.serialize())
            self._serialized = out.finish()
        return self._serialized


class CKKSPublic:
    """Public side of a CKKS key: encrypt (clients) and aggregate (server)."""

    def __init__(self, data: bytes) -> None:
        reader = Reader(
            data, Kind.CKKS_PUBLIC, max_bytes=MAX_PUBLIC_BYTES, what="CKKS public key", error=MalformedKeyError
        )
        degree = reader.u32("poly_modulus_degree")
        chain = tuple(reader.u8("coefficient prime size") for _ in range(reader.u8("prime count")))
        scale_bits = reader.u8("scale bits")
        clip = reader.f64("clip bound")
        context_bytes = reader.blob(MAX_PUBLIC_BYTES, "TenSEAL context")
        reader.done()
        try:
            self.preset = preset_for(degree, chain, scale_bits)
        except ParameterError as exc:
            raise MalformedKeyError(f"invalid CKKS parameters in public key: {exc}") from exc
        if not (math.isfinite(clip) and 0 < clip <= self.preset.max_abs):
            raise MalformedKeyError(f"clip bound {clip!r} outside (0, {self.preset.max_abs}]")
        self.clip = clip
        self._context = _load_public_context(context_bytes, self.preset)
        self._bytes = bytes(data)
        self.key_id = fingerprint(self._bytes)

    def serialize(self) -> bytes:
        return self._bytes

    @property
    def context(self) -> ts.Context:
        return self._context

    def encrypt(self, vector: np.ndarray, weight: float | None = None) -> CKKSCiphertext:
        """Encrypt ``weight * clip(vector)`` chunk by chunk; ``weight`` is declared publicly."""
        values, dtype = as_update(vector, self.clip)
        declared = weight is not None
        factor = check_weight(weight, integral=False) if declared else 1.0
        if self.clip * factor > self.preset.max_abs:
            raise PackingOverflowError(
                f"clip {self.clip} x weight {factor} exceeds the preset bound {self.preset.max_abs}; "
                "normalize weights by the public total weight"
            )
        if declared:
            values = values * factor
        slots = self.preset.slots
        chunks = [ts.ckks_vector(self._context, values[i : i + slots].tolist()) for i in range(0, values.size, slots)]
        return CKKSCiphertext(chunks, values.size, dtype, factor, declared, self.key_id)

    def aggregate(
        self, ciphertexts: Sequence[CKKSCiphertext], weights: Sequence[float] | None = None
    ) -> CKKSCiphertext:
        """Sum ciphertexts (add-only); weights must already be applied by the clients."""
        first = self._check_compatible(ciphertexts)
        to_apply, total = plan_weights(ciphertexts, weights, integral=False)
        if any(w is not None for w in to_apply):
            raise ParameterError(
                "CKKS weights are applied by clients: encrypt(vector, weight=w); the add-only "
                "presets keep no level for a server-side plaintext multiply"
            )
        if self.clip * total > self.preset.max_abs:
            raise PackingOverflowError(
                f"aggregate bound clip x total weight = {self.clip * total} exceeds the preset "
                f"bound {self.preset.max_abs}; pre-weight with normalized weights"
            )
        if len(ciphertexts) == 1:  # chunks are never mutated after creation: share them
            sums = list(first.chunks)
        else:  # a + b allocates the accumulators, later terms add in place
            sums = [a + b for a, b in zip(first.chunks, ciphertexts[1].chunks, strict=True)]
            for ct in ciphertexts[2:]:
                for acc, chunk in zip(sums, ct.chunks, strict=True):
                    acc.add_(chunk)
        return CKKSCiphertext(sums, first.length, first.dtype, total, True, self.key_id)

    def load_ciphertext(self, data: bytes) -> CKKSCiphertext:
        """Parse and validate ciphertext bytes from a client or the server."""
        reader, header = open_ciphertext(data, Kind.CKKS_CIPHERTEXT, self.key_id, integral=False, under="CKKS context")
        slots, length = self.preset.slots, header.length
        if header.count != -(-length // slots):
            raise MalformedCiphertextError(f"{header.count} chunks cannot hold {length} values")
        chunks = []
        for index in range(header.count):
            expected = min(slots, length - index * slots)
            chunks.append(self._load_chunk(reader.blob(self.preset.max_chunk_bytes, f"chunk {index}"), expected, index))
        reader.done()
        return CKKSCiphertext(chunks, length, header.dtype, float(header.weight), header.weighted, self.key_id)

    def _load_chunk(self, blob: bytes, expected: int, index: int) -> ts.CKKSVector:
        try:
            chunk = ts.ckks_vector_from(self._context, blob)
            parts = chunk.ciphertext()
        except (ValueError, RuntimeError, TypeError) as exc:
            raise MalformedCiphertextError(f"chunk {index} is not a valid SEAL ciphertext: {exc}") from exc
        if chunk.size() != expected or len(parts) != 1:
            raise MalformedCiphertextError(f"chunk {index} holds {chunk.size()} values, expected {expected}")
        seal_ct = parts[0]
        if (
            seal_ct.size() != 2
            or seal_ct.is_transparent()
            or seal_ct.poly_modulus_degree() != self.preset.poly_modulus_degree
            or seal_ct.coeff_modulus_size() != len(self.preset.coeff_mod_bit_sizes) - 1
            or seal_ct.scale != 2.0**self.preset.scale_bits
        ):
            raise ContextMismatchError(f"chunk {index} does not match the CKKS parameters")
        return chunk

    def _check_compatible(self, ciphertexts: Sequence[CKKSCiphertext]) -> CKKSCiphertext:
        return check_compatible(ciphertexts, CKKSCiphertext, self.key_id, "from this CKKS context")


class CKKSKeyHolder:
    """Owner of the CKKS secret key; the only party that can decrypt."""

    def __init__(self, context: ts.Context, public_bytes: bytes) -> None:
        self._context = context
        self._public_bytes = public_bytes
        self._key_id = fingerprint(public_bytes)

    def public(self) -> CKKSPublic:
        """A fresh public side (parsed from the same bytes clients receive)."""
        return CKKSPublic(self._public_bytes)

    def export_secret(self) -> bytes:
        """The key holder's state as bytes, to keep on its own storage between runs (it holds the
        secret key: never send it anywhere); :meth:`CKKSScheme.load_key_holder` restores it."""
        out = Writer(Kind.CKKS_KEY_HOLDER)
        out.blob(self._public_bytes)
        out.blob(
            self._context.serialize(
                save_public_key=False, save_secret_key=True, save_galois_keys=False, save_relin_keys=False
            )
        )
        return out.finish()

    def decrypt(self, ciphertext: CKKSCiphertext) -> np.ndarray:
        """Decrypt to the weighted sum, original length and dtype."""
        if not isinstance(ciphertext, CKKSCiphertext) or ciphertext.key_id != self._key_id:
            raise ContextMismatchError("ciphertext is not under this key holder's context")
        secret = self._context.secret_key()
        parts = [np.asarray(chunk.decrypt(secret), dtype=np.float64) for chunk in ciphertext.chunks]
        values = np.concatenate(parts) if parts else np.zeros(0)
        return values.astype(ciphertext.dtype)


class CKKSScheme:
    """Factory for the CKKS scheme (the names the FedAvg driver uses)."""

    @staticmethod
    def generate(
        preset: str | CKKSPreset | None = None, clip: float = 1.0, max_abs: float | None = None
    ) -> CKKSKeyHolder:
        """New key pair; ``clip`` bounds every input value (inputs are clipped to it).

        Either a ``preset`` (default ``"standard"``) or ``max_abs``, the largest |aggregate value| to
        decode (e.g. ``clip`` x the largest total weight: 5 for five unweighted vectors in [-1, 1]), from
        which the parameters are sized (:func:`~he.ckks_presets.preset_for_bound`; the chosen preset's
        ``error_1000_clients`` and ``max_chunk_bytes`` state what it costs). Keys come from SEAL's CSPRNG
        (seeded from the OS, blake2xb by default).
        """
        if preset is not None and max_abs is not None:
            raise ParameterError("give a preset or max_abs, not both")
        params = preset_for_bound(max_abs) if max_abs is not None else get_preset(preset or DEFAULT_PRESET)
        clip = checks.real(f"clip for preset {params.name!r}", clip, error=ParameterError, low=0.0, low_open=True)
        if clip > params.max_abs:
            raise ParameterError(f"clip must lie in (0, {params.max_abs}] for preset {params.name!r}, got {clip}")
        context = ts.context(
            ts.SCHEME_TYPE.CKKS,
            poly_modulus_degree=params.poly_modulus_degree,
            coeff_mod_bit_sizes=list(params.coeff_mod_bit_sizes),
        )
        context.global_scale = 2.0**params.scale_bits
        # Public key only: no secret, relinearization or Galois keys (add-only use).
        blob = context.serialize(
            save_public_key=True, save_secret_key=False, save_galois_keys=False, save_relin_keys=False
        )
        out = Writer(Kind.CKKS_PUBLIC)
        out.u32(params.poly_modulus_degree)
        out.u8(len(params.coeff_mod_bit_sizes))
        for bits in params.coeff_mod_bit_sizes:
            out.u8(bits)
        out.u8(params.scale_bits)
        out.f64(float(clip))
        out.blob(blob)
        return CKKSKeyHolder(context, out.finish())

    @staticmethod
    def load_public(data: bytes) -> CKKSPublic:
        """Validate and load a public side serialized by ``public().serialize()``."""
        return CKKSPublic(data)

    @staticmethod
    def load_key_holder(data: bytes) -> CKKSKeyHolder:
        """Restore a key holder from :meth:`CKKSKeyHolder.export_secret` bytes."""
        reader = Reader(
            data, Kind.CKKS_KEY_HOLDER, max_bytes=4 * MAX_PUBLIC_BYTES, what="CKKS key holder", error=MalformedKeyError
        )
        public_bytes = reader.blob(MAX_PUBLIC_BYTES, "public context")
        secret = reader.blob(MAX_PUBLIC_BYTES, "secret context")
        reader.done()
        public = CKKSPublic(public_bytes)
        try:
            context = ts.context_from(secret)
        except (ValueError, RuntimeError, TypeError) as exc:
            raise MalformedKeyError(f"secret TenSEAL context does not parse: {exc}") from exc
        if not context.has_secret_key():
            raise MalformedKeyError("the key holder's context carries no secret key")
        context.global_scale = 2.0**public.preset.scale_bits
        holder = CKKSKeyHolder(context, public_bytes)
        probe = public.encrypt(np.array([0.5]))
        if abs(float(holder.decrypt(probe)[0]) - 0.5) > 1e-3:
            raise MalformedKeyError("the secret context does not match the public context")
        return holder


def _load_public_context(blob: bytes, preset: CKKSPreset) -> ts.Context:
    """Load a TenSEAL context, insist it is public-only and matches ``preset``."""
    try:
        context = ts.context_from(blob)
    except (ValueError, RuntimeError, TypeError) as exc:
        raise MalformedKeyError(f"TenSEAL context does not parse: {exc}") from exc
    if context.is_private() or context.has_secret_key():
        raise MalformedKeyError("public context carries a secret key; refusing it")
    if not context.has_public_key():
        raise MalformedKeyError("public context has no public key")
    if context.global_scale != 2.0**preset.scale_bits:
        raise MalformedKeyError("context scale differs from the declared parameters")
    probe = ts.ckks_vector(context, [0.0]).ciphertext()[0]
    if (
        probe.poly_modulus_degree() != preset.poly_modulus_degree
        or probe.coeff_modulus_size() != len(preset.coeff_mod_bit_sizes) - 1
    ):
        raise MalformedKeyError("context parameters differ from the declared parameters")
    return context
