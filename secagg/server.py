"""The server's side of secure aggregation, one method per round.

Bonawitz et al. CCS 2017, Fig. 4; SecAgg+ (Bell et al. CCS 2020) when the graph
is sparse. The server routes messages, tracks the shrinking client sets
U1 >= U2 >= U3 >= U4 >= U5, and in the last round reconstructs the self-mask
seeds of survivors and the mask keys of dropped clients to unmask the sum.
It never sees an individual input.

Sparse graphs need a per-neighbourhood version of the paper's ``|U_i| >= t``
check: a client whose holders in ``U_i`` number fewer than ``t`` cannot
continue (its shares could not be reconstructed), so it is pruned, and pruning
repeats until stable. On the complete graph this is exactly the paper's check.

XNoise sessions (Dordis, Jiang et al. EuroSys 2024, Sec. 4; :mod:`secagg.noise`): the
server also keeps each client's noise-seed commitments, and in the last round
reconstructs the seeds of every survivor's excess components, checks them like b_u and
subtracts their noise.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from numpy.typing import NDArray

from secagg import crypto
from secagg.config import SessionConfig
from secagg.envelope import Upload
from secagg.errors import (
    ConfigurationError,
    ConsistencyError,
    InvalidMessageError,
    StateError,
    TooFewSurvivorsError,
)
from secagg.keys import (
    adds_pairwise_mask,
    noise_commitment,
    noise_key,
    pairwise_mask_key,
    self_mask_commitment,
    self_mask_key,
)
from secagg.messages import (
    AdvertiseKeys,
    ConsistencySignature,
    EncryptedShares,
    KeyDirectory,
    MaskedInput,
    ShareInbox,
    SurvivorList,
    UnmaskingShares,
    UnmaskRequest,
    split_shares,
)
from secagg.noise import NoiseSampler, check_sampler, excess_components, noise_words
from secagg.prg import MaskAccumulator
from secagg.shamir import FIELD, Recovery, recover_secret
from secagg.stage import Stage, StageTracker


@dataclass(frozen=True)
class UnmaskedSum:
    """The outcome of a session: the sum mod 2^k of the included clients' inputs."""

    total: NDArray[np.uint64]
    included: tuple[int, ...]
    reconstruction_seconds: float = 0.0
    mask_removal_seconds: float = 0.0
    reconstructed: Mapping[str, int] = field(default_factory=dict)
    forged_shares_from: tuple[int, ...] = ()
    """Clients whose unmasking shares were wrong; they were corrected, so ``total`` is exact."""


class Server:
    """Routes one session and computes the unmasked sum.

    Masked inputs are summed as they arrive (Round 2), so the server holds one
    vector, not one per client; Round 4 then removes the masks from that sum.
    """

    def __init__(
        self,
        config: SessionConfig,
        *,
        verify_keys: Mapping[int, Ed25519PublicKey] | None = None,
        noise: NoiseSampler | None = None,
    ) -> None:
        if config.active and verify_keys is None:
            raise ConfigurationError("the active setting needs the clients' verification keys")
        config.validate()
        check_sampler(config, noise, "server")
        self.config = config
        self._noise = noise
        self._verify_keys = dict(verify_keys or {})
        self._stages = StageTracker("server", config.active)
        self._keys: dict[int, AdvertiseKeys] = {}
        self._u2: frozenset[int] = frozenset()
        self._commitments: dict[int, bytes] = {}
        self._noise_commitments: dict[int, tuple[bytes, ...]] = {}
        self._masked_sum = MaskAccumulator(config.vector_length, config.modulus_bits)
        self._u3: tuple[int, ...] = ()
        self._signatures: tuple[tuple[int, bytes], ...] = ()
        self._request: UnmaskRequest | None = None
        self._recipients: tuple[int, ...] = ()

    def _accept(self, messages: Sequence[Upload], allowed: Set[int], what: str) -> set[int]:
        """The senders of ``messages``, once each is expected, unique and (active setting) validly signed."""
        senders = [m.sender for m in messages]
        if len(set(senders)) != len(senders):
            raise InvalidMessageError(f"{what}: more than one message from one client")
        strangers = set(senders) - allowed
        if strangers:
            raise InvalidMessageError(
                f"{what}: messages from clients not expected in this round {sorted(strangers)[:5]}"
            )
        for m in messages:
            if self.config.active and not m.verify(self._verify_keys.get(m.sender), self.config):
                raise InvalidMessageError(f"{what}: the message of client {m.sender} carries no valid signature")
            if not self.config.active and m.signature:
                raise InvalidMessageError(f"{what}: client {m.sender} signed a message outside the active setting")
        return set(senders)

    def _prune(self, alive: set[int], what: str) -> frozenset[int]:
        """Drop clients with fewer than t holders alive, until stable; abort below t overall."""
        alive = set(alive)
        while True:
            weak = {u for u in alive if len(self.config.holders(u) & alive) < self.config.threshold}
            if not weak:
                break
            alive -= weak
        if len(alive) < self.config.threshold:
            raise TooFewSurvivorsError(
                f"{what}: {len(alive)} clients can continue, the threshold is {self.config.threshold}"
            )
        return frozenset(alive)

    def advertise_keys(self, messages: Sequence[AdvertiseKeys]) -> dict[int, KeyDirectory]:
        """Round 0: collect U1's keys; each client gets those of its holders in U1."""
        self._stages.enter(Stage.ADVERTISE_KEYS)
        senders = self._accept(messages, self.config.neighbours.keys(), "AdvertiseKeys")
        u1 = self._prune(senders, "AdvertiseKeys")
        self._keys = {m.sender: m for m in messages if m.sender in u1}
        return {
            u: KeyDirectory(u, tuple(self._keys[v] for v in sorted(self.config.holders(u) & u1))) for u in sorted(u1)
        }

    def share_keys(self, messages: Sequence[EncryptedShares]) -> dict[int, ShareInbox]:
        """Round 1: collect U2's sealed shares and route them to their receivers; keep each
        sender's commitment to its self-mask seed for Round 4."""
        self._stages.enter(Stage.SHARE_KEYS)
        senders = self._accept(messages, self._keys.keys(), "EncryptedShares")
        keyed = set(self._keys)
        for m in messages:
            expected = (self.config.holders(m.sender) & keyed) - {m.sender}
            if {v for v, _ in m.sealed} != expected:
                raise InvalidMessageError(f"EncryptedShares: client {m.sender} did not address exactly its holders")
            if len(m.noise_commitments) != self.config.noise_components:
                raise InvalidMessageError(
                    f"EncryptedShares: client {m.sender} committed to {len(m.noise_commitments)} noise seeds, "
                    f"the session has {self.config.noise_components}"
                )
        self._u2 = self._prune(senders, "EncryptedShares")
        self._commitments = {m.sender: m.commitment for m in messages if m.sender in self._u2}
        self._noise_commitments = {m.sender: m.noise_commitments for m in messages if m.sender in self._u2}
        inbox: dict[int, list[tuple[int, bytes]]] = {u: [] for u in self._u2}
        for m in sorted(messages, key=lambda m: m.sender):
            if m.sender in self._u2:
                for v, sealed in m.sealed:
                    if v in self._u2:
                        inbox[v].append((m.sender, sealed))
        return {u: ShareInbox(u, tuple(items)) for u, items in inbox.items()}

    def masked_input(self, messages: Iterable[MaskedInput]) -> SurvivorList:
        """Round 2: collect U3's masked vectors; every U2 client must keep t holders in U3.

        Each vector is added to the running sum as it arrives (``messages`` may be a stream), so one
        vector is in memory instead of |U3|; Round 4 only unmasks. A refused message aborts the round."""
        self._stages.enter(Stage.MASKED_INPUT)
        u3: set[int] = set()
        for m in messages:
            if m.sender in u3:
                raise InvalidMessageError("MaskedInput: more than one message from one client")
            self._accept((m,), self._u2, "MaskedInput")
            self._check_words(m)
            self._masked_sum.accumulate(vectors=[m.words])
            u3.add(m.sender)
        for v in self._u2:
            alive = len(self.config.holders(v) & u3)
            if alive < self.config.threshold:
                raise TooFewSurvivorsError(
                    f"MaskedInput: client {v} has {alive} holders left, threshold is {self.config.threshold}"
                )
        self._u3 = tuple(sorted(u3))
        return SurvivorList(self._u3)

    def consistency_check(self, messages: Sequence[ConsistencySignature]) -> None:
        """Round 3 (active setting): collect U4's signatures on U3 (Sec. 6.2)."""
        self._stages.enter(Stage.CONSISTENCY_CHECK)
        self._accept(messages, set(self._u3), "ConsistencySignature")
        payload = SurvivorList(self._u3).consistency_payload(self.config)
        for m in messages:
            if not crypto.verify(self._verify_keys[m.sender], m.survivors_signature, payload):
                raise ConsistencyError(f"ConsistencySignature: client {m.sender} signed something other than U3")
        if len(messages) < self.config.threshold:
            raise TooFewSurvivorsError(
                f"ConsistencySignature: {len(messages)} signatures, threshold is {self.config.threshold}"
            )
        self._signatures = tuple(sorted((m.sender, m.survivors_signature) for m in messages))
        # A client verifies that t of its own holders signed U3; one that cannot is not asked.
        signers = {m.sender for m in messages}
        self._recipients = tuple(
            u for u in sorted(signers) if len(self.config.holders(u) & signers) >= self.config.threshold
        )

    def unmask_requests(self) -> dict[int, UnmaskRequest]:
        """The Round 4 request of each recipient (U3, or U4 in the active setting).

        Active: one request naming all of U3 with its signatures, for everyone. Honest-but-curious:
        each recipient's own, restricted to its holders (see :class:`~secagg.messages.UnmaskRequest`).
        """
        if self._stages.expecting != Stage.UNMASKING:
            raise StateError("server: the unmask request follows the masked-input (and consistency) round")
        dropped = tuple(sorted(self._u2 - set(self._u3)))
        self._request = UnmaskRequest(self._u3, dropped, self._signatures)
        if self.config.active:
            return dict.fromkeys(self._recipients, self._request)
        self._recipients = self._u3
        survivors, missing = set(self._u3), set(dropped)
        requests = {}
        for u in self._u3:
            holders = sorted(self.config.holders(u))
            requests[u] = UnmaskRequest(
                tuple(v for v in holders if v in survivors), tuple(v for v in holders if v in missing), receiver=u
            )
        return requests

    def unmask(self, messages: Sequence[UnmaskingShares]) -> UnmaskedSum:
        """Round 4: reconstruct b_u for u in U3 and s_v^SK for v in U2 \\ U3, then unmask.
        XNoise: also the seeds of each survivor's excess components, whose noise is subtracted."""
        self._stages.enter(Stage.UNMASKING)
        if self._request is None:
            raise StateError("server: unmask() before unmask_requests()")
        self._accept(messages, set(self._recipients), "UnmaskingShares")
        survivors, dropped = set(self._u3), set(self._request.dropped)
        excess = excess_components(self.config, len(self._u3))
        seed_shares: dict[int, dict[int, bytes]] = {u: {} for u in survivors}
        key_shares: dict[int, dict[int, bytes]] = {v: {} for v in dropped}
        noise_shares: dict[tuple[int, int], dict[int, bytes]] = {(u, k): {} for u in survivors for k in excess}
        for m in messages:
            holds = self.config.holders(m.sender)
            for owner, share in m.self_mask_shares:
                if owner not in survivors or owner not in holds:
                    raise InvalidMessageError(f"UnmaskingShares: client {m.sender} sent a self-mask share of {owner}")
                seed_shares[owner][m.sender] = share
            for owner, share in m.key_shares:
                if owner not in dropped or owner not in holds:
                    raise InvalidMessageError(f"UnmaskingShares: client {m.sender} sent a key share of {owner}")
                key_shares[owner][m.sender] = share
            self._collect_noise_shares(m, excess, noise_shares)

        started = time.perf_counter()
        seeds = {u: self._recover_seed(u, shares) for u, shares in seed_shares.items()}
        keys = {v: self._recover_key(v, shares) for v, shares in key_shares.items()}
        noise_seeds = {owner: self._recover_noise_seed(*owner, shares) for owner, shares in noise_shares.items()}
        reconstructed = time.perf_counter()
        dropped_keys = {v: private for v, (_, private) in keys.items()}
        recoveries = [*seeds.values(), *(recovery for recovery, _ in keys.values()), *noise_seeds.values()]
        forged = sorted({sender for recovery in recoveries for sender in recovery.forged})

        # u applied +p_{u,v} if adds_pairwise_mask(u, v), else -p_{u,v}: remove exactly that.
        added: list[bytes] = []
        subtracted: list[bytes] = []
        for v, private in dropped_keys.items():
            for u in sorted(self.config.neighbours[v] & survivors):
                key = pairwise_mask_key(crypto.agree(private, self._keys[u].s_public), self.config, u, v)
                (added if adds_pairwise_mask(u, v) else subtracted).append(key)
        removed = [(k, noise_key(recovery.secret, self.config, u, k)) for (u, k), recovery in noise_seeds.items()]
        accumulator = self._masked_sum
        accumulator.accumulate(
            vectors=[noise_words(self._noise, removed, self.config, negate=True)] if self._noise and removed else [],
            add_keys=subtracted,
            subtract_keys=[self_mask_key(seeds[u].secret, self.config, u) for u in self._u3] + added,
        )
        total = accumulator.reduced().astype(np.uint64)
        return UnmaskedSum(
            total=total,
            included=self._u3,
            reconstruction_seconds=reconstructed - started,
            mask_removal_seconds=time.perf_counter() - reconstructed,
            reconstructed={"self_mask_seeds": len(seeds), "mask_keys": len(dropped_keys), "noise_seeds": len(removed)},
            forged_shares_from=tuple(forged),
        )

    def _check_words(self, message: MaskedInput) -> None:
        """A masked vector built in process (not parsed from a frame) must still be ring words."""
        words = message.words
        if not isinstance(words, np.ndarray) or words.shape != (self.config.vector_length,):
            shape = getattr(words, "shape", type(words).__name__)
            raise InvalidMessageError(
                f"MaskedInput: client {message.sender} sent {shape}, expected {self.config.vector_length} words"
            )
        if words.dtype.kind != "u" or words.dtype.itemsize > 8:
            raise InvalidMessageError(f"MaskedInput: client {message.sender} sent {words.dtype} words, not unsigned")
        if words.size and int(words.max()) >> self.config.modulus_bits:
            raise InvalidMessageError(
                f"MaskedInput: client {message.sender} sent words outside [0, 2^{self.config.modulus_bits})"
            )

    def _recover(self, owner: int, shares: Mapping[int, bytes], what: str, accept: Callable[[bytes], bool]) -> Recovery:
        if len(shares) < self.config.threshold:
            raise TooFewSurvivorsError(
                f"UnmaskingShares: {len(shares)} shares of the {what} of client {owner}, "
                f"threshold is {self.config.threshold}"
            )
        return recover_secret(shares, self.config.threshold, accept, owner=owner, what=what)

    def _recover_seed(self, owner: int, shares: Mapping[int, bytes]) -> Recovery:
        """b_u, checked against the commitment u sent with its shares (Round 1)."""
        commitment = self._commitments[owner]
        return self._recover(
            owner,
            shares,
            "self-mask seed",
            lambda seed: hmac.compare_digest(self_mask_commitment(seed, self.config, owner), commitment),
        )

    def _collect_noise_shares(
        self, message: UnmaskingShares, excess: range, into: dict[tuple[int, int], dict[int, bytes]]
    ) -> None:
        """File a message's noise-seed shares by (owner, component): exactly the excess components
        of exactly the owners whose self-mask share it reveals."""
        owners = [owner for owner, _ in message.self_mask_shares] if excess else []
        sizes = {len(entry) for _, entry in message.noise_shares}
        if (
            message.excess != len(excess)
            or [owner for owner, _ in message.noise_shares] != owners
            or not sizes <= {len(excess) * FIELD.share_bytes}
        ):
            raise InvalidMessageError(
                f"UnmaskingShares: client {message.sender} sent noise shares of other components or clients "
                f"than the excess components {list(excess)[:5]} of the survivors it reveals"
            )
        for owner, entry in message.noise_shares:
            for k, share in zip(excess, split_shares(entry), strict=True):
                into[owner, k][message.sender] = share

    def _recover_noise_seed(self, owner: int, component: int, shares: Mapping[int, bytes]) -> Recovery:
        """The seed of ``owner``'s noise component ``component``, checked against its commitment."""
        commitment = self._noise_commitments[owner][component - 1]
        return self._recover(
            owner,
            shares,
            f"noise seed {component}",
            lambda seed: hmac.compare_digest(noise_commitment(seed, self.config, owner, component), commitment),
        )

    def _recover_key(self, owner: int, shares: Mapping[int, bytes]) -> tuple[Recovery, crypto.X25519PrivateKey]:
        """s_v^SK, checked against the advertised s_v^PK; returns the key object the check built."""
        public = self._keys[owner].s_public
        accepted: dict[bytes, crypto.X25519PrivateKey] = {}

        def matches_public_key(secret: bytes) -> bool:
            private = crypto.x25519_from_private(secret)
            if crypto.public_bytes(private) != public:
                return False
            accepted[secret] = private
            return True

        recovery = self._recover(owner, shares, "mask key", matches_public_key)
        return recovery, accepted[recovery.secret]
