"""Helpers shared by the secure-aggregation tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from numpy.typing import NDArray


def random_inputs(n: int, length: int, bits: int, seed: int = 0) -> dict[int, NDArray[np.uint64]]:
    """Simulation data (not secret): client ids 1..n with uniform words of the ring."""
    rng = np.random.default_rng(seed)
    high = 1 << bits
    return {u: rng.integers(0, high, length, dtype=np.uint64, endpoint=False) for u in range(1, n + 1)}


def plain_sum(inputs: Mapping[int, NDArray[np.uint64]], clients: Iterable[int], bits: int) -> NDArray[np.uint64]:
    """The sum mod 2^bits, computed with Python integers (no overflow)."""
    length = len(next(iter(inputs.values())))
    totals = [0] * length
    for u in clients:
        for i, word in enumerate(inputs[u].tolist()):
            totals[i] += word
    return np.array([t % (1 << bits) for t in totals], dtype=np.uint64)


class Harness:
    """Steps one session round by round, so a test can play a malicious server or drop anyone."""

    def __init__(self, n: int, threshold: int, *, active: bool = False, degree: int | None = None, length: int = 4):
        from secagg import Client, Server, SessionConfig
        from secagg.crypto import generate_signing_key

        self.config = SessionConfig.create(
            range(1, n + 1), threshold=threshold, vector_length=length, degree=degree, active=active
        )
        signing = {u: generate_signing_key() for u in self.config.client_ids} if active else {}
        self.signing = signing
        self.verify = {u: k.public_key() for u, k in signing.items()} if active else None
        self.clients = {
            u: Client(u, self.config, signing_key=signing.get(u), verify_keys=self.verify)
            for u in self.config.client_ids
        }
        self.server = Server(self.config, verify_keys=self.verify)
        self.inputs = random_inputs(n, length, self.config.modulus_bits)

    def run_to_masked_input(self, drop_before_masking: Iterable[int] = ()):
        """Rounds 0-2; returns the survivor list U3."""
        directories = self.server.advertise_keys([c.advertise_keys() for c in self.clients.values()])
        self.inboxes = self.server.share_keys([self.clients[u].share_keys(d) for u, d in directories.items()])
        skip = set(drop_before_masking)
        masked = [self.clients[u].masked_input(box, self.inputs[u]) for u, box in self.inboxes.items() if u not in skip]
        return self.server.masked_input(masked)
