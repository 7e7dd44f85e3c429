"""Secure-aggregation benchmark: ours against its PRG floor and against Flower's SecAgg+.

One JSON line per case on stdout (progress on stderr). For each case, in the same run:

* ``ours``: client masking time (Round 2 work per client, mean), server unmasking time
  (Round 4: Shamir reconstruction + mask regeneration and removal), upload bytes;
* ``floor``: the time to expand with AES-128-CTR exactly the mask words each side must
  expand (client: its self mask and one mask per neighbour; server: the survivors' self
  masks and the pairwise masks of dropped clients), the cost no implementation avoids;
* ``flower``: Flower 1.42's SecAgg+ client and server functions driven in-process
  (``flower_peer.py``), extrapolated from a pilot run when it would exceed the budget.

Run: ``python benchmarks/secagg_bench.py`` (``--quick`` for a smoke run,
``--flower-budget 0`` to run Flower in full however long it takes).
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
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

import secagg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import flower_peer  # noqa: E402


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
        "client_setup_s": result.seconds["client.share_keys"],
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
    client_floor = prg_floor_seconds(ours.pop("_client_masks"), case.m, case.modulus_bits)
    server_floor = prg_floor_seconds(ours.pop("_server_masks"), case.m, case.modulus_bits, repeats=1)
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
        "floor": {"client_prg_s": client_floor, "server_prg_s": server_floor},
        "client_vs_floor": ours["client_mask_s"] / client_floor,
        "server_vs_floor": ours["server_unmask_s"] / server_floor,
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


if __name__ == "__main__":
    main()
