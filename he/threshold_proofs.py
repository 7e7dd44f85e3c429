"""Proof that a threshold Paillier decryption share is correct: equality of two discrete logarithms.

Shoup (EUROCRYPT 2000, Sec. 3, the proof of correctness of a signature share), as Damgard and
Jurik use it for decryption shares (PKC 2001, Sec. 4): holder ``i`` proves, without revealing
its share, that ``log_{c^4}(c_i^2) = log_v(v_i)``, i.e. that its share ``c_i`` of a ciphertext
``c`` was raised to the same exponent ``w = Delta s_i`` as its verification key ``v_i = v^w``.
It is the Chaum-Pedersen protocol (CRYPTO 1992) over the integers, in a group of unknown order,
made non-interactive with Fiat-Shamir (CRYPTO 1986):

* commitment ``a = C^r``, ``b = v^r`` with ``r`` uniform of ``|w| + 2 * 128`` bits. Shoup takes
  ``L(n) + 2 L1`` bits for a witness below ``n``; here ``|w| = |n^2| + |Delta|``, so ``r`` has
  ``|n^2| + |Delta| + 256`` bits and ``z`` below hides ``w`` within statistical distance ``2^-128``;
* challenge ``e``: 128 bits of SHA-256 under a domain tag, over the context (the public key's
  fingerprint, which covers ``n``, ``v`` and every ``v_j``; the ciphertext's digest; the holder
  index), the verification key ``v_i``, the share itself and ``C``, ``C_i``, ``a``, ``b``;
* response ``z = r + e w``; the verifier recomputes ``a = C^z C_i^(-e)``, ``b = v^z v_i^(-e)``
  and the challenge.

Batching. A packed ciphertext is a vector ``c_1..c_L`` and a share the vector ``c_{i,j} =
c_j^(2 Delta s_i)``. Instead of ``L`` proofs, both sides fold them with 128-bit coefficients
``rho_j`` hashed from the whole share (the small-exponents batch test of Bellare, Garay and
Rabin, EUROCRYPT 1998, Sec. 3): ``C = (prod c_j^rho_j)^4``, ``C_i = (prod c_{i,j}^rho_j)^2``,
and one proof that ``log_C(C_i) = log_v(v_i)``. Every folded element is a square, and for
``n = pq`` with safe primes the squares modulo ``n^2`` form a group of order ``n p' q'`` whose
elements other than 1 all have order above ``2^128``; so a share with any wrong ``c_{i,j}^2``
folds to a wrong ``C_i`` except with probability ``2^-128`` over the ``rho_j``.

Prover randomness comes from :mod:`secrets`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import gmpy2

__all__ = ["SECURITY_BITS", "CHALLENGE_BYTES", "Statement", "EqualityProof", "response_bytes", "prove", "verify"]

SECURITY_BITS: Final = 128
CHALLENGE_BYTES: Final = SECURITY_BITS // 8
_DOMAIN: Final = b"fedsecure-he-threshold-paillier-share-proof-v1\x00"


@dataclass(frozen=True)
class Statement:
    """``log_{c_j^4}(c_{i,j}^2) = log_v(v_i)`` for every ``j``, modulo ``n^2``, bound to ``context``.

    ``witness_bits`` bounds the bit length of the common logarithm ``w = Delta s_i``.
    """

    nsquare: gmpy2.mpz
    base: gmpy2.mpz  # v
    key: gmpy2.mpz  # v_i
    ciphertext: Sequence[gmpy2.mpz]  # c_j
    share: Sequence[gmpy2.mpz]  # c_{i,j}
    witness_bits: int
    context: bytes

    @property
    def width(self) -> int:
        return (int(self.nsquare).bit_length() + 7) // 8


@dataclass(frozen=True)
class EqualityProof:
    """A Fiat-Shamir equality-of-logs proof: 128-bit challenge ``e`` and integer response ``z``."""

    challenge: int
    response: int


def _randomness_bits(witness_bits: int) -> int:
    return witness_bits + 2 * SECURITY_BITS


def response_bytes(witness_bits: int) -> int:
    """Fixed width of ``z = r + e w < 2^(|w| + 256) + 2^(128 + |w|)``, below ``2^(|w| + 257)``."""
    return (_randomness_bits(witness_bits) + 1 + 7) // 8


def _hash(tag: bytes, *parts: bytes) -> bytes:
    digest = hashlib.sha256(_DOMAIN + tag)
    for part in parts:
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.digest()


def _encode(statement: Statement, *values: gmpy2.mpz) -> bytes:
    return b"".join(int(v).to_bytes(statement.width, "big") for v in values)


def _fold(statement: Statement) -> tuple[bytes, gmpy2.mpz, gmpy2.mpz]:
    """The transcript seed and the folded bases ``C = (prod c_j^rho_j)^4``, ``C_i = (prod c_{i,j}^rho_j)^2``."""
    seed = _hash(
        b"fold",
        statement.context,
        _encode(statement, statement.base, statement.key),
        _encode(statement, *statement.share),
    )
    nsquare = statement.nsquare
    folded = gmpy2.mpz(1)
    folded_share = gmpy2.mpz(1)
    for index, (c, c_i) in enumerate(zip(statement.ciphertext, statement.share, strict=True)):
        rho = gmpy2.mpz(int.from_bytes(_hash(b"rho", seed, index.to_bytes(8, "little"))[:CHALLENGE_BYTES], "big"))
        folded = folded * gmpy2.powmod(c, rho, nsquare) % nsquare
        folded_share = folded_share * gmpy2.powmod(c_i, rho, nsquare) % nsquare
    return seed, gmpy2.powmod(folded, 4, nsquare), gmpy2.powmod(folded_share, 2, nsquare)


def _challenge(statement: Statement, seed: bytes, *values: gmpy2.mpz) -> int:
    return int.from_bytes(_hash(b"challenge", seed, _encode(statement, *values))[:CHALLENGE_BYTES], "big")


def prove(statement: Statement, witness: int) -> EqualityProof:
    """Prove ``statement`` knowing ``witness = log_v(v_i)`` (Shoup 2000, Sec. 3, share generation)."""
    seed, folded, folded_share = _fold(statement)
    nonce = gmpy2.mpz(secrets.randbits(_randomness_bits(statement.witness_bits)))
    commit = gmpy2.powmod(folded, nonce, statement.nsquare)
    commit_base = gmpy2.powmod(statement.base, nonce, statement.nsquare)
    challenge = _challenge(statement, seed, folded, folded_share, commit, commit_base)
    return EqualityProof(challenge, int(nonce + challenge * witness))


def verify(statement: Statement, proof: EqualityProof) -> bool:
    """Check ``proof`` against ``statement`` (Shoup 2000, Sec. 3, share verification)."""
    seed, folded, folded_share = _fold(statement)
    nsquare = statement.nsquare
    if gmpy2.gcd(folded_share, nsquare) != 1 or gmpy2.gcd(statement.key, nsquare) != 1:
        return False
    z, e = gmpy2.mpz(proof.response), gmpy2.mpz(proof.challenge)
    commit = gmpy2.powmod(folded, z, nsquare) * gmpy2.powmod(folded_share, -e, nsquare) % nsquare
    commit_base = gmpy2.powmod(statement.base, z, nsquare) * gmpy2.powmod(statement.key, -e, nsquare) % nsquare
    return proof.challenge == _challenge(statement, seed, folded, folded_share, commit, commit_base)
