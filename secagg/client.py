"""The client's side of secure aggregation, one method per round.

Bonawitz et al. CCS 2017, Fig. 4 (and Sec. 6 for the active setting); with a
sparse neighbour graph this is SecAgg+ (Bell et al. CCS 2020, Sec. 4); with noise
components it also adds, shares and reveals the removable noise of XNoise (Dordis,
Jiang et al. EuroSys 2024, Sec. 4; :mod:`secagg.noise`). The client never talks to the
network: each method takes the parsed message the server sent and returns the message
to send back.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import TypeVar

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from numpy.typing import NDArray

from secagg import crypto
from secagg.client_state import ClientState
from secagg.config import SessionConfig
from secagg.envelope import Upload
from secagg.errors import (
    ConfigurationError,
    ConsistencyError,
    InvalidMessageError,
    RefusedRequestError,
    TooFewSurvivorsError,
)
from secagg.keys import (
    adds_pairwise_mask,
    noise_commitment,
    noise_key,
    pairwise_mask_key,
    self_mask_commitment,
    self_mask_key,
    transport_key,
)
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
from secagg.noise import NoiseSampler, check_sampler, excess_components, noise_words
from secagg.prg import MaskAccumulator
from secagg.shamir import SECRET_BYTES, split_secret
from secagg.stage import Stage, StageTracker

U = TypeVar("U", bound=Upload)


class Client:
    """One participant. Secrets live only here and leave only as Shamir shares."""

    def __init__(
        self,
        client_id: int,
        config: SessionConfig,
        *,
        signing_key: Ed25519PrivateKey | None = None,
        verify_keys: Mapping[int, Ed25519PublicKey] | None = None,
        noise: NoiseSampler | None = None,
    ) -> None:
        if client_id not in config.neighbours:
            raise ConfigurationError(f"client {client_id} is not part of the session")
        if config.active and (signing_key is None or verify_keys is None):
            raise ConfigurationError("the active setting needs a signing key and the peers' verification keys")
        check_sampler(config, noise, f"client {client_id}")
        self.id = client_id
        self._noise = noise
        self.config = config
        self._signing_key = signing_key
        self._verify_keys = dict(verify_keys or {})
        self._holders = config.holders(client_id)
        self._c_key = crypto.generate_x25519()
        self._s_key = crypto.generate_x25519()
        self._stages = StageTracker(f"client {client_id}", config.active)
        self._mask_keys: dict[int, bytes] = {}
        self._transport_keys: dict[int, bytes] = {}
        self._own_shares: SharePair | None = None
        self._self_mask_seed = b""
        self._noise_seeds: tuple[bytes, ...] = ()
        self._inbox: dict[int, bytes] = {}
        self._signed_survivors: tuple[int, ...] | None = None

    @property
    def expecting(self) -> Stage | None:
        """The round this client runs next (``None`` once it has answered the unmask request)."""
        return self._stages.expecting

    def export_state(self) -> bytes:
        """The client's state between rounds as bytes (see :mod:`secagg.client_state`).

        They contain its private keys and the shares it holds: keep them on the client.
        """
        return ClientState(
            client_id=self.id,
            expecting=self._stages.expecting,
            c_private=crypto.private_bytes(self._c_key),
            s_private=crypto.private_bytes(self._s_key),
            self_mask_seed=self._self_mask_seed,
            own_shares=self._own_shares,
            mask_keys=tuple(sorted(self._mask_keys.items())),
            transport_keys=tuple(sorted(self._transport_keys.items())),
            inbox=tuple(sorted(self._inbox.items())),
            signed_survivors=self._signed_survivors,
            noise_seeds=self._noise_seeds,
        ).to_bytes(self.config)

    @classmethod
    def restore(
        cls,
        data: bytes,
        config: SessionConfig,
        *,
        signing_key: Ed25519PrivateKey | None = None,
        verify_keys: Mapping[int, Ed25519PublicKey] | None = None,
        noise: NoiseSampler | None = None,
    ) -> Client:
        """Resume a client from :meth:`export_state` bytes saved during ``config``'s session."""
        state = ClientState.from_bytes(data, config)
        client = cls(state.client_id, config, signing_key=signing_key, verify_keys=verify_keys, noise=noise)
        client._c_key = crypto.x25519_from_private(state.c_private)
        client._s_key = crypto.x25519_from_private(state.s_private)
        client._stages = StageTracker(f"client {state.client_id}", config.active, expecting=state.expecting)
        client._mask_keys = dict(state.mask_keys)
        client._transport_keys = dict(state.transport_keys)
        client._own_shares = state.own_shares
        client._self_mask_seed = state.self_mask_seed
        client._noise_seeds = state.noise_seeds
        client._inbox = dict(state.inbox)
        client._signed_survivors = state.signed_survivors
        return client

    def advertise_keys(self) -> AdvertiseKeys:
        """Round 0: publish the transport key c_u^PK and the mask-agreement key s_u^PK (signed if active)."""
        self._stages.enter(Stage.ADVERTISE_KEYS)
        return self._sign(AdvertiseKeys(self.id, crypto.public_bytes(self._c_key), crypto.public_bytes(self._s_key)))

    def share_keys(self, directory: KeyDirectory) -> EncryptedShares:
        """Round 1: check the neighbours' keys, then Shamir-share s_u^SK and a fresh seed b_u
        among the holders, seal each holder's pair of shares with AES-GCM, and commit to b_u
        (:func:`~secagg.keys.self_mask_commitment`) so the server can check its reconstruction.
        XNoise: each noise seed is shared, sealed and committed to in the same way (Dordis Sec. 4)."""
        self._stages.enter(Stage.SHARE_KEYS)
        if directory.receiver != self.id:
            raise InvalidMessageError(f"client {self.id} got the key directory of client {directory.receiver}")
        entries = {e.sender: e for e in directory.entries}
        strangers = set(entries) - self._holders
        if strangers:
            raise InvalidMessageError(f"client {self.id}: key directory lists non-neighbours {sorted(strangers)[:5]}")
        own = entries.get(self.id)
        if (
            own is None
            or own.c_public != crypto.public_bytes(self._c_key)
            or own.s_public != crypto.public_bytes(self._s_key)
        ):
            raise InvalidMessageError(f"client {self.id}: key directory misstates its own keys")
        if len(entries) < self.config.threshold:
            raise TooFewSurvivorsError(
                f"client {self.id}: {len(entries)} holders advertised keys, threshold is {self.config.threshold}"
            )
        keys = [e.c_public for e in entries.values()] + [e.s_public for e in entries.values()]
        if len(set(keys)) != len(keys):
            raise InvalidMessageError(f"client {self.id}: advertised public keys are not all distinct")
        if self.config.active:
            self._verify_advertisements(entries)
        peers = {v: e for v, e in entries.items() if v != self.id}
        # s_{u,v} depends only on public keys known now; deriving the mask keys here
        # keeps Round 2 down to mask expansion (Round 2 of the paper uses only these).
        # The public keys themselves are not kept: nothing later needs them.
        self._mask_keys = {
            v: pairwise_mask_key(crypto.agree(self._s_key, e.s_public), self.config, self.id, v)
            for v, e in peers.items()
        }
        self._transport_keys = {
            v: transport_key(crypto.agree(self._c_key, e.c_public), self.config, self.id, v) for v, e in peers.items()
        }

        self._self_mask_seed = secrets.token_bytes(SECRET_BYTES)
        self._noise_seeds = tuple(secrets.token_bytes(SECRET_BYTES) for _ in range(self.config.noise_components))
        holders, t = sorted(entries), self.config.threshold
        key_shares = split_secret(crypto.private_bytes(self._s_key), holders, t)
        seed_shares = split_secret(self._self_mask_seed, holders, t)
        noise_shares = [split_secret(seed, holders, t) for seed in self._noise_seeds]
        sealed = []
        for v in holders:
            pair = SharePair(self.id, v, key_shares[v], seed_shares[v], tuple(shares[v] for shares in noise_shares))
            if v == self.id:
                self._own_shares = pair
                continue
            sealed.append(
                (
                    v,
                    crypto.seal(
                        self._transport_keys[v],
                        pair.to_bytes(),
                        session_id=self.config.session_id,
                        sender=self.id,
                        receiver=v,
                    ),
                )
            )
        commitment = self_mask_commitment(self._self_mask_seed, self.config, self.id)
        noise = tuple(
            noise_commitment(seed, self.config, self.id, k) for k, seed in enumerate(self._noise_seeds, start=1)
        )
        return self._sign(EncryptedShares(self.id, commitment, tuple(sealed), noise))

    def masked_input(self, inbox: ShareInbox, vector: NDArray[np.integer]) -> MaskedInput:
        """Round 2: y_u = x_u + PRG(b_u) + sum_v +-PRG(s_{u,v}) mod 2^k over the neighbours
        whose shares arrived (U2), keeping their sealed shares for Round 4. XNoise: x_u also
        carries the client's noise components, each drawn from its seed (Dordis Sec. 4)."""
        self._stages.enter(Stage.MASKED_INPUT)
        if inbox.receiver != self.id:
            raise InvalidMessageError(f"client {self.id} got the share inbox of client {inbox.receiver}")
        senders = {v for v, _ in inbox.sealed}
        unknown = senders - set(self._transport_keys)
        if unknown:
            raise InvalidMessageError(
                f"client {self.id}: shares from clients without advertised keys {sorted(unknown)}"
            )
        if len(senders) + 1 < self.config.threshold:
            raise TooFewSurvivorsError(
                f"client {self.id}: shares from {len(senders) + 1} holders, threshold is {self.config.threshold}"
            )
        self._inbox = dict(inbox.sealed)
        words = self._check_vector(vector)

        accumulator = MaskAccumulator(self.config.vector_length, self.config.modulus_bits, start=words)
        accumulator.accumulate(
            vectors=self._own_noise(),
            add_keys=[self_mask_key(self._self_mask_seed, self.config, self.id)]
            + [self._mask_keys[v] for v in sorted(senders) if adds_pairwise_mask(self.id, v)],
            subtract_keys=[self._mask_keys[v] for v in sorted(senders) if not adds_pairwise_mask(self.id, v)],
        )
        self._mask_keys = {}  # used once: Round 4 never needs them
        return self._sign(MaskedInput(self.id, accumulator.reduced()))

    def consistency_check(self, survivors: SurvivorList) -> ConsistencySignature:
        """Round 3 (active setting): sign U3, the clients whose masked inputs the server holds."""
        self._stages.enter(Stage.CONSISTENCY_CHECK)
        self._check_survivors(survivors.survivors)
        self._signed_survivors = survivors.survivors
        signature = crypto.sign(self._signing_key, survivors.consistency_payload(self.config))  # type: ignore[arg-type]
        return self._sign(ConsistencySignature(self.id, signature))

    def unmask(self, request: UnmaskRequest) -> UnmaskingShares:
        """Round 4: reveal b-shares of surviving neighbours and s^SK-shares of dropped ones,
        never both for one peer (Bonawitz et al. 2017, Sec. 4, Round 4). XNoise: beside each
        b-share, the shares of that survivor's excess noise seeds, components d + 1..T for the
        d = n - |U3| missing clients and no other (Dordis Sec. 4; :func:`~secagg.noise.excess_components`)."""
        self._stages.enter(Stage.UNMASKING)
        both = set(request.survivors) & set(request.dropped)
        if both:
            raise RefusedRequestError(
                f"client {self.id} refuses to reveal both the self-mask and the key share of client {min(both)}"
            )
        self._check_survivors(request.survivors)
        if self.config.active:
            self._verify_consistency(request)
        elif request.signatures:
            raise InvalidMessageError(f"client {self.id}: signatures in a session without the active setting")
        exchanged = set(self._inbox)
        surviving = (set(request.survivors) & exchanged) | {self.id}
        dropped = set(request.dropped) & self._holders
        lied_about = dropped - exchanged
        if lied_about:
            raise RefusedRequestError(
                f"client {self.id}: asked for key shares of {sorted(lied_about)[:5]}, who never sent it shares"
            )
        missing = (exchanged - set(request.survivors)) - dropped
        if missing:
            raise InvalidMessageError(f"client {self.id}: request says nothing of neighbours {sorted(missing)[:5]}")
        pairs = {v: self._open(v) for v in exchanged & (surviving | dropped)}
        pairs[self.id] = self._own_shares  # type: ignore[assignment]
        excess = excess_components(self.config, len(request.survivors))
        noise = tuple((v, b"".join(pairs[v].noise_shares[k - 1] for k in excess)) for v in sorted(surviving))
        return self._sign(
            UnmaskingShares(
                self.id,
                tuple((v, pairs[v].self_mask_share) for v in sorted(surviving)),
                tuple((v, pairs[v].key_share) for v in sorted(dropped)),
                noise if excess else (),
                len(excess),
            )
        )

    def _own_noise(self) -> list[NDArray[np.unsignedinteger]]:
        """The client's noise components as ring words (none without XNoise), each from its seed's key stream."""
        if self._noise is None:
            return []
        keys = [(k, noise_key(seed, self.config, self.id, k)) for k, seed in enumerate(self._noise_seeds, start=1)]
        return [noise_words(self._noise, keys, self.config)]

    def _sign(self, message: U) -> U:
        """Active setting: every message the client sends carries its signature (:mod:`secagg.envelope`)."""
        if not self.config.active:
            return message
        return message.signed_by(self._signing_key, self.config)  # type: ignore[arg-type]

    def _open(self, v: int) -> SharePair:
        plaintext = crypto.open_sealed(
            self._transport_keys[v], self._inbox[v], session_id=self.config.session_id, sender=v, receiver=self.id
        )
        pair = SharePair.from_bytes(plaintext, self.config)
        if (pair.sender, pair.receiver) != (v, self.id):
            raise InvalidMessageError(f"client {self.id}: sealed shares from {v} name {pair.sender} -> {pair.receiver}")
        return pair

    def _check_vector(self, vector: NDArray[np.integer]) -> NDArray[np.integer]:
        array = np.asarray(vector)
        if array.ndim != 1 or array.shape[0] != self.config.vector_length:
            raise ConfigurationError(
                f"client {self.id}: input must be a 1-D vector of length {self.config.vector_length}, got {array.shape}"
            )
        if not np.issubdtype(array.dtype, np.integer):
            raise ConfigurationError(f"client {self.id}: input must be integers, got {array.dtype}")
        negative = np.issubdtype(array.dtype, np.signedinteger) and array.size and int(array.min()) < 0
        if negative or (array.size and int(array.max()) >> self.config.modulus_bits):
            raise ConfigurationError(f"client {self.id}: input words must lie in [0, 2^{self.config.modulus_bits})")
        return array

    def _check_survivors(self, survivors: tuple[int, ...]) -> None:
        if self.id not in survivors:
            raise RefusedRequestError(f"client {self.id} is not in the survivor list it is asked to act on")
        if self._signed_survivors is not None and survivors != self._signed_survivors:
            raise ConsistencyError(f"client {self.id}: survivor list differs from the one it signed")
        alive = len(set(survivors) & self._holders)
        if alive < self.config.threshold:
            raise TooFewSurvivorsError(
                f"client {self.id}: {alive} surviving holders, threshold is {self.config.threshold}"
            )

    def _verify_advertisements(self, entries: Mapping[int, AdvertiseKeys]) -> None:
        for v, entry in entries.items():
            if not entry.verify(self._verify_keys.get(v), self.config):
                raise InvalidMessageError(f"client {self.id}: advertised keys of client {v} carry no valid signature")

    def _verify_consistency(self, request: UnmaskRequest) -> None:
        """Active setting, Round 4: at least t neighbours signed exactly this U3 (Sec. 6.2)."""
        payload = SurvivorList(request.survivors).consistency_payload(self.config)
        for v, signature in request.signatures:
            public = self._verify_keys.get(v)
            if v not in request.survivors or public is None or not crypto.verify(public, signature, payload):
                raise ConsistencyError(f"client {self.id}: no valid consistency signature of client {v} on U3")
        signers = {v for v, _ in request.signatures} & self._holders
        if len(signers) < self.config.threshold:
            raise ConsistencyError(
                f"client {self.id}: {len(signers)} neighbours signed U3, threshold is {self.config.threshold}"
            )
