"""Neighbour graphs: who shares secrets and pairwise masks with whom.

* SecAgg (Bonawitz et al. 2017): the complete graph, every client a neighbour of every other.
* SecAgg+ (Bell et al. CCS 2020, Sec. 3-4): a random k-regular graph with k = O(log n).
  We build the Harary graph H(k, n) (a circulant: each node joined to the k/2
  nearest on either side, plus the antipode when k is odd) and relabel it by a
  uniformly random permutation of the ids, as Bell et al. suggest.

A client's *holders* are its neighbours plus itself: the parties that receive a
Shamir share of its secrets.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Mapping, Sequence

from secagg.errors import ConfigurationError
from secagg.prg import KeyedStream

Graph = Mapping[int, frozenset[int]]


def complete_graph(ids: Sequence[int]) -> dict[int, frozenset[int]]:
    everyone = frozenset(ids)
    return {u: everyone - {u} for u in ids}


def harary_graph(ids: Sequence[int], degree: int, seed: bytes | None = None) -> dict[int, frozenset[int]]:
    """A k-regular graph on ``ids``: Harary H(k, n) under a random relabelling.

    ``seed`` makes the relabelling reproducible (the graph is public; only its
    unpredictability to clients before the round matters); ``None`` draws one
    from :mod:`secrets`.
    """
    n = len(ids)
    if not 1 <= degree <= n - 1:
        raise ConfigurationError(f"degree must lie in [1, {n - 1}] for {n} clients, got {degree}")
    if degree % 2 and n % 2:
        raise ConfigurationError(f"no {degree}-regular graph on {n} nodes exists (odd degree needs an even count)")
    order = sorted(ids)
    key = hashlib.sha256(b"secagg/graph/v1" + (seed if seed is not None else secrets.token_bytes(32))).digest()[:16]
    KeyedStream(key).shuffle(order)
    neighbours: dict[int, set[int]] = {u: set() for u in order}
    offsets = list(range(1, degree // 2 + 1)) + ([n // 2] if degree % 2 else [])
    for position, u in enumerate(order):
        for offset in offsets:
            v = order[(position + offset) % n]
            neighbours[u].add(v)
            neighbours[v].add(u)
    return {u: frozenset(vs) for u, vs in neighbours.items()}


def recommended_degree(clients: int) -> int:
    """A SecAgg+ degree of ``2 * ceil(log2 n)``, capped at ``n - 1``.

    Bell et al. 2020 (Sec. 3-4) show that a random graph of degree O(log n) keeps
    every neighbourhood connected and honest-majority with high probability; the
    constant 2 is a practical choice, not derived from their bound for a given
    corruption and dropout rate. Always even, so a regular graph exists for any n.
    """
    if clients < 2:
        raise ConfigurationError(f"need at least 2 clients, got {clients}")
    return min(clients - 1, 2 * math.ceil(math.log2(clients)))


def default_threshold(holders: int, active: bool = False) -> int:
    """A reconstruction threshold for ``holders`` share holders per client.

    Honest-but-curious: a majority, ``floor(h/2) + 1``. Active server: more than
    two thirds, ``floor(2h/3) + 1``, the bound under which the consistency check of
    Bonawitz et al. 2017 (Sec. 6.2) tolerates a third of clients colluding with it.
    """
    if holders < 2:
        raise ConfigurationError(f"need at least 2 share holders, got {holders}")
    return (2 * holders) // 3 + 1 if active else holders // 2 + 1
