"""Per-session keys: every key is bound to the session id, the round and the pair of ids.

Bonawitz et al. 2017, Sec. 4: p_{u,v} = Delta_{u,v} * PRG(s_{u,v}) with Delta = +1 when
u > v and -1 when u < v, so the pairwise masks of every pair cancel in the sum;
b_u seeds u's self mask. Binding session and round into HKDF's info means that no
mask and no transport key is ever reused across rounds or pairs. The excess-noise seeds
of :mod:`secagg.noise` (Dordis, Jiang et al. EuroSys 2024) are keyed and committed to
in the same way, one per component.
"""

from __future__ import annotations

import hashlib
import struct

from secagg import crypto
from secagg.config import SessionConfig


def session_key(secret: bytes, *, purpose: bytes, config: SessionConfig, a: int, b: int, length: int) -> bytes:
    """HKDF of ``secret`` for ``purpose`` in this session and round, for the pair ``{a, b}``."""
    return crypto.derive_key(
        secret,
        purpose=purpose,
        session_id=config.session_id,
        round_index=config.round_index,
        a=a,
        b=b,
        length=length,
    )


def self_mask_key(seed: bytes, config: SessionConfig, client: int) -> bytes:
    """AES key of the self mask b_u, from the client's 32-byte seed."""
    return session_key(
        seed, purpose=crypto.PURPOSE_SELF_MASK, config=config, a=client, b=client, length=crypto.MASK_KEY_BYTES
    )


def pairwise_mask_key(shared: bytes, config: SessionConfig, u: int, v: int) -> bytes:
    """AES key of the mask p_{u,v} = p_{v,u}, from their X25519 agreement on the s keys."""
    return session_key(shared, purpose=crypto.PURPOSE_MASK, config=config, a=u, b=v, length=crypto.MASK_KEY_BYTES)


def transport_key(shared: bytes, config: SessionConfig, u: int, v: int) -> bytes:
    """AES-GCM key for the shares u and v send each other, from their agreement on the c keys."""
    return session_key(
        shared, purpose=crypto.PURPOSE_TRANSPORT, config=config, a=u, b=v, length=crypto.TRANSPORT_KEY_BYTES
    )


def noise_key(seed: bytes, config: SessionConfig, client: int, component: int) -> bytes:
    """AES-256 key of the stream that draws the client's noise component ``component`` (1-based)."""
    purpose = crypto.PURPOSE_NOISE + struct.pack("<I", component)
    return session_key(seed, purpose=purpose, config=config, a=client, b=client, length=crypto.NOISE_KEY_BYTES)


COMMITMENT_BYTES = 32
_COMMITMENT_LABEL = b"secagg/self-mask-commitment/v1"
_NOISE_COMMITMENT_LABEL = b"secagg/noise-seed-commitment/v1"


def self_mask_commitment(seed: bytes, config: SessionConfig, client: int) -> bytes:
    """SHA-256 commitment to the self-mask seed b_u, bound to the session, round and client.

    Sent with the shares (Round 1) and checked against every reconstructed seed
    (Round 4), so a holder that forges its share of b_u cannot change the sum
    unnoticed. b_u is 256 uniformly random bits, so hashing it without extra
    randomness hides it (SHA-256 as a random oracle) and binds the client to it.
    """
    route = struct.pack("<QI", config.round_index, client)
    return hashlib.sha256(_COMMITMENT_LABEL + config.session_id + route + seed).digest()


def noise_commitment(seed: bytes, config: SessionConfig, client: int, component: int) -> bytes:
    """SHA-256 commitment to the seed of noise component ``component``, bound like
    :func:`self_mask_commitment` and to the component, so a share of one component never
    passes for another's."""
    route = struct.pack("<QII", config.round_index, client, component)
    return hashlib.sha256(_NOISE_COMMITMENT_LABEL + config.session_id + route + seed).digest()


def adds_pairwise_mask(u: int, v: int) -> bool:
    """Client u adds p_{u,v} when u > v and subtracts it when u < v."""
    return u > v
