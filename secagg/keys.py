"""Per-session keys: every key is bound to the session id, the round and the pair of ids.

Bonawitz et al. 2017, Sec. 4: p_{u,v} = Delta_{u,v} * PRG(s_{u,v}) with Delta = +1 when
u > v and -1 when u < v, so the pairwise masks of every pair cancel in the sum;
b_u seeds u's self mask. Binding session and round into HKDF's info means that no
mask and no transport key is ever reused across rounds or pairs.
"""

from __future__ import annotations

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


def adds_pairwise_mask(u: int, v: int) -> bool:
    """Client u adds p_{u,v} when u > v and subtracts it when u < v."""
    return u > v
