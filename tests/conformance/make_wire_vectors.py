"""Known-answer vectors of every byte format deployed peers depend on, frozen as hex in ``wire_vectors.json``.

Frozen: the frame envelope and kind table of :mod:`fedsecure.wire`; every secure-aggregation frame
(:mod:`secagg.messages`, :mod:`secagg.client_state`), the share plaintext and its AES-GCM sealing; the
Flower adapter's ``SessionSetup`` frame; the HKDF purpose labels, key derivations and commitments
(:mod:`secagg.crypto`, :mod:`secagg.keys`); the PRG-to-mask mapping (:mod:`secagg.prg`). A peer built from
another commit must produce and accept exactly these bytes, so any change to them has to fail a test
(``test_wire_vectors.py``, which rebuilds every vector with the builders below) instead of silently
breaking interoperability.

Every value is built from fixed inputs (session id, key bytes, seeds, nonces): nothing here draws
randomness, and nothing calls a function that does (``crypto.seal`` picks a random nonce, so sealed
shares are built with AES-GCM and a fixed nonce in the same layout).

Run this script only when a format change is intended, and bump the format version with it
(:data:`fedsecure.wire.VERSION`, or the ``/vN`` suffix of the label that changed):

    .venv/bin/python tests/conformance/make_wire_vectors.py
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import operator
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fedsecure import wire
from fedsecure.wire import Kind, Reader, Writer
from protocols.flower.session import Encoding, SessionSetup
from secagg import crypto, keys
from secagg.client_state import ClientState
from secagg.config import SessionConfig
from secagg.envelope import Download, Upload
from secagg.errors import InvalidMessageError
from secagg.messages import (
    AdvertiseKeys,
    ConsistencySignature,
    EncryptedShares,
    KeyDirectory,
    MaskedInput,
    ShareInbox,
    SharePair,
    SurvivorList,
    UnmaskingShares,
    UnmaskRequest,
)
from secagg.packing import word_dtype
from secagg.prg import MaskAccumulator, expand_mask
from secagg.stage import Stage

VECTORS_FILE = Path(__file__).with_name("wire_vectors.json")

SESSION_ID = bytes(range(32))
ROUND_INDEX = 5
CLIENTS = (1, 2, 3, 4)
SURVIVORS = (1, 2, 4)
DROPPED = (3,)
VECTOR_LENGTH = 8


@dataclass(frozen=True)
class Vector:
    """One frozen value: its bytes and, for a format with a parser, how to read them back.

    ``parse`` turns the frozen bytes into an object, ``equal`` compares it with ``original`` and
    ``serialize`` writes a parsed object out again.
    """

    data: bytes
    parse: Callable[[bytes], Any] | None = None
    original: Any = None
    serialize: Callable[[Any], bytes] | None = None
    equal: Callable[[Any, Any], bool] = operator.eq


# --- fixed inputs --------------------------------------------------------------------------------


def fixed(label: str, size: int) -> bytes:
    """``size`` fixed pseudo-random-looking bytes named by ``label`` (SHAKE-256, no randomness)."""
    return hashlib.shake_256(b"fedsecure/wire-vectors/" + label.encode()).digest(size)


def config(*, modulus_bits: int = 32, active: bool = False, noise_components: int = 0) -> SessionConfig:
    """The session of every vector: clients 1..4, complete graph, threshold 3, a fixed session id."""
    created = SessionConfig.create(
        range(1, 5),
        threshold=3,
        vector_length=VECTOR_LENGTH,
        modulus_bits=modulus_bits,
        active=active,
        round_index=ROUND_INDEX,
        noise_components=noise_components,
    )
    fixed_config = dataclasses.replace(created, session_id=SESSION_ID)
    fixed_config.validate()
    return fixed_config


def c_private(u: int) -> bytes:
    return fixed(f"x25519/c/{u}", crypto.PRIVATE_KEY_BYTES)


def s_private(u: int) -> bytes:
    return fixed(f"x25519/s/{u}", crypto.PRIVATE_KEY_BYTES)


def public(private: bytes) -> bytes:
    return crypto.public_bytes(crypto.x25519_from_private(private))


def agreement(private: bytes, peer_private: bytes) -> bytes:
    return crypto.agree(crypto.x25519_from_private(private), public(peer_private))


def signing_key(u: int) -> Ed25519PrivateKey:
    """Client ``u``'s Ed25519 identity key (Ed25519 signatures are deterministic)."""
    return Ed25519PrivateKey.from_private_bytes(fixed(f"ed25519/{u}", 32))


def self_mask_seed(u: int) -> bytes:
    return fixed(f"seed/self-mask/{u}", 32)


def noise_seed(u: int, component: int) -> bytes:
    return fixed(f"seed/noise/{u}/{component}", 32)


def share(what: str, owner: int, holder: int) -> bytes:
    """A 33-byte Shamir share below the field's prime (a leading zero byte)."""
    return b"\x00" + fixed(f"share/{what}/{owner}/{holder}", 32)


def share_pair(cfg: SessionConfig, owner: int, holder: int) -> SharePair:
    noise = tuple(share(f"noise/{k}", owner, holder) for k in range(1, cfg.noise_components + 1))
    return SharePair(owner, holder, share("key", owner, holder), share("self-mask", owner, holder), noise)


def transport_key(cfg: SessionConfig, u: int, v: int) -> bytes:
    return keys.transport_key(agreement(c_private(u), c_private(v)), cfg, u, v)


def mask_key(cfg: SessionConfig, u: int, v: int) -> bytes:
    return keys.pairwise_mask_key(agreement(s_private(u), s_private(v)), cfg, u, v)


def sealed(cfg: SessionConfig, sender: int, receiver: int) -> bytes:
    """``crypto.seal``'s layout (nonce, ciphertext, tag; session and route as associated data), fixed nonce."""
    nonce = fixed(f"nonce/{sender}/{receiver}", crypto.NONCE_BYTES)
    ad = cfg.session_id + struct.pack("<II", sender, receiver)
    plaintext = share_pair(cfg, sender, receiver).to_bytes()
    return nonce + AESGCM(transport_key(cfg, sender, receiver)).encrypt(nonce, plaintext, ad)


def words(bits: int) -> np.ndarray:
    """``VECTOR_LENGTH`` ring words spread over the whole range ``[0, 2^bits)``."""
    values = [(0x9E3779B97F4A7C15 * (i + 1) + 0x0123456789ABCDEF) % (1 << bits) for i in range(VECTOR_LENGTH)]
    return np.array(values, dtype=word_dtype(bits))


def word_bytes(values: np.ndarray) -> bytes:
    """Ring words as little-endian u64 (independent of the in-memory word dtype)."""
    return np.asarray(values, dtype="<u8").tobytes()


def survivors_signature(cfg: SessionConfig, u: int) -> bytes:
    return crypto.sign(signing_key(u), SurvivorList(SURVIVORS).consistency_payload(cfg))


# --- vectors -------------------------------------------------------------------------------------

FRAMES: dict[str, Callable[[], Vector]] = {}
"""Frames and other formats with a parser: frozen bytes are also parsed back."""
VALUES: dict[str, Callable[[], Vector]] = {}
"""Derived values (labels, keys, commitments, masks): bytes only."""


def upload(message: Upload, cfg: SessionConfig, equal: Callable[[Any, Any], bool] = operator.eq) -> Vector:
    return Vector(
        message.to_bytes(cfg),
        parse=partial(type(message).from_bytes, config=cfg, sender=message.sender),
        original=message,
        serialize=partial(type(message).to_bytes, config=cfg),
        equal=equal,
    )


def download(message: Download, cfg: SessionConfig, receiver: int) -> Vector:
    return Vector(
        message.to_bytes(cfg),
        parse=partial(type(message).from_bytes, config=cfg, receiver=receiver),
        original=message,
        serialize=partial(type(message).to_bytes, config=cfg),
    )


def same_masked_input(a: MaskedInput, b: MaskedInput) -> bool:
    """``MaskedInput`` has no ``==`` (it holds an array)."""
    return (
        type(a) is type(b)
        and (a.sender, a.signature) == (b.sender, b.signature)
        and a.words.dtype == b.words.dtype
        and np.array_equal(a.words, b.words)
    )


def advertisement(cfg: SessionConfig, u: int) -> AdvertiseKeys:
    message = AdvertiseKeys(u, public(c_private(u)), public(s_private(u)))
    return message.signed_by(signing_key(u), cfg) if cfg.active else message


def advertise_keys(cfg: SessionConfig) -> Vector:
    return upload(advertisement(cfg, 1), cfg)


def key_directory(cfg: SessionConfig) -> Vector:
    return download(KeyDirectory(1, tuple(advertisement(cfg, v) for v in (2, 3, 4))), cfg, receiver=1)


def encrypted_shares(cfg: SessionConfig) -> Vector:
    noise = tuple(keys.noise_commitment(noise_seed(1, k), cfg, 1, k) for k in range(1, cfg.noise_components + 1))
    message = EncryptedShares(
        1,
        keys.self_mask_commitment(self_mask_seed(1), cfg, 1),
        tuple((v, sealed(cfg, 1, v)) for v in (2, 3, 4)),
        noise,
    )
    return upload(message, cfg)


def share_inbox(cfg: SessionConfig) -> Vector:
    return download(ShareInbox(1, tuple((v, sealed(cfg, v, 1)) for v in (2, 3, 4))), cfg, receiver=1)


def masked_input(cfg: SessionConfig) -> Vector:
    message = MaskedInput(1, words(cfg.modulus_bits))
    if cfg.active:
        message = message.signed_by(signing_key(1), cfg)
    return upload(message, cfg, equal=same_masked_input)


def consistency_signature(cfg: SessionConfig) -> Vector:
    message = ConsistencySignature(2, survivors_signature(cfg, 2)).signed_by(signing_key(2), cfg)
    return upload(message, cfg)


def unmask_request_broadcast(cfg: SessionConfig) -> Vector:
    signatures = tuple((u, survivors_signature(cfg, u)) for u in SURVIVORS)
    return download(UnmaskRequest(SURVIVORS, DROPPED, signatures), cfg, receiver=2)


def unmask_request_per_client(cfg: SessionConfig) -> Vector:
    return download(UnmaskRequest(SURVIVORS, DROPPED, receiver=2), cfg, receiver=2)


def unmasking_shares(cfg: SessionConfig, survivors: tuple[int, ...], excess: int) -> Vector:
    """Client 2's shares: self-mask shares of the survivors, key shares of the others, and the
    concatenated shares of each survivor's ``excess`` excess noise components (components
    ``T - excess + 1 .. T``)."""
    dropped = tuple(v for v in CLIENTS if v not in survivors)
    components = range(cfg.noise_components - excess + 1, cfg.noise_components + 1)
    noise = tuple((v, b"".join(share(f"noise/{k}", v, 2) for k in components)) for v in survivors if excess)
    message = UnmaskingShares(
        2,
        tuple((v, share("self-mask", v, 2)) for v in survivors),
        tuple((v, share("key", v, 2)) for v in dropped),
        noise,
        excess,
    )
    if cfg.active:
        message = message.signed_by(signing_key(2), cfg)
    return upload(message, cfg)


def client_state_midway(cfg: SessionConfig) -> Vector:
    """Client 1 after ShareKeys, about to send its masked input."""
    peers = (2, 3, 4)
    state = ClientState(
        client_id=1,
        expecting=Stage.MASKED_INPUT,
        c_private=c_private(1),
        s_private=s_private(1),
        self_mask_seed=self_mask_seed(1),
        own_shares=share_pair(cfg, 1, 1),
        mask_keys=tuple((v, mask_key(cfg, 1, v)) for v in peers),
        transport_keys=tuple((v, transport_key(cfg, 1, v)) for v in peers),
        inbox=tuple((v, sealed(cfg, v, 1)) for v in peers),
        signed_survivors=None,
        noise_seeds=tuple(noise_seed(1, k) for k in range(1, cfg.noise_components + 1)),
    )
    return client_state(state, cfg)


def client_state_finished(cfg: SessionConfig) -> Vector:
    """Client 1 after the session (nothing left but its keys and the U3 it signed)."""
    state = ClientState(
        client_id=1,
        expecting=None,
        c_private=c_private(1),
        s_private=s_private(1),
        self_mask_seed=self_mask_seed(1),
        own_shares=None,
        mask_keys=(),
        transport_keys=(),
        inbox=(),
        signed_survivors=SURVIVORS,
    )
    return client_state(state, cfg)


def client_state(state: ClientState, cfg: SessionConfig) -> Vector:
    return Vector(
        state.to_bytes(cfg),
        parse=partial(ClientState.from_bytes, config=cfg),
        original=state,
        serialize=partial(ClientState.to_bytes, config=cfg),
    )


def share_plaintext(cfg: SessionConfig) -> Vector:
    pair = share_pair(cfg, 1, 2)
    return Vector(
        pair.to_bytes(), parse=partial(SharePair.from_bytes, config=cfg), original=pair, serialize=SharePair.to_bytes
    )


def sealed_share(cfg: SessionConfig) -> Vector:
    """The sealed share from client 1 to client 2; parsing it opens it with ``crypto.open_sealed``."""
    opened = partial(crypto.open_sealed, transport_key(cfg, 2, 1), session_id=cfg.session_id, sender=1, receiver=2)
    return Vector(sealed(cfg, 1, 2), parse=opened, original=share_pair(cfg, 1, 2).to_bytes())


def session_setup(setup: SessionSetup) -> Vector:
    return Vector(setup.to_bytes(), parse=SessionSetup.from_bytes, original=setup, serialize=SessionSetup.to_bytes)


NODE_IDS = (0x0123456789ABCDEF, 0xFEDCBA9876543210, 7, 2**64 - 1)

WEIGHTED_SETUP = SessionSetup(
    session_id=SESSION_ID,
    round_index=ROUND_INDEX,
    node_ids=NODE_IDS,
    degree=0,
    graph_seed=fixed("graph-seed", 32),
    threshold=3,
    modulus_bits=32,
    vector_length=VECTOR_LENGTH,
    active=True,
    clip=1.5,
    max_weight=120.0,
)
XNOISE_SETUP = dataclasses.replace(
    WEIGHTED_SETUP,
    degree=2,
    threshold=2,
    modulus_bits=20,
    active=False,
    clip=0.0,
    max_weight=1.0,
    encoding=Encoding.XNOISE_SKELLAM,
    l2_clip=0.1,
    noise_multiplier=0.8,
    expected_clients=4,
    rotation_seed=fixed("rotation-seed", 32),
    dimension=6,
    tolerated_dropout=0.25,
    noise_components=1,  # what dp.XNoiseSkellam plans for 4 clients at this dropout
)

TINY_FIELDS = (0xAB, 0x01020304, 0x0102030405060708, -1.5, (1, 2**32 - 2), b"blob", b"fix", ((7, b"xy"), (9, b"zw")))


def write_tiny(fields: tuple[Any, ...]) -> bytes:
    """A frame with one field of every type :class:`fedsecure.wire.Writer` writes."""
    u8, u32, u64, f64, ids, blob, fixed_bytes, addressed = fields
    w = Writer(Kind.SURVIVOR_LIST)
    w.u8(u8)
    w.u32(u32)
    w.u64(u64)
    w.f64(f64)
    w.ids(ids)
    w.blob(blob)
    w.fixed(fixed_bytes)
    w.addressed(addressed)
    return w.finish()


def read_tiny(data: bytes) -> tuple[Any, ...]:
    r = Reader(data, Kind.SURVIVOR_LIST, max_bytes=1024, what="tiny frame", error=InvalidMessageError)
    fields = (r.u8(), r.u32(), r.u64(), r.f64(), r.ids(8), r.blob(16), r.fixed(3), r.addressed(8, 2))
    r.done()
    return fields


def write_empty(fields: tuple[()] = ()) -> bytes:
    """A frame with an empty body: header and digest only."""
    return Writer(Kind.ADVERTISE_KEYS).finish()


def read_empty(data: bytes) -> tuple[()]:
    Reader(data, Kind.ADVERTISE_KEYS, max_bytes=64, what="empty frame", error=InvalidMessageError).done()
    return ()


def expanded(key: bytes, bits: int) -> bytes:
    return word_bytes(expand_mask(key, VECTOR_LENGTH, bits))


def accumulated(add: bytes, subtract: bytes, bits: int) -> bytes:
    """``words(bits)`` plus the mask of ``add`` minus the mask of ``subtract``, mod ``2^bits``."""
    accumulator = MaskAccumulator(VECTOR_LENGTH, bits, start=words(bits))
    accumulator.accumulate(add_keys=[add], subtract_keys=[subtract])
    return word_bytes(accumulator.reduced())


def _register() -> None:
    hbc, active, noise = config(), config(active=True), config(noise_components=1)
    frames: dict[str, Callable[[], Vector]] = {
        "wire/frame_every_field": lambda: Vector(
            write_tiny(TINY_FIELDS), parse=read_tiny, original=TINY_FIELDS, serialize=write_tiny
        ),
        "wire/frame_empty_body": lambda: Vector(write_empty(), parse=read_empty, original=(), serialize=write_empty),
        "advertise_keys/hbc": partial(advertise_keys, hbc),
        "advertise_keys/active": partial(advertise_keys, active),
        "key_directory/hbc": partial(key_directory, hbc),
        "key_directory/active": partial(key_directory, active),
        "encrypted_shares/hbc": partial(encrypted_shares, hbc),
        "encrypted_shares/noise": partial(encrypted_shares, noise),
        "share_inbox/hbc": partial(share_inbox, hbc),
        "share_inbox/noise": partial(share_inbox, noise),
        "masked_input/bits32": partial(masked_input, hbc),
        "masked_input/bits20": partial(masked_input, config(modulus_bits=20)),
        "masked_input/bits64": partial(masked_input, config(modulus_bits=64)),
        "masked_input/active_bits32": partial(masked_input, active),
        "survivor_list/hbc": lambda: download(SurvivorList(SURVIVORS), hbc, receiver=1),
        "consistency_signature/active": partial(consistency_signature, active),
        "unmask_request/per_client": partial(unmask_request_per_client, hbc),
        "unmask_request/broadcast_active": partial(unmask_request_broadcast, active),
        "unmasking_shares/hbc": partial(unmasking_shares, hbc, SURVIVORS, 0),
        "unmasking_shares/active": partial(unmasking_shares, active, SURVIVORS, 0),
        "unmasking_shares/noise_excess": partial(unmasking_shares, noise, CLIENTS, 1),
        "unmasking_shares/noise_no_excess": partial(unmasking_shares, noise, SURVIVORS, 0),
        "share_pair/hbc": partial(share_plaintext, hbc),
        "share_pair/noise": partial(share_plaintext, noise),
        "share_transport/sealed_1_to_2": partial(sealed_share, hbc),
        "client_state/midway": partial(client_state_midway, hbc),
        "client_state/midway_noise": partial(client_state_midway, noise),
        "client_state/finished_active": partial(client_state_finished, active),
        "session_setup/weighted": partial(session_setup, WEIGHTED_SETUP),
        "session_setup/xnoise": partial(session_setup, XNOISE_SETUP),
    }
    FRAMES.update(frames)

    shared = fixed("kdf/shared", 32)
    values: dict[str, Callable[[], bytes]] = {
        "wire/kind_table": lambda: ";".join(f"{k.name}={int(k)}" for k in Kind).encode(),
        "survivor_list/consistency_payload": lambda: SurvivorList(SURVIVORS).consistency_payload(active),
        "kdf/derive_key_16": lambda: crypto.derive_key(
            shared, purpose=crypto.PURPOSE_MASK, session_id=SESSION_ID, round_index=ROUND_INDEX, a=3, b=1, length=16
        ),
        "kdf/derive_key_32": lambda: crypto.derive_key(
            shared, purpose=b"conformance/v1", session_id=SESSION_ID, round_index=2**64 - 1, a=1, b=2**32 - 2, length=32
        ),
        "kdf/session_key": lambda: keys.session_key(shared, purpose=b"conformance/v1", config=hbc, a=4, b=2, length=24),
        "kdf/self_mask_key": lambda: keys.self_mask_key(self_mask_seed(1), hbc, 1),
        "kdf/pairwise_mask_key_1_2": lambda: mask_key(hbc, 1, 2),
        "kdf/pairwise_mask_key_2_1": lambda: mask_key(hbc, 2, 1),
        "kdf/transport_key_1_2": lambda: transport_key(hbc, 1, 2),
        "kdf/noise_key_component_1": lambda: keys.noise_key(noise_seed(1, 1), noise, 1, 1),
        "kdf/noise_key_component_2": lambda: keys.noise_key(noise_seed(1, 1), noise, 1, 2),
        "kdf/self_mask_commitment": lambda: keys.self_mask_commitment(self_mask_seed(1), hbc, 1),
        "kdf/noise_commitment": lambda: keys.noise_commitment(noise_seed(1, 1), noise, 1, 1),
        "x25519/agreement_s_1_2": lambda: agreement(s_private(1), s_private(2)),
    }
    for name in sorted(n for n in vars(crypto) if n.startswith("PURPOSE_")):
        values[f"purpose/{name.removeprefix('PURPOSE_').lower()}"] = partial(getattr, crypto, name)

    mask_key_a, mask_key_b = fixed("prg/key/a", crypto.MASK_KEY_BYTES), fixed("prg/key/b", crypto.MASK_KEY_BYTES)
    for bits in (32, 20, 64):
        values[f"prg/expand_mask_bits{bits}"] = partial(expanded, mask_key_a, bits)
    for bits in (32, 20):
        values[f"prg/accumulate_bits{bits}"] = partial(accumulated, mask_key_a, mask_key_b, bits)

    VALUES.update({name: partial(lambda f: Vector(f()), build) for name, build in values.items()})


_register()
VECTORS: dict[str, Callable[[], Vector]] = FRAMES | VALUES


def frozen() -> dict[str, Any]:
    """The contents of ``wire_vectors.json`` as the current code builds them."""
    return {
        "about": "Frozen by make_wire_vectors.py; regenerate only for an intended format change, with a version bump.",
        "format_version": wire.VERSION,
        "vectors": {name: VECTORS[name]().data.hex() for name in sorted(VECTORS)},
    }


def main() -> None:
    VECTORS_FILE.write_text(json.dumps(frozen(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(VECTORS)} vectors to {VECTORS_FILE}")


if __name__ == "__main__":
    main()
