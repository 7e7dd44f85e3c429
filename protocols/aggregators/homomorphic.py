"""Homomorphic-encryption aggregators over `he`: CKKS (TenSEAL) and packed Paillier.

Roles in one process, kept apart as in a deployment: a key holder owns the
secret key and only decrypts the final aggregate (or, with threshold Paillier,
t of k key holders decrypt it together: `protocols.aggregators.threshold`);
clients and the server get the public side by bytes (`load_public`), clients
encrypt, the server adds ciphertexts it parsed from bytes, never holding a secret.

Weighting is protected as in `weighting`: each client encrypts [w x, w] with
w its normalized weight, so the server sees neither w nor x. Every client
may also declare one public constant factor (`client_factor`, the same for
all clients, so it reveals nothing): CKKS uses 1/max_clients so that the
decrypted sum stays within the preset's bound `clip * total weight`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np

from he.ckks import CKKSScheme
from he.interface import KeyHolder, PublicScheme
from he.paillier import PaillierScheme
from he.threshold_paillier import ThresholdPaillierScheme
from protocols.aggregators.base import (
    AggregationAborted,
    AggregationError,
    AggregationOutcome,
    Cost,
    Stage,
    check_inputs,
    senders,
)
from protocols.aggregators.threshold import ThresholdKeyHolders
from protocols.aggregators.weighting import client_vector, weight_scale, weighted_mean


class Decryptor(Protocol):
    """Whoever turns the aggregate ciphertext into the weighted sum: one key holder or a committee."""

    @property
    def trust(self) -> str:
        """Who must be trusted with decryption, as a clause of the threat model."""
        ...

    def public(self) -> PublicScheme[Any]: ...

    def decrypt(self, ciphertext: Any) -> tuple[np.ndarray, dict[str, float]]:
        """The plaintext weighted sum, and the seconds of each decryption phase (`Cost.seconds` names)."""
        ...


class SingleKeyHolder:
    """One key holder owning the whole secret key."""

    trust = (
        "one key holder decrypts the aggregate and could decrypt any single ciphertext it obtains, so it must not "
        "collude with the server"
    )

    def __init__(self, keyholder: KeyHolder[Any]) -> None:
        self._keyholder = keyholder

    def public(self) -> PublicScheme[Any]:
        return self._keyholder.public()

    def decrypt(self, ciphertext: Any) -> tuple[np.ndarray, dict[str, float]]:
        start = time.perf_counter()
        values = self._keyholder.decrypt(ciphertext)
        return values, {"keyholder.decrypt": time.perf_counter() - start}


class HEAggregator:
    """FedAvg aggregation of encrypted updates under an HE key, decrypted by a `Decryptor`.

    Costs: `bytes_up` is each client's serialized ciphertext; `bytes_down` is
    0 per round (the public context, `setup_bytes`, is sent once at setup).
    Seconds: `client.encrypt` (mean per client), `server.aggregate` (parse and
    combine), then the decryptor's phases (`keyholder.decrypt`, or for a threshold
    committee `keyholder.partial_decrypt` and `server.combine`).
    """

    def __init__(
        self,
        name: str,
        decryptor: Decryptor,
        load_public: Callable[[bytes], PublicScheme[Any]],
        *,
        client_factor: float | None = None,
        min_clients: int = 1,
        weight_bound: float | None = None,
        protect_weights: bool = True,
    ) -> None:
        if min_clients < 1:
            raise AggregationError(f"min_clients must be >= 1, got {min_clients}")
        self.name = name
        self._decryptor = decryptor
        public_bytes = decryptor.public().serialize()
        self.setup_bytes = len(public_bytes)
        self._client = load_public(public_bytes)
        self._server = load_public(public_bytes)
        self._factor = client_factor
        self.min_clients = min_clients
        self.weight_bound = weight_bound
        self.protect_weights = protect_weights

    def threat_model(self) -> str:
        return f"{self.name}: the server holds the public key only and adds ciphertexts; {self._decryptor.trust}"

    def aggregate(
        self,
        updates: Mapping[int, np.ndarray],
        weights: Mapping[int, float],
        dropouts: Mapping[int, Stage] | None = None,
    ) -> AggregationOutcome:
        _, drops = check_inputs(updates, weights, dropouts)
        included = senders(updates, drops)
        if len(included) < self.min_clients:
            raise AggregationAborted(f"{len(included)} ciphertexts arrived, fewer than min_clients={self.min_clients}")
        scale = weight_scale(weights, self.weight_bound)
        start = time.perf_counter()
        blobs = {
            c: self._client.encrypt(
                client_vector(updates[c], weights[c], scale, self.protect_weights),
                weight=self._factor,
            ).serialize()
            for c in included
        }
        encrypted = time.perf_counter()
        combined = self._server.aggregate([self._server.load_ciphertext(blobs[c]) for c in included])
        aggregated = time.perf_counter()
        plaintext, decryption_seconds = self._decryptor.decrypt(combined)
        total = plaintext.astype(np.float64) / (self._factor or 1.0)
        mean, total_weight = weighted_mean(total, sum(weights[c] for c in included), scale, self.protect_weights)
        return AggregationOutcome(
            mean=mean,
            total_weight=total_weight,
            included=tuple(included),
            cost=Cost(
                bytes_up={c: len(blobs[c]) for c in included},
                bytes_down={c: 0 for c in updates},
                seconds={
                    "client.encrypt": (encrypted - start) / len(included),
                    "server.aggregate": aggregated - encrypted,
                    **decryption_seconds,
                },
            ),
            participants=len(updates),
        )


def ckks_aggregator(
    max_clients: int,
    *,
    preset: str = "standard",
    clip: float = 1.0,
    min_clients: int = 1,
    protect_weights: bool = True,
) -> HEAggregator:
    """CKKS aggregation; values (updates and the weight slot) are clipped to `clip`."""
    return HEAggregator(
        "ckks",
        SingleKeyHolder(CKKSScheme.generate(preset, clip=clip)),
        CKKSScheme.load_public,
        client_factor=1.0 / max_clients,
        min_clients=min_clients,
        protect_weights=protect_weights,
    )


def paillier_aggregator(
    max_clients: int,
    *,
    bits: int = 16,
    clip: float = 1.0,
    key_bits: int = 3072,
    fast_encryption: bool = True,
    min_clients: int = 1,
    protect_weights: bool = True,
    key_holders: int | None = None,
    decrypt_threshold: int | None = None,
) -> HEAggregator:
    """Packed Paillier aggregation (BatchCrypt packing, `bits` per value, headroom for
    `max_clients` summands); `fast_encryption` uses he's DJN fixed-base path.

    With `key_holders=k` the key is threshold Paillier (`he.ThresholdPaillierScheme`, dealt once):
    any `decrypt_threshold` of the k holders (default a majority) decrypt each aggregate
    (`ThresholdKeyHolders`); otherwise one key holder owns the key.
    """
    if key_holders is None:
        if decrypt_threshold is not None:
            raise AggregationError("a decryption threshold needs key_holders")
        keyholder = PaillierScheme.generate(
            key_bits=key_bits, bits=bits, clip=clip, max_total_weight=max_clients, fast_encryption=fast_encryption
        )
        return HEAggregator(
            "paillier",
            SingleKeyHolder(keyholder),
            PaillierScheme.load_public,
            min_clients=min_clients,
            protect_weights=protect_weights,
        )
    threshold = key_holders // 2 + 1 if decrypt_threshold is None else decrypt_threshold
    dealing = ThresholdPaillierScheme.generate(
        key_holders, threshold, key_bits, bits, clip, max_clients, fast_encryption=fast_encryption
    )
    return HEAggregator(
        f"paillier-{threshold}-of-{key_holders}",
        ThresholdKeyHolders(dealing),
        ThresholdPaillierScheme.load_public,
        min_clients=min_clients,
        protect_weights=protect_weights,
    )
