"""Threshold packed Paillier: ``k`` key holders, any ``t`` of whom decrypt together.

The threshold Paillier of Fouque, Poupard and Stern (FC 2000, Sec. 3) in the form of Damgard and
Jurik (PKC 2001, Sec. 4, "A Threshold Variant of the Scheme", with ``s = 1``), with Shoup-style
decryption shares (EUROCRYPT 2000, Sec. 3) and their proofs of correctness (:mod:`he.threshold_proofs`):

* key generation by a trusted dealer: safe primes ``p = 2p' + 1``, ``q = 2q' + 1``, ``n = pq``,
  ``m = p'q'``; the secret ``d`` with ``d = 0 mod m`` and ``d = 1 mod n`` is shared with a random
  polynomial ``f`` of degree ``t - 1`` over ``Z_{nm}``, holder ``i`` getting ``s_i = f(i)``;
  ``v`` is a random square modulo ``n^2`` and ``v_i = v^(Delta s_i)`` with ``Delta = k!``;
* encryption and aggregation are today's packed Paillier (``g = n + 1``, BatchCrypt packing), shared
  through :class:`~he.paillier.PaillierPublicBase`: a threshold ciphertext is a
  :class:`~he.paillier.PaillierCiphertext` bound to this key by its key id, with as many values;
* holder ``i`` answers ``c`` with ``c_i = c^(2 Delta s_i) mod n^2`` and a proof that
  ``log_{c^4}(c_i^2) = log_v(v_i)``, so a wrong share is caught and its holder named;
* from a set ``S`` of ``t`` valid shares, ``c' = prod c_i^(2 lambda_i) = c^(4 Delta^2 d)`` with the
  integers ``lambda_i = Delta prod_{j in S \\ {i}} j / (j - i)``, and ``m = L(c') (4 Delta^2)^(-1) mod n``
  where ``L(u) = (u - 1) / n``.

Trust assumption. The dealer sees ``p``, ``q`` and ``d``, so it could decrypt anything: it must be
honest and forget them. :meth:`ThresholdPaillierScheme.generate` keeps no reference to them once it
returns the public side and the ``k`` holders, but Python cannot wipe integers from memory, so run
the dealing in a process that ends once the holders are handed out. A dealer-free (distributed)
generation of ``n`` is out of scope. The public key is trusted as the dealer wrote it: parsing
checks ranges and invertibility, not that ``v`` generates the squares.

Policy. :meth:`ThresholdPaillierPublic.combine` verifies every partial decryption it is given and,
if any is refused (a failed proof, another ciphertext or key, a duplicate), raises
:class:`~he.errors.InvalidPartialError` naming every refused holder instead of skipping them
silently, so the caller learns whom not to trust; it drops them and calls again with the rest.
A holder decrypts whatever ciphertext under its key it is given: deciding which ones (aggregates
only) is the deployment's policy.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import gmpy2
import numpy as np

from fedsecure import checks
from fedsecure.wire import FRAME_OVERHEAD, Kind, Reader, Writer
from he import paillier
from he.ciphertext import FINGERPRINT_BYTES, MAX_CIPHERTEXT_BYTES
from he.errors import (
    ContextMismatchError,
    InvalidPartialError,
    MalformedKeyError,
    MalformedPartialError,
    ParameterError,
    TooFewPartialsError,
    WeakKeyWarning,
)
from he.fast_paillier import make_fixed_base
from he.packing import PackingLayout
from he.paillier import (
    PaillierCiphertext,
    PaillierPublicBase,
    read_key_fields,
    read_residues,
    residue_bytes,
    write_key_fields,
)
from he.safe_primes import safe_prime
from he.threshold_proofs import CHALLENGE_BYTES, EqualityProof, Statement, prove, response_bytes, verify

__all__ = [
    "ThresholdPaillierScheme",
    "ThresholdDealing",
    "ThresholdKeyHolder",
    "ThresholdPaillierPublic",
    "ThresholdPartial",
]

MIN_KEY_BITS: Final = 1024  # accepted with a WeakKeyWarning below paillier.MIN_KEY_BITS
MAX_HOLDERS: Final = 255
_DIGEST_BYTES: Final = 32
_MAX_PUBLIC_BYTES: Final = 8192 + (MAX_HOLDERS + 1) * 2 * paillier.MAX_KEY_BITS // 8


@dataclass(frozen=True)
class ThresholdPartial:
    """Holder ``holder``'s decryption share of one ciphertext, with its proof (DJ01 Sec. 4).

    ``ciphertext_digest`` binds it to the ciphertext and ``key_id`` to the public key.
    """

    key_id: bytes
    ciphertext_digest: bytes
    holder: int
    values: tuple[gmpy2.mpz, ...]
    proof: EqualityProof
    width: int = field(repr=False, compare=False)
    proof_width: int = field(repr=False, compare=False)

    @property
    def nbytes(self) -> int:
        fixed = FINGERPRINT_BYTES + _DIGEST_BYTES + 4 + 4 + CHALLENGE_BYTES
        return FRAME_OVERHEAD + fixed + len(self.values) * self.width + self.proof_width

    def serialize(self) -> bytes:
        """Key id, ciphertext digest, holder index, the share values at fixed width, then the proof."""
        out = Writer(Kind.THRESHOLD_PAILLIER_PARTIAL)
        out.fixed(self.key_id)
        out.fixed(self.ciphertext_digest)
        out.u32(self.holder)
        out.u32(len(self.values))
        out.fixed(residue_bytes(self.values, self.width))
        out.fixed(self.proof.challenge.to_bytes(CHALLENGE_BYTES, "big"))
        out.fixed(self.proof.response.to_bytes(self.proof_width, "big"))
        return out.finish()


def _lagrange_at_zero(indices: Sequence[int], delta: int) -> list[int]:
    """``lambda_{0,i}^S = Delta prod_{j in S, j != i} j / (j - i)``: integers (Shoup 2000, Sec. 3)."""
    out = []
    for i in indices:
        numerator, denominator = delta, 1
        for j in indices:
            if j != i:
                numerator *= j
                denominator *= j - i
        out.append(numerator // denominator)  # exact: (j - i) products divide k!
    return out


class ThresholdPaillierPublic(PaillierPublicBase):
    """Public side of a threshold Paillier key: encrypt, aggregate, and combine ``t`` partial decryptions.

    It holds no share of the secret: alone it cannot decrypt.
    """

    _key_name = "threshold Paillier public key"

    def __init__(self, data: bytes) -> None:
        reader = Reader(
            data,
            Kind.THRESHOLD_PAILLIER_PUBLIC,
            max_bytes=_MAX_PUBLIC_BYTES,
            what=self._key_name,
            error=MalformedKeyError,
        )
        n, layout, h_s = read_key_fields(reader, MIN_KEY_BITS)
        holders = reader.u32("holder count")
        threshold = reader.u32("threshold")
        if not (1 <= holders <= MAX_HOLDERS and 1 <= threshold <= holders):
            raise MalformedKeyError(f"need 1 <= threshold <= holders <= {MAX_HOLDERS}, got {threshold} of {holders}")
        delta = math.factorial(holders)
        if gmpy2.gcd(delta, n) != 1:
            raise MalformedKeyError(f"modulus shares a factor with {holders}!")
        super().__init__(n, layout, h_s, data)
        values = read_residues(reader, holders + 1, self._width, self._n, "verification value", MalformedKeyError)
        reader.done()
        self.holders = holders
        self.threshold = threshold
        self.delta = delta
        self.verification = tuple(values)  # (v, v_1, ..., v_k): holder i's verification key at index i
        self._inverse = gmpy2.invert(4 * delta * delta, self._n)  # (4 Delta^2)^(-1) mod n
        self._witness_bits = (delta * self._nsquare).bit_length()  # Delta s_i < Delta n m < Delta n^2
        self.proof_width = response_bytes(self._witness_bits)

    def ciphertext_digest(self, ciphertext: PaillierCiphertext) -> bytes:
        """SHA-256 of ``ciphertext``'s frame, which its partial decryptions carry (it must be under this key)."""
        ciphertext = self._check_compatible([ciphertext])
        return hashlib.sha256(b"fedsecure-he-threshold-ciphertext\x00" + ciphertext.serialize()).digest()

    def statement(
        self, ciphertext: PaillierCiphertext, digest: bytes, holder: int, share: Sequence[gmpy2.mpz]
    ) -> Statement:
        """What holder ``holder``'s proof for ``share`` must show, bound to this key, the ciphertext and the holder."""
        checks.integer("holder", holder, error=ParameterError, low=1, high=self.holders)
        context = self.key_id + digest + holder.to_bytes(4, "little")
        v = self.verification
        return Statement(self._nsquare, v[0], v[holder], ciphertext.values, share, self._witness_bits, context)

    def load_partial(self, data: bytes) -> ThresholdPartial:
        """Parse and range-check a partial decryption from a key holder (:meth:`combine` checks its proof)."""
        reader = Reader(
            data,
            Kind.THRESHOLD_PAILLIER_PARTIAL,
            max_bytes=MAX_CIPHERTEXT_BYTES,
            what="threshold Paillier partial decryption",
            error=MalformedPartialError,
        )
        if reader.fixed(FINGERPRINT_BYTES, "key id") != self.key_id:
            raise ContextMismatchError(f"partial decryption was made under another {self._key_name}")
        digest = reader.fixed(_DIGEST_BYTES, "ciphertext digest")
        holder = reader.u32("holder index")
        if not 1 <= holder <= self.holders:
            raise reader.fail(f"holder index {holder} outside [1, {self.holders}]")
        count = reader.u32("value count")
        values = read_residues(reader, count, self._width, self._n, "partial value", MalformedPartialError)
        challenge = int.from_bytes(reader.fixed(CHALLENGE_BYTES, "proof challenge"), "big")
        response = int.from_bytes(reader.fixed(self.proof_width, "proof response"), "big")
        reader.done()
        proof = EqualityProof(challenge, response)
        return ThresholdPartial(self.key_id, digest, holder, tuple(values), proof, self._width, self.proof_width)

    def combine(self, ciphertext: PaillierCiphertext, partials: Sequence[ThresholdPartial]) -> np.ndarray:
        """The decrypted weighted sum of ``ciphertext`` (as ``PaillierKeyHolder.decrypt`` returns it).

        Verifies every partial, then combines the ``threshold`` lowest-indexed ones (DJ01 Sec. 4).
        Raises :class:`~he.errors.TooFewPartialsError` for fewer than ``threshold`` partials and
        :class:`~he.errors.InvalidPartialError` naming every refused holder (see the module policy).
        """
        digest = self.ciphertext_digest(ciphertext)
        for index, partial in enumerate(partials):
            if not isinstance(partial, ThresholdPartial):
                raise ParameterError(f"partial {index} is a {type(partial).__name__}, not a ThresholdPartial")
        if len(partials) < self.threshold:
            raise TooFewPartialsError(self.threshold, tuple(p.holder for p in partials))
        counts = Counter(p.holder for p in partials)
        reasons = {holder: "sent more than one partial" for holder, count in counts.items() if count > 1}
        for partial in partials:
            if partial.holder not in reasons and (reason := self._refusal(ciphertext, digest, partial)):
                reasons[partial.holder] = reason
        if reasons:
            raise InvalidPartialError(reasons)
        chosen = sorted(partials, key=lambda p: p.holder)[: self.threshold]
        return self.decode(ciphertext, self._combine(chosen))

    def _refusal(self, ciphertext: PaillierCiphertext, digest: bytes, partial: ThresholdPartial) -> str | None:
        """Why ``partial`` cannot be used for ``ciphertext``, or ``None`` when its proof verifies."""
        if partial.key_id != self.key_id:
            return f"made under another {self._key_name}"
        if not 1 <= partial.holder <= self.holders:
            return f"holder index outside [1, {self.holders}]"
        if partial.ciphertext_digest != digest:
            return "made for another ciphertext"
        if len(partial.values) != len(ciphertext.values):
            return f"{len(partial.values)} values for {len(ciphertext.values)} ciphertexts"
        if not verify(self.statement(ciphertext, digest, partial.holder, partial.values), partial.proof):
            return "its proof of correctness does not verify"
        return None

    def _combine(self, chosen: Sequence[ThresholdPartial]) -> list[int]:
        """``L(prod_i c_i^(2 lambda_i)) (4 Delta^2)^(-1) mod n`` for each packed value (DJ01 Sec. 4)."""
        exponents = [2 * lam for lam in _lagrange_at_zero([p.holder for p in chosen], self.delta)]
        n, nsquare = self._n, self._nsquare
        plaintexts = []
        for shares in zip(*(p.values for p in chosen), strict=True):
            acc = gmpy2.mpz(1)
            for share, exponent in zip(shares, exponents, strict=True):
                acc = acc * gmpy2.powmod(share, exponent, nsquare) % nsquare
            plaintexts.append(int((acc - 1) // n * self._inverse % n))
        return plaintexts


class ThresholdKeyHolder:
    """Key holder ``index`` (1..k): its share ``s_i`` of ``d`` and the public key.

    Raises :class:`~he.errors.ParameterError` unless the share matches ``v_i = v^(Delta s_i)``.
    """

    def __init__(self, index: int, share: int, public_bytes: bytes) -> None:
        self._public = ThresholdPaillierPublic(public_bytes)
        self.index = checks.integer("index", index, error=ParameterError, low=1, high=self._public.holders)
        self._share = gmpy2.mpz(share)
        v = self._public.verification
        if gmpy2.powmod(v[0], self._public.delta * self._share, self._public.key.nsquare) != v[self.index]:
            raise ParameterError(f"share does not match holder {self.index}'s verification key")

    def public(self) -> ThresholdPaillierPublic:
        """A fresh public side (parsed from the same bytes everyone receives)."""
        return ThresholdPaillierPublic(self._public.serialize())

    def export_secret(self) -> bytes:
        """The holder's index, share and public key as bytes, to keep on its own storage (never send
        them anywhere); :meth:`ThresholdPaillierScheme.load_key_holder` restores it."""
        out = Writer(Kind.THRESHOLD_PAILLIER_KEY_HOLDER)
        out.blob(self._public.serialize())
        out.u32(self.index)
        out.blob(int(self._share).to_bytes((int(self._share).bit_length() + 7) // 8, "big"))
        return out.finish()

    def partial_decrypt(self, ciphertext: PaillierCiphertext) -> ThresholdPartial:
        """``c_i = c^(2 Delta s_i) mod n^2`` for every packed value, with Shoup's proof (DJ01 Sec. 4)."""
        public = self._public
        digest = public.ciphertext_digest(ciphertext)
        witness = public.delta * self._share
        nsquare = gmpy2.mpz(public.key.nsquare)
        values = tuple(gmpy2.powmod(c, 2 * witness, nsquare) for c in ciphertext.values)
        proof = prove(public.statement(ciphertext, digest, self.index, values), int(witness))
        return ThresholdPartial(
            public.key_id, digest, self.index, values, proof, public.ciphertext_width, public.proof_width
        )


@dataclass(frozen=True)
class ThresholdDealing:
    """What the dealer hands out: the public key bytes and holders ``1..k`` (hand each to its owner)."""

    public_bytes: bytes
    holders: tuple[ThresholdKeyHolder, ...]

    def public(self) -> ThresholdPaillierPublic:
        return ThresholdPaillierPublic(self.public_bytes)


def _deal(key_bits: int, holders: int, threshold: int) -> tuple[int, list[gmpy2.mpz], list[gmpy2.mpz]]:
    """Trusted-dealer key generation (FPS00 Sec. 3, DJ01 Sec. 4): ``n``, ``[v, v_1..v_k]``, ``[s_1..s_k]``."""
    p = safe_prime(key_bits // 2)
    q = safe_prime(key_bits // 2)
    while q == p:
        q = safe_prime(key_bits // 2)
    n, m = p * q, (p // 2) * (q // 2)  # p' = (p - 1) / 2
    nm = n * m
    d = m * gmpy2.invert(m, n)  # d = 0 mod m, d = 1 mod n
    coefficients = [d] + [gmpy2.mpz(secrets.randbelow(int(nm))) for _ in range(threshold - 1)]
    shares = []
    for i in range(1, holders + 1):
        acc = gmpy2.mpz(0)
        for c in reversed(coefficients):  # Horner
            acc = (acc * i + c) % nm
        shares.append(acc)
    nsquare = n * n
    while True:
        r = gmpy2.mpz(secrets.randbelow(int(nsquare)))
        if gmpy2.gcd(r, n) == 1:
            break
    base = r * r % nsquare  # a random square: it generates the squares mod n^2 with overwhelming probability
    delta = math.factorial(holders)
    return int(n), [base] + [gmpy2.powmod(base, delta * s, nsquare) for s in shares], shares


class ThresholdPaillierScheme:
    """Factory for threshold packed Paillier."""

    @staticmethod
    def generate(
        holders: int,
        threshold: int,
        key_bits: int = paillier.DEFAULT_KEY_BITS,
        bits: int = 16,
        clip: float = 1.0,
        max_total_weight: int = 1000,
        fast_encryption: bool = False,
    ) -> ThresholdDealing:
        """Deal a new ``threshold``-of-``holders`` key with its packing layout (trusted dealer).

        Packing parameters and ``fast_encryption`` as in :meth:`he.PaillierScheme.generate`.
        ``key_bits`` below 2048 (112-bit security, NIST SP 800-57 Part 1, Table 2) is accepted down
        to 1024 for tests and notebooks, with a :class:`~he.errors.WeakKeyWarning`; every check
        runs before any prime is drawn.
        """
        key_bits = checks.integer(
            "key_bits", key_bits, error=ParameterError, low=MIN_KEY_BITS, high=paillier.MAX_KEY_BITS
        )
        if key_bits % 2:
            raise ParameterError(f"key_bits must be even, got {key_bits}")
        holders = checks.integer("holders", holders, error=ParameterError, low=1, high=MAX_HOLDERS)
        threshold = checks.integer("threshold", threshold, error=ParameterError, low=1, high=holders)
        layout = PackingLayout(bits, clip, max_total_weight, key_bits - 1)
        if key_bits < paillier.MIN_KEY_BITS:
            warnings.warn(
                WeakKeyWarning(
                    f"{key_bits}-bit keys are below 112-bit security (NIST SP 800-57 Part 1 asks for "
                    f"{paillier.MIN_KEY_BITS} bits): use them for tests and notebooks only"
                ),
                stacklevel=2,
            )
        n, verification, shares = _deal(key_bits, holders, threshold)
        out = Writer(Kind.THRESHOLD_PAILLIER_PUBLIC)
        write_key_fields(out, n, layout, make_fixed_base(n) if fast_encryption else None)
        out.u32(holders)
        out.u32(threshold)
        out.fixed(residue_bytes(verification, ((n * n).bit_length() + 7) // 8))
        public_bytes = out.finish()
        return ThresholdDealing(
            public_bytes, tuple(ThresholdKeyHolder(i, int(s), public_bytes) for i, s in enumerate(shares, start=1))
        )

    @staticmethod
    def load_public(data: bytes) -> ThresholdPaillierPublic:
        """Validate and load a public key serialized by ``public().serialize()``."""
        return ThresholdPaillierPublic(data)

    @staticmethod
    def load_key_holder(data: bytes) -> ThresholdKeyHolder:
        """Restore a key holder from :meth:`ThresholdKeyHolder.export_secret` bytes; the share must
        match the holder's verification key (as when it was dealt)."""
        reader = Reader(
            data,
            Kind.THRESHOLD_PAILLIER_KEY_HOLDER,
            max_bytes=2 * _MAX_PUBLIC_BYTES,
            what="threshold Paillier key holder",
            error=MalformedKeyError,
        )
        public_bytes = reader.blob(_MAX_PUBLIC_BYTES, "public key")
        index = reader.u32("holder index")
        share = int.from_bytes(reader.blob(_MAX_PUBLIC_BYTES, "share"), "big")
        reader.done()
        try:
            return ThresholdKeyHolder(index, share, public_bytes)
        except ParameterError as exc:
            raise MalformedKeyError(f"the saved key holder is not valid: {exc}") from exc
