"""Packed Paillier aggregation through ``phe`` + ``gmpy2``.

Paillier (EUROCRYPT 1999) is additively homomorphic: multiplying ciphertexts
adds plaintexts, raising one to an integer power multiplies its plaintext.
Plain per-value ``phe`` pays one ``|n|``-bit exponentiation per model
parameter; here each update is quantized and packed BatchCrypt-style
(:mod:`he.packing`), so one ciphertext carries ``per_plaintext`` values
(102 at 2048-bit keys, 12-bit values and a total weight of 250).

* Key generation and decryption use ``phe``'s key pair (primes from the OS
  CSPRNG, CRT decryption through gmpy2); plaintexts are encrypted with
  ``phe``'s raw encryption (standard path), or with the DJN fixed-base path
  of :mod:`he.fast_paillier` when the key holder opted in.
* The server weights ciphertexts with non-negative integer weights,
  ``c^w mod n^2`` (the scalar-multiplication property of Paillier, EUROCRYPT 1999); clients may
  instead pre-weight in plaintext with ``encrypt(vector, weight=w)``. Either
  way the total weight must fit the packing headroom fixed at key
  generation, or :class:`~he.errors.PackingOverflowError` is raised before
  any work is done.
* Ciphertexts are validated on receipt: every value in ``[1, n^2)`` and
  invertible modulo ``n``; the header's key id binds them to one public key.
* Everything but the key format lives in :class:`PaillierPublicBase`, which
  the threshold public key of :mod:`he.threshold_paillier` shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

import gmpy2
import numpy as np
from phe import paillier as phe

from fedsecure import checks
from fedsecure.wire import FRAME_OVERHEAD, Kind, Reader, Writer
from he.ciphertext import HEADER_BYTES, EncryptedVector, check_compatible, fingerprint, open_ciphertext, write_header
from he.errors import ContextMismatchError, HEError, MalformedCiphertextError, MalformedKeyError, ParameterError
from he.fast_paillier import FixedBaseRandomizer, check_fixed_base, make_fixed_base
from he.inputs import as_update, check_weight, plan_weights
from he.packing import PackingLayout

__all__ = [
    "PaillierScheme",
    "PaillierKeyHolder",
    "PaillierPublicBase",
    "PaillierPublic",
    "PaillierCiphertext",
    "PackedUpdate",
]

MIN_KEY_BITS: Final = 2048  # 112-bit security (NIST SP 800-57 Part 1, Table 2)
MAX_KEY_BITS: Final = 8192
DEFAULT_KEY_BITS: Final = 3072  # 128-bit security, matching the CKKS presets
_MAX_PUBLIC_BYTES: Final = 4096


@dataclass(frozen=True)
class PackedUpdate:
    """A quantized, packed update before encryption (plaintext: stays with its client)."""

    plaintexts: list[int]
    length: int
    dtype: np.dtype
    weight: int
    weighted: bool


class PaillierCiphertext(EncryptedVector[int]):
    """Packed Paillier ciphertexts (integers mod ``n^2``) of one flat vector."""

    def __init__(
        self,
        values: list[gmpy2.mpz],
        length: int,
        dtype: np.dtype,
        weight: int,
        weighted: bool,
        key_id: bytes,
        width: int,
    ) -> None:
        super().__init__(length, dtype, weight, weighted, key_id)
        self._values = values
        self._width = width

    @property
    def values(self) -> list[gmpy2.mpz]:
        return self._values

    @property
    def nbytes(self) -> int:
        return FRAME_OVERHEAD + HEADER_BYTES + len(self._values) * self._width

    def serialize(self) -> bytes:
        """Header, then each ciphertext as a fixed-width big-endian integer."""
        out = Writer(Kind.PAILLIER_CIPHERTEXT)
        write_header(out, self, len(self._values))
        out.fixed(residue_bytes(self._values, self._width))
        return out.finish()


def residue_bytes(values: Sequence[gmpy2.mpz], width: int) -> bytes:
    """Integers modulo ``n^2`` as fixed-width big-endian bytes, concatenated."""
    return b"".join(int(v).to_bytes(width, "big") for v in values)


def read_residues(
    reader: Reader, count: int, width: int, n: gmpy2.mpz, what: str, error: type[HEError]
) -> list[gmpy2.mpz]:
    """Read ``count`` fixed-width integers, each in ``[1, n^2)`` and invertible modulo ``n``."""
    body = reader.fixed_view(count * width, f"{what}s")
    nsquare = n * n
    values = []
    for index in range(count):
        value = gmpy2.mpz(int.from_bytes(body[index * width : (index + 1) * width], "big"))
        if not 1 <= value < nsquare:
            raise error(f"{what} {index} outside [1, n^2)")
        if gmpy2.gcd(value, n) != 1:
            raise error(f"{what} {index} is not invertible modulo n")
        values.append(value)
    return values


def read_key_fields(reader: Reader, min_bits: int) -> tuple[int, PackingLayout, int | None]:
    """Read and check the fields a Paillier public key starts with (see :func:`write_key_fields`).

    Returns the modulus ``n``, its packing layout and the DJN fixed base (``None`` on the standard path).
    """
    n = int.from_bytes(reader.blob(MAX_KEY_BITS // 8, "modulus n"), "big")
    bits = reader.u8("quantization bits")
    clip = reader.f64("clip bound")
    max_total_weight = reader.u64("max total weight")
    fast = reader.u8("fast-encryption flag")
    h_s = int.from_bytes(reader.blob(2 * MAX_KEY_BITS // 8, "fixed base h_s"), "big") if fast == 1 else None
    if fast > 1:
        raise MalformedKeyError("fast-encryption flag must be 0 or 1")
    if n % 2 == 0 or not min_bits <= n.bit_length() <= MAX_KEY_BITS or gmpy2.is_square(n):
        raise MalformedKeyError(f"modulus must be an odd non-square of {min_bits}..{MAX_KEY_BITS} bits")
    try:
        layout = PackingLayout(bits, clip, max_total_weight, n.bit_length() - 1)
    except ParameterError as exc:
        raise MalformedKeyError(f"invalid packing parameters: {exc}") from exc
    if h_s is not None:  # validate now, build the table on first encryption only
        check_fixed_base(n, h_s)
    return n, layout, h_s


def write_key_fields(out: Writer, n: int, layout: PackingLayout, h_s: int | None) -> None:
    """The modulus, the packing parameters and, on the DJN path, the fixed base ``h_s``."""
    out.blob(n.to_bytes((n.bit_length() + 7) // 8, "big"))
    out.u8(layout.bits)
    out.f64(float(layout.clip))
    out.u64(layout.max_total_weight)
    out.u8(int(h_s is not None))
    if h_s is not None:
        out.blob(h_s.to_bytes((h_s.bit_length() + 7) // 8, "big"))


class PaillierPublicBase:
    """Encrypt (clients), aggregate and parse ciphertexts (server) under one Paillier modulus ``n``.

    Subclasses parse their own key format (:func:`read_key_fields` first) and pass the
    checked fields here; ``data`` is the key's serialization, fingerprinted as the key id.
    """

    _key_name: ClassVar[str] = "Paillier public key"

    def __init__(self, n: int, layout: PackingLayout, h_s: int | None, data: bytes) -> None:
        self.layout = layout
        self.key = phe.PaillierPublicKey(n)
        self._n = gmpy2.mpz(n)
        self._nsquare = self._n * self._n
        self._width = (int(self._nsquare).bit_length() + 7) // 8
        self._h_s = h_s
        self._randomizer: FixedBaseRandomizer | None = None
        self._bytes = bytes(data)
        self.key_id = fingerprint(self._bytes)

    @property
    def fast(self) -> bool:
        """Whether clients encrypt with the DJN fixed-base path."""
        return self._h_s is not None

    def serialize(self) -> bytes:
        return self._bytes

    def encrypt(self, vector: np.ndarray, weight: float | None = None) -> PaillierCiphertext:
        """Clip, quantize (times an optional integer-valued ``weight``), pack and encrypt."""
        packed = self.pack(vector, weight)
        return self.ciphertext(packed, [self.encrypt_int(p) for p in packed.plaintexts])

    def pack(self, vector: np.ndarray, weight: float | None = None) -> PackedUpdate:
        """The plaintext half of :meth:`encrypt`: clip, quantize, weight and pack."""
        values, dtype = as_update(vector, self.layout.clip)
        declared = weight is not None
        factor = int(check_weight(weight, integral=True)) if declared else 1
        plaintexts = self.layout.pack(self.layout.quantize(values, factor))
        return PackedUpdate(plaintexts, values.size, dtype, factor, declared)

    def ciphertext(self, packed: PackedUpdate, values: list[gmpy2.mpz]) -> PaillierCiphertext:
        """Wrap encryptions of ``packed.plaintexts`` (e.g. from worker processes)."""
        if len(values) != len(packed.plaintexts):
            raise ParameterError(f"{len(values)} ciphertexts for {len(packed.plaintexts)} plaintexts")
        return PaillierCiphertext(
            values, packed.length, packed.dtype, packed.weight, packed.weighted, self.key_id, self._width
        )

    @property
    def ciphertext_width(self) -> int:
        """Bytes of one ciphertext integer (``n^2``) at fixed width."""
        return self._width

    def encrypt_int(self, plaintext: int) -> gmpy2.mpz:
        """Encrypt one packed plaintext in ``[0, 2^(|n|-1))``."""
        if not 0 <= plaintext < 1 << self.layout.plaintext_bits:
            raise ParameterError("packed plaintext outside [0, 2^(|n|-1))")
        if self._h_s is None:
            return gmpy2.mpz(self.key.raw_encrypt(plaintext))
        if self._randomizer is None:
            self._randomizer = FixedBaseRandomizer(int(self._n), self._h_s)
        # (1 + n)^m = 1 + m n mod n^2 (Paillier with g = n + 1).
        return (1 + self._n * plaintext) * self._randomizer.sample() % self._nsquare

    def aggregate(
        self, ciphertexts: Sequence[PaillierCiphertext], weights: Sequence[float] | None = None
    ) -> PaillierCiphertext:
        """Homomorphic (weighted) sum: ``prod_i c_i^(w_i) mod n^2`` slot-wise."""
        first = self._check_compatible(ciphertexts)
        to_apply, total = plan_weights(ciphertexts, weights, integral=True)
        self.layout.check_headroom(int(total))
        nsquare = self._nsquare
        sums = [gmpy2.mpz(1)] * len(first.values)
        for ct, weight in zip(ciphertexts, to_apply, strict=True):
            if weight is None or weight == 1:
                sums = [acc * c % nsquare for acc, c in zip(sums, ct.values, strict=True)]
            elif weight != 0:
                exponent = gmpy2.mpz(int(weight))
                powers = (gmpy2.powmod(c, exponent, nsquare) for c in ct.values)
                sums = [acc * power % nsquare for acc, power in zip(sums, powers, strict=True)]
        return PaillierCiphertext(sums, first.length, first.dtype, int(total), True, self.key_id, self._width)

    def load_ciphertext(self, data: bytes) -> PaillierCiphertext:
        """Parse and validate ciphertext bytes from a client or the server."""
        reader, header = open_ciphertext(
            data, Kind.PAILLIER_CIPHERTEXT, self.key_id, integral=True, under=self._key_name
        )
        length, weight, count = header.length, int(header.weight), header.count
        if weight > self.layout.max_total_weight:
            raise MalformedCiphertextError(
                f"weight {weight} exceeds the packing headroom {self.layout.max_total_weight}"
            )
        if count != self.layout.chunks_for(length):
            raise MalformedCiphertextError(f"{count} ciphertexts cannot hold {length} values")
        values = read_residues(reader, count, self._width, self._n, "ciphertext value", MalformedCiphertextError)
        reader.done()
        return PaillierCiphertext(values, length, header.dtype, weight, header.weighted, self.key_id, self._width)

    def decode(self, ciphertext: PaillierCiphertext, plaintexts: Sequence[int]) -> np.ndarray:
        """Unpack and dequantize the decrypted plaintexts of ``ciphertext`` (original length and dtype)."""
        sums = self.layout.unpack(plaintexts, ciphertext.length)
        return self.layout.dequantize(sums, ciphertext.weight).astype(ciphertext.dtype)

    def _check_compatible(self, ciphertexts: Sequence[PaillierCiphertext]) -> PaillierCiphertext:
        return check_compatible(ciphertexts, PaillierCiphertext, self.key_id, f"under this {self._key_name}")


class PaillierPublic(PaillierPublicBase):
    """Public side of a Paillier key: encrypt (clients) and aggregate (server)."""

    def __init__(self, data: bytes) -> None:
        reader = Reader(
            data, Kind.PAILLIER_PUBLIC, max_bytes=_MAX_PUBLIC_BYTES, what="Paillier public key", error=MalformedKeyError
        )
        n, layout, h_s = read_key_fields(reader, MIN_KEY_BITS)
        reader.done()
        super().__init__(n, layout, h_s, data)


class PaillierKeyHolder:
    """Owner of the Paillier private key; the only party that can decrypt."""

    def __init__(self, private_key: phe.PaillierPrivateKey, public_bytes: bytes) -> None:
        self._private_key = private_key
        self._public = PaillierPublic(public_bytes)

    def public(self) -> PaillierPublic:
        """A fresh public side (parsed from the same bytes clients receive)."""
        return PaillierPublic(self._public.serialize())

    def export_secret(self) -> bytes:
        """The key holder's state as bytes, to keep on its own storage (it holds the factorization:
        never send it anywhere); :meth:`PaillierScheme.load_key_holder` restores it."""
        out = Writer(Kind.PAILLIER_KEY_HOLDER)
        out.blob(self._public.serialize())
        for prime in (self._private_key.p, self._private_key.q):
            out.blob(int(prime).to_bytes((int(prime).bit_length() + 7) // 8, "big"))
        return out.finish()

    def decrypt(self, ciphertext: PaillierCiphertext) -> np.ndarray:
        """Decrypt, unpack and dequantize to the weighted sum (original length and dtype)."""
        if not isinstance(ciphertext, PaillierCiphertext) or ciphertext.key_id != self._public.key_id:
            raise ContextMismatchError("ciphertext is not under this key holder's Paillier key")
        plaintexts = [self._private_key.raw_decrypt(int(c)) for c in ciphertext.values]
        return self._public.decode(ciphertext, plaintexts)


class PaillierScheme:
    """Factory for the packed Paillier scheme (the names the FedAvg driver uses)."""

    @staticmethod
    def generate(
        key_bits: int = DEFAULT_KEY_BITS,
        bits: int = 16,
        clip: float = 1.0,
        max_total_weight: int = 1000,
        fast_encryption: bool = False,
    ) -> PaillierKeyHolder:
        """New key pair with its packing layout.

        ``bits``: quantization bits per value; ``clip``: values are clipped to
        ``[-clip, clip]``; ``max_total_weight``: headroom, the largest total
        integer weight of an aggregate (the client count for unweighted
        sums). Raises :class:`~he.errors.ParameterError` when they cannot fit.
        ``fast_encryption`` publishes a DJN fixed base (:mod:`he.fast_paillier`).
        """
        key_bits = checks.integer("key_bits", key_bits, error=ParameterError, low=MIN_KEY_BITS, high=MAX_KEY_BITS)
        if key_bits % 2:
            raise ParameterError(f"key_bits must be even, got {key_bits}")
        layout = PackingLayout(bits, clip, max_total_weight, key_bits - 1)  # fail before key generation
        public_key, private_key = phe.generate_paillier_keypair(n_length=key_bits)
        out = Writer(Kind.PAILLIER_PUBLIC)
        write_key_fields(out, public_key.n, layout, make_fixed_base(public_key.n) if fast_encryption else None)
        return PaillierKeyHolder(private_key, out.finish())

    @staticmethod
    def load_public(data: bytes) -> PaillierPublic:
        """Validate and load a public key serialized by ``public().serialize()``."""
        return PaillierPublic(data)

    @staticmethod
    def load_key_holder(data: bytes) -> PaillierKeyHolder:
        """Restore a key holder from :meth:`PaillierKeyHolder.export_secret` bytes."""
        reader = Reader(
            data,
            Kind.PAILLIER_KEY_HOLDER,
            max_bytes=3 * _MAX_PUBLIC_BYTES,
            what="Paillier key holder",
            error=MalformedKeyError,
        )
        public_bytes = reader.blob(_MAX_PUBLIC_BYTES, "public key")
        p, q = (int.from_bytes(reader.blob(MAX_KEY_BITS // 8, f"prime {name}"), "big") for name in "pq")
        reader.done()
        public = PaillierPublic(public_bytes)
        if p * q != public.key.n or not (gmpy2.is_prime(p) and gmpy2.is_prime(q)):
            raise MalformedKeyError("the saved primes do not factor the public modulus")
        return PaillierKeyHolder(phe.PaillierPrivateKey(public.key, p, q), public_bytes)
