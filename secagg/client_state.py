"""A client's protocol state as bytes, so a session can resume in another process.

Frameworks such as Flower may run each stage of a client in a fresh process and
keep only serializable records between stages. These bytes hold the client's
private X25519 keys, its self-mask seed (and noise seeds, :mod:`secagg.noise`) and the
shares it holds: they must stay on the client's own storage and never be sent anywhere.
The noise seeds are written only in sessions with noise components, so other states keep
their format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from fedsecure.wire import Kind
from secagg.config import SessionConfig
from secagg.crypto import MASK_KEY_BYTES, PRIVATE_KEY_BYTES, TRANSPORT_KEY_BYTES
from secagg.envelope import ENVELOPE_BYTES, open_frame, read_frame
from secagg.messages import SharePair, sealed_shares_bytes, share_plaintext_bytes
from secagg.shamir import SECRET_BYTES
from secagg.stage import Stage

_FINISHED = 255


@dataclass(frozen=True)
class ClientState:
    """Everything a :class:`~secagg.client.Client` holds between rounds (Bonawitz et al. 2017, Fig. 4)."""

    KIND: ClassVar[Kind] = Kind.CLIENT_STATE
    client_id: int
    expecting: Stage | None
    c_private: bytes
    s_private: bytes
    self_mask_seed: bytes
    own_shares: SharePair | None
    mask_keys: tuple[tuple[int, bytes], ...]
    transport_keys: tuple[tuple[int, bytes], ...]
    inbox: tuple[tuple[int, bytes], ...]
    signed_survivors: tuple[int, ...] | None
    noise_seeds: tuple[bytes, ...] = ()

    def to_bytes(self, config: SessionConfig) -> bytes:
        """The state as a frame addressed by the client to itself, bound to ``config``'s session."""
        w = open_frame(self.KIND, config, self.client_id, self.client_id)
        w.u8(_FINISHED if self.expecting is None else int(self.expecting))
        w.fixed(self.c_private)
        w.fixed(self.s_private)
        w.blob(self.self_mask_seed)
        w.blob(self.own_shares.to_bytes() if self.own_shares is not None else b"")
        w.addressed(self.mask_keys)
        w.addressed(self.transport_keys)
        w.addressed(self.inbox)
        w.u8(self.signed_survivors is not None)
        w.ids(self.signed_survivors or ())
        if config.noise_components:
            w.blob(b"".join(self.noise_seeds))
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes, config: SessionConfig) -> ClientState:
        """Parse state saved during ``config``'s session; anything else is refused."""
        n = len(config.client_ids)
        sealed, plaintext = sealed_shares_bytes(config), share_plaintext_bytes(config)
        seeds_bytes = config.noise_components * SECRET_BYTES
        per_peer = 3 * 4 + MASK_KEY_BYTES + TRANSPORT_KEY_BYTES + sealed + 4
        limit = ENVELOPE_BYTES + 256 + plaintext + seeds_bytes + n * per_peer
        r, client_id, receiver = read_frame(
            data, cls.KIND, config, sender=None, receiver=None, max_bytes=limit, what="ClientState"
        )
        if receiver != client_id:
            raise r.fail(f"state of client {client_id} addressed to client {receiver}")
        stage_code = r.u8("stage")
        if stage_code != _FINISHED and stage_code not in set(Stage):
            raise r.fail(f"unknown stage {stage_code}")
        c_private, s_private = r.fixed(PRIVATE_KEY_BYTES), r.fixed(PRIVATE_KEY_BYTES)
        seed = r.blob(SECRET_BYTES)
        own = r.blob(plaintext)
        mask_keys = r.addressed(n, MASK_KEY_BYTES)
        transport_keys = r.addressed(n, TRANSPORT_KEY_BYTES)
        inbox = r.addressed(n, sealed)
        signed = r.u8()
        survivors = r.ids(n)
        seeds = r.blob(seeds_bytes, "noise seeds") if config.noise_components else b""
        if len(seeds) not in (0, seeds_bytes):
            raise r.fail(f"noise seeds of {len(seeds)} bytes, expected {seeds_bytes}")
        r.done()
        return cls(
            client_id=client_id,
            expecting=None if stage_code == _FINISHED else Stage(stage_code),
            c_private=c_private,
            s_private=s_private,
            self_mask_seed=seed,
            own_shares=SharePair.from_bytes(own, config) if own else None,
            mask_keys=mask_keys,
            transport_keys=transport_keys,
            inbox=inbox,
            signed_survivors=survivors if signed else None,
            noise_seeds=tuple(seeds[at : at + SECRET_BYTES] for at in range(0, len(seeds), SECRET_BYTES)),
        )
