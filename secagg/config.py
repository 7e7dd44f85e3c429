"""Public parameters of one aggregation session, shared by the server and every client."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fedsecure import checks
from secagg.encoding import check_modulus_bits
from secagg.errors import ConfigurationError
from secagg.graph import complete_graph, harary_graph
from secagg.plan import check_threshold

SESSION_ID_BYTES = 32
SERVER = 0
"""The server's party id in every frame's route."""
ALL_CLIENTS = 2**32 - 1
"""The receiver of a message the server sends to every client (survivor list, unmask request)."""
MAX_CLIENT_ID = ALL_CLIENTS - 1
MAX_ROUND_INDEX = 2**64 - 1
MAX_VECTOR_LENGTH = 2**31
MAX_NOISE_COMPONENTS = 1024
"""The most excess-noise seeds a client shares (:mod:`secagg.noise`)."""


@dataclass(frozen=True)
class SessionConfig:
    """What every party agrees on before Round 0.

    ``session_id`` is fresh randomness bound into every derived key; ``round_index``
    numbers the training round. ``neighbours`` is the (symmetric) graph.
    ``noise_components`` is the number of removable noise components (XNoise seeds,
    :mod:`secagg.noise`) each client shares beside its self-mask seed; 0 leaves the
    protocol and every byte format exactly as in Bonawitz et al. 2017.
    """

    session_id: bytes
    round_index: int
    client_ids: tuple[int, ...]
    neighbours: Mapping[int, frozenset[int]]
    threshold: int
    modulus_bits: int
    vector_length: int
    active: bool
    noise_components: int = 0

    @classmethod
    def create(
        cls,
        client_ids: Sequence[int],
        *,
        threshold: int,
        vector_length: int,
        degree: int | None = None,
        modulus_bits: int = 32,
        active: bool = False,
        round_index: int = 0,
        graph_seed: bytes | None = None,
        noise_components: int = 0,
    ) -> SessionConfig:
        _check_ids(client_ids)
        ids = tuple(sorted(client_ids))
        if degree is not None:
            degree = checks.integer("degree", degree, error=ConfigurationError, low=1)
        if degree is None or degree >= len(ids) - 1:
            graph = complete_graph(ids)
        else:
            graph = harary_graph(ids, degree, graph_seed)
        config = cls(
            session_id=secrets.token_bytes(SESSION_ID_BYTES),
            round_index=round_index,
            client_ids=ids,
            neighbours=graph,
            threshold=threshold,
            modulus_bits=modulus_bits,
            vector_length=vector_length,
            active=active,
            noise_components=noise_components,
        )
        config.validate()
        return config

    def validate(self) -> None:
        """Refuse inconsistent parameters with a message naming the culprit."""
        _check_ids(self.client_ids)
        if not isinstance(self.session_id, bytes) or len(self.session_id) != SESSION_ID_BYTES:
            raise ConfigurationError(f"session id must be {SESSION_ID_BYTES} bytes")
        checks.integer("round_index", self.round_index, error=ConfigurationError, low=0, high=MAX_ROUND_INDEX)
        check_modulus_bits(self.modulus_bits)
        checks.integer("vector_length", self.vector_length, error=ConfigurationError, low=0, high=MAX_VECTOR_LENGTH)
        if not isinstance(self.active, bool):
            raise ConfigurationError(f"active must be a bool, got {type(self.active).__name__}")
        high = min(MAX_NOISE_COMPONENTS, len(self.client_ids) - 1)
        checks.integer("noise_components", self.noise_components, error=ConfigurationError, low=0, high=high)
        if set(self.neighbours) != set(self.client_ids):
            raise ConfigurationError("graph nodes differ from the client ids")
        for u, vs in self.neighbours.items():
            if u in vs or any(u not in self.neighbours.get(v, ()) for v in vs):
                raise ConfigurationError(f"graph is not simple and symmetric at client {u}")
        holders = [len(vs) + 1 for vs in self.neighbours.values()]
        check_threshold(self.threshold, min(holders), max(holders), self.active)

    def holders(self, client: int) -> frozenset[int]:
        """The client itself and its neighbours: who holds shares of its secrets."""
        return self.neighbours[client] | {client}


def _check_ids(ids: Sequence[int]) -> None:
    if len(ids) < 2:
        raise ConfigurationError(f"secure aggregation needs at least 2 clients, got {len(ids)}")
    if len(set(ids)) != len(ids):
        raise ConfigurationError("client ids must be distinct")
    for i in ids:
        checks.integer("client ids", i, error=ConfigurationError, low=1, high=MAX_CLIENT_ID)
