"""Secure-aggregation benchmark: ours against its PRG floor and against Flower's SecAgg+.

One JSON line per case on stdout (progress on stderr). For each case, in the same run:

* ``ours``: client masking time (Round 2 work per client, mean), server unmasking time
  (Round 4: Shamir reconstruction + mask regeneration and removal), upload bytes;
* ``floor``: the cost no implementation avoids, measured in the same run: the AES-128-CTR expansion
  of exactly the mask words each side must expand (client: its self mask and one mask per
  neighbour; server: the survivors' self masks and the pairwise masks of dropped clients) plus
  the public-key operations (client: two X25519 key generations and two agreements per neighbour,
  one for the share transport key and one for the mask key; server: one agreement per pair of a
  dropped client and a surviving neighbour, to regenerate that pairwise mask);
* ``flower``: Flower 1.42's SecAgg+ client and server functions driven in-process
  (``flower_peer.py``), extrapolated from a pilot run when it would exceed the budget.

The population cases (``population_n*``) simulate a whole SecAgg+ round for n in {10^3, 10^4, 10^5}
clients of m = 1000 32-bit words (uint32 inputs, rows of one array, never copied per client), 10%
dropping before the masked input and 2% before unmasking, the clients in worker processes
(`secagg.simulate`'s default: one per core from 2000 clients on): wall seconds, peak memory of the
process tree (RSS, an upper bound, and PSS; inputs included; ``peak_memory.py``), and whether the
sum equals its closed form.

Run: ``python benchmarks/secagg_bench.py`` (``--quick`` for a smoke run, ``--only population`` for
the population cases, ``--flower-budget 0`` to run Flower in full however long it takes).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

import secagg
from secagg.parallel import default_workers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import flower_peer  # noqa: E402
import peak_memory  # noqa: E402

POPULATION_WORDS = 1000
POPULATION_DROPOUTS = {secagg.Stage.MASKED_INPUT: 0.10, secagg.Stage.UNMASKING: 0.02}
_STRIDE = 2654435761  # Knuth's multiplicative hash constant: spreads x_u over the ring


@dataclass(frozen=True)
class Case:
    name: str
    n: int
    m: int
    degree: int | None
    dropout: float = 0.1
    modulus_bits: int = 32
    active: bool = False


def sparse_degree(n: int) -> int | None:
    """SecAgg+'s recommended degree, or None (complete graph) when that covers everyone."""
    degree = secagg.recommended_degree(n)
    return None if degree >= n - 1 else degree


def cases(quick: bool) -> list[Case]:
    if quick:
        return [Case("quick_sparse", 12, 1000, 4), Case("quick_complete", 8, 1000, None)]
    scaling = [Case(f"scaling_n{n}", n, 10_000, sparse_degree(n)) for n in (10, 100, 500, 2500)]
    return [
        Case("n100_m100k_degree14", 100, 100_000, 14),
        Case("n100_m100k_complete", 100, 100_000, None),
        Case("n20_m1M_complete", 20, 1_000_000, None),
        Case("n100_m100k_degree14_20bit", 100, 100_000, 14, modulus_bits=20),
        Case("n100_m100k_degree14_active", 100, 100_000, 14, active=True),
        *scaling,
    ]


def population_inputs(n: int, m: int) -> dict[int, np.ndarray]:
    """x_u[j] = (u * _STRIDE + j) mod 2^32 as uint32 rows of one (n, m) array: views, no copies."""
    block = np.empty((n, m), dtype=np.uint32)
    ids = np.arange(1, n + 1, dtype=np.uint64)
    for start in range(0, n, 4096):  # row blocks: no (n, m) uint64 temporary
        rows = ids[start : start + 4096, None] * np.uint64(_STRIDE) + np.arange(m, dtype=np.uint64)
        block[start : start + 4096] = rows & np.uint64(0xFFFFFFFF)
    return {u: block[u - 1] for u in range(1, n + 1)}


def population_total(included: tuple[int, ...], m: int) -> np.ndarray:
    """The closed form of the sum of :func:`population_inputs` over ``included``, mod 2^32."""
    ids = sum(included) * _STRIDE
    return (np.uint64(ids % 2**32) + np.uint64(len(included)) * np.arange(m, dtype=np.uint64)) & np.uint64(0xFFFFFFFF)


def run_population(n: int) -> dict[str, Any]:
    """One SecAgg+ round of ``n`` clients at the recommended degree, with POPULATION_DROPOUTS."""
    rng = np.random.default_rng(n)  # who drops, not a secret
    order = rng.permutation(np.arange(1, n + 1))
    dropouts, at = {}, 0
    for stage, rate in POPULATION_DROPOUTS.items():
        count = round(rate * n)
        dropouts.update({int(u): stage for u in order[at : at + count]})
        at += count
    degree = secagg.recommended_degree(n)
    with peak_memory.sampling() as peak:
        inputs = population_inputs(n, POPULATION_WORDS)
        started = time.perf_counter()
        result = secagg.simulate(
            inputs, threshold=secagg.default_threshold(degree + 1), degree=degree, dropouts=dropouts, seed=0
        )
        wall = time.perf_counter() - started
    exact = bool(np.array_equal(result.total, population_total(result.included, POPULATION_WORDS)))
    return {
        "bench": "secagg",
        "case": f"population_n{n}",
        "n": n,
        "m": POPULATION_WORDS,
        "degree": degree,
        "dropout": {stage.name.lower(): rate for stage, rate in POPULATION_DROPOUTS.items()},
        "workers": default_workers(n),
        "wall_s": wall,
        "peak_rss_gib": peak.rss_gib,
        "peak_pss_gib": peak.pss_gib,
        "included": len(result.included),
        "exact": exact,
        "seconds": dict(result.seconds),
    }


def prg_floor_seconds(masks: int, m: int, bits: int, repeats: int = 3) -> float:
    """Best-of-``repeats`` time to expand ``masks`` AES-128-CTR keystreams of ``m`` ring words."""
    nbytes = m * (4 if bits <= 32 else 8)
    zeros, out = bytes(nbytes), bytearray(nbytes)
    keys = [os.urandom(16) for _ in range(min(masks, 64))]
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        for i in range(masks):
            Cipher(algorithms.AES(keys[i % len(keys)]), modes.CTR(bytes(16))).encryptor().update_into(zeros, out)
        best = min(best, time.perf_counter() - started)
    return best


def x25519_seconds(repeats: int = 5, batch: int = 200) -> tuple[float, float]:
    """Best-of-``repeats`` seconds of one X25519 key generation and of one agreement (from the peer's
    public key bytes, as a client receives it)."""
    peers = [X25519PrivateKey.generate().public_key() for _ in range(batch)]
    key, keygen, agree = X25519PrivateKey.generate(), math.inf, math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(batch):
            X25519PrivateKey.generate().public_key()
        keygen = min(keygen, (time.perf_counter() - started) / batch)
        started = time.perf_counter()
        for peer in peers:
            key.exchange(peer)
        agree = min(agree, (time.perf_counter() - started) / batch)
    return keygen, agree


def run_ours(case: Case, rng: np.random.Generator) -> dict[str, Any]:
    codec = secagg.FixedPointCodec(clip=8.0, max_clients=case.n, modulus_bits=case.modulus_bits)
    updates = {u: rng.uniform(-1, 1, case.m) for u in range(1, case.n + 1)}
    dropped = rng.choice(np.arange(1, case.n + 1), size=round(case.dropout * case.n), replace=False)
    dropouts = {int(u): secagg.Stage.MASKED_INPUT for u in dropped}
    holders = case.n if case.degree is None else case.degree + 1
    started = time.perf_counter()
    result = secagg.simulate(
        {u: codec.encode(x) for u, x in updates.items()},
        threshold=secagg.default_threshold(holders, case.active),
        degree=case.degree,
        dropouts=dropouts,
        modulus_bits=case.modulus_bits,
        active=case.active,
        seed=0,
    )
    wall = time.perf_counter() - started
    expected = np.sum([updates[u] for u in result.included], axis=0)
    error = float(np.max(np.abs(codec.decode_sum(result.total) - expected)))
    degree = case.n - 1 if case.degree is None else case.degree
    client_masks = 1 + degree
    server_masks = len(result.included) + len(dropouts) * degree  # upper bound on |N(v) & U3| per dropped v
    server_masks -= _dropped_neighbour_overlap(case, dropouts)
    return {
        "client_mask_s": result.seconds["client.masked_input"],
        "client_setup_s": result.seconds["client.advertise_keys"] + result.seconds["client.share_keys"],
        "server_unmask_s": result.seconds["server.unmasking"],
        "server_reconstruction_s": result.seconds["server.reconstruction"],
        "upload_bytes_per_client": result.masked_input_bytes,
        "bytes_per_parameter": result.masked_input_bytes / case.m,
        "total_bytes_sent_per_client": float(np.mean(list(result.bytes_sent.values()))),
        "included": len(result.included),
        "max_abs_error": error,
        "error_bound": codec.max_sum_error(len(result.included)),
        "correct": error <= codec.max_sum_error(len(result.included)) + 1e-9,
        "wall_s": wall,
        "_client_masks": client_masks,
        "_server_masks": server_masks,
    }


def _dropped_neighbour_overlap(case: Case, dropouts: dict[int, secagg.Stage]) -> int:
    """On the complete graph a dropped client's neighbours include the other dropped ones,
    whose masks the server need not regenerate."""
    if case.degree is not None:
        return 0  # the graph is random; counting it would need the session's graph (bound above is close)
    d = len(dropouts)
    return d * (d - 1)


def run_case(case: Case, flower_budget: float | None) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    print(f"[{case.name}] ours ...", file=sys.stderr, flush=True)
    ours = run_ours(case, rng)
    client_masks, server_masks = ours.pop("_client_masks"), ours.pop("_server_masks")
    client_prg = prg_floor_seconds(client_masks, case.m, case.modulus_bits)
    server_prg = prg_floor_seconds(server_masks, case.m, case.modulus_bits, repeats=1)
    keygen, agree = x25519_seconds()
    client_setup_floor = 2 * keygen + 2 * (client_masks - 1) * agree
    server_agree_floor = (server_masks - ours["included"]) * agree  # one per regenerated pairwise mask
    ours_client = ours["client_setup_s"] + ours["client_mask_s"]
    line: dict[str, Any] = {
        "bench": "secagg",
        "case": case.name,
        "n": case.n,
        "m": case.m,
        "degree": case.degree if case.degree is not None else "complete",
        "dropout": case.dropout,
        "modulus_bits": case.modulus_bits,
        "active": case.active,
        "ours": ours,
        "floor": {
            "client_prg_s": client_prg,
            "client_public_key_s": client_setup_floor,
            "server_prg_s": server_prg,
            "server_public_key_s": server_agree_floor,
            "x25519_keygen_s": keygen,
            "x25519_agree_s": agree,
        },
        "client_mask_vs_floor": ours["client_mask_s"] / client_prg,
        "client_setup_vs_floor": ours["client_setup_s"] / client_setup_floor,
        "client_vs_floor": ours_client / (client_setup_floor + client_prg),
        "server_vs_floor": ours["server_unmask_s"] / (server_prg + server_agree_floor),
    }
    if flower_peer.flower_version() is None:
        line["flower"] = None
        return line
    if case.active:
        line["flower"] = {
            "skipped": "Flower's SecAgg+ has no active-server setting (no signatures, no consistency check)"
        }
        return line
    if case.modulus_bits <= 22:
        line["flower"] = {"skipped": "Flower quantizes to 2^22 levels, so its ring must exceed 22 bits"}
        return line
    print(f"[{case.name}] flower {flower_peer.flower_version()} ...", file=sys.stderr, flush=True)
    flower = flower_peer.run_flower_secaggplus(
        case.n,
        case.m,
        degree=case.degree,
        dropout_fraction=case.dropout,
        modulus_bits=case.modulus_bits,
        seed=0,
        time_budget_s=flower_budget,
    )
    line["flower"] = flower
    line["server_speedup_vs_flower"] = flower["server_unmask_s"] / ours["server_unmask_s"]
    line["client_mask_speedup_vs_flower"] = flower["client_mask_s"] / ours["client_mask_s"]
    line["upload_ratio_vs_flower"] = ours["upload_bytes_per_client"] / flower["upload_bytes_per_client"]
    return line


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny cases, for a smoke test")
    parser.add_argument("--only", help="run only cases whose name contains this text")
    parser.add_argument(
        "--flower-budget",
        type=float,
        default=60.0,
        help="seconds Flower may take per case before it is extrapolated (0: no limit)",
    )
    args = parser.parse_args(argv)
    budget = None if args.flower_budget == 0 else args.flower_budget
    for case in cases(args.quick):
        if args.only and args.only not in case.name:
            continue
        print(json.dumps(run_case(case, budget)), flush=True)
    for n in (300,) if args.quick else (1_000, 10_000, 100_000):
        if args.only and args.only not in f"population_n{n}":
            continue
        print(f"[population_n{n}] ...", file=sys.stderr, flush=True)
        print(json.dumps(run_population(n)), flush=True)


if __name__ == "__main__":
    main()
