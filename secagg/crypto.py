"""Key agreement, key derivation, authenticated encryption and signatures.

Thin, typed wrappers over ``cryptography`` (never a hand-written cipher):

* X25519 Diffie-Hellman for the two key pairs each client advertises
  (Bonawitz et al. 2017, Sec. 4, Round 0: ``c`` for share transport, ``s`` for masks);
* HKDF-SHA256 binding the session id, the round and both party ids into every
  derived key, so no key (hence no mask) is reused across sessions, rounds or pairs;
* AES-256-GCM for share transport with session, sender and receiver as associated data;
* Ed25519 signatures for the active-server variant (Sec. 4, Rounds 0 and 3).
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from secagg.errors import InvalidMessageError

PUBLIC_KEY_BYTES = 32
PRIVATE_KEY_BYTES = 32
SIGNATURE_BYTES = 64
NONCE_BYTES = 12
MASK_KEY_BYTES = 16  # AES-128-CTR; X25519 itself offers ~128-bit security
TRANSPORT_KEY_BYTES = 32
NOISE_KEY_BYTES = 32  # AES-256-CTR stream feeding an exact noise sampler (secagg.noise)

PURPOSE_MASK = b"secagg/pairwise-mask/v1"
PURPOSE_TRANSPORT = b"secagg/share-transport/v1"
PURPOSE_SELF_MASK = b"secagg/self-mask/v1"
PURPOSE_NOISE = b"secagg/excess-noise/v1"


_SHA256 = hashes.SHA256()


def generate_x25519() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def public_bytes(key: X25519PrivateKey | Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def private_bytes(key: X25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())


def x25519_from_private(data: bytes) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(data)


def agree(private: X25519PrivateKey, peer_public: bytes) -> bytes:
    """Raw X25519 shared secret; a low-order peer key is rejected."""
    try:
        return private.exchange(X25519PublicKey.from_public_bytes(peer_public))
    except ValueError as exc:
        raise InvalidMessageError(f"unusable X25519 public key: {exc}") from None


def derive_key(
    shared: bytes, *, purpose: bytes, session_id: bytes, round_index: int, a: int, b: int, length: int
) -> bytes:
    """HKDF-SHA256 with the session as salt and purpose, round and the sorted pair in the info."""
    info = purpose + struct.pack("<QII", round_index, min(a, b), max(a, b))
    return HKDF(algorithm=_SHA256, length=length, salt=session_id, info=info).derive(shared)


def _transport_ad(session_id: bytes, sender: int, receiver: int) -> bytes:
    return session_id + struct.pack("<II", sender, receiver)


def seal(key: bytes, plaintext: bytes, *, session_id: bytes, sender: int, receiver: int) -> bytes:
    """AES-GCM encrypt with a fresh random nonce; returns ``nonce || ciphertext || tag``."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, _transport_ad(session_id, sender, receiver))


def open_sealed(key: bytes, sealed: bytes, *, session_id: bytes, sender: int, receiver: int) -> bytes:
    """Inverse of :func:`seal`; any tampering, or the wrong sender/receiver/session, is rejected."""
    if len(sealed) < NONCE_BYTES + 16:
        raise InvalidMessageError(f"encrypted shares from {sender} are truncated")
    try:
        return AESGCM(key).decrypt(
            sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _transport_ad(session_id, sender, receiver)
        )
    except InvalidTag:
        raise InvalidMessageError(f"encrypted shares from {sender} to {receiver} fail authentication") from None


def generate_signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def sign(key: Ed25519PrivateKey, message: bytes) -> bytes:
    return key.sign(message)


def verify(public: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        public.verify(signature, message)
    except InvalidSignature:
        return False
    return True
