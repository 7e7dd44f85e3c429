"""FedAvg round time of every protection backend against plaintext, in one run.

Same model (a ~100k-parameter MLP), same data (synthetic, 64 features, 10
classes, IID over 20 clients), same seeds, same client sampling and 10%
dropout at masked-input collection for every backend. Rounds are interleaved
(round r of every backend before round r + 1 of any), so load from other
processes hits all backends alike; each reports its median round time as a
ratio to plaintext's.
All clients run in this one process, one after the other, so a round's wall
time is local training of every client + every client's protection work +
the server's (and key holder's) work.

Prints one JSON line per backend on stdout, progress on stderr.

    python benchmarks/fedavg_bench.py            # full: 5 rounds (2 for Paillier)
    python benchmarks/fedavg_bench.py --quick    # smoke run: tiny model, 1 round
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

import numpy as np
import torch

from protocols.backends import BACKENDS, BackendOptions, build_aggregator
from protocols.datasets import load_federated
from protocols.fedavg import FedAvg, FedAvgConfig, run_fedavg
from protocols.history import History
from protocols.local import LocalConfig
from protocols.models import bench_mlp, mlp, parameter_count

# The target: SecAgg+ at most 2x plaintext round time; the others are reported as measured.
TARGETS = {"secagg+": 2.0}


def _median(history: History, key: str) -> float:
    return statistics.median(r.seconds.get(key, 0.0) for r in history.rounds)


def _aggregation_seconds(history: History) -> float:
    return statistics.median(r.seconds["round"] - r.seconds["local_training"] for r in history.rounds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    samples = 1_000 if args.quick else 20_000
    data = load_federated("synthetic", args.clients, seed=0, synthetic_samples=samples)

    def make_model() -> torch.nn.Module:
        torch.manual_seed(0)
        return mlp(64, 10, hidden=(16,)) if args.quick else bench_mlp(64, 10)

    params = parameter_count(make_model())
    warm_up = FedAvgConfig(rounds=1, clients_per_round=2, seed=0)
    run_fedavg(make_model(), data, build_aggregator("plain", BackendOptions(2)), warm_up)
    runs: dict[str, FedAvg] = {}
    budget: dict[str, int] = {}
    for backend in ["plain", *[b for b in args.backends if b != "plain"]]:
        budget[backend] = 1 if args.quick else (min(2, args.rounds) if backend == "paillier" else args.rounds)
        config = FedAvgConfig(
            rounds=budget[backend], dropout=0.1, seed=1, local=LocalConfig(epochs=1, batch_size=32, lr=0.05)
        )
        aggregator = build_aggregator(backend, BackendOptions(clients_per_round=args.clients))
        runs[backend] = FedAvg(make_model(), data, aggregator, config)
    # Round r of every backend before round r + 1 of any: machine noise hits all alike.
    plain_weights: list[np.ndarray] = []
    for rnd in range(max(budget.values())):
        for backend, run in runs.items():
            if rnd < budget[backend]:
                record = run.step()
                if backend == "plain":
                    plain_weights.append(run.weights.copy())
                print(f"[fedavg_bench] round {rnd + 1} {backend}: {record.seconds['round']:.2f} s", file=sys.stderr)

    plain_history = runs["plain"].history
    plain_round = statistics.median(r.seconds["round"] for r in plain_history.rounds)
    for backend, run in runs.items():
        history = run.history
        done = [r for r in history.rounds if not r.skipped]
        round_s = statistics.median(r.seconds["round"] for r in history.rounds)
        up = statistics.median(r.bytes_up_per_client for r in done) if done else 0.0
        same_round = plain_weights[len(history.rounds) - 1]
        print(
            json.dumps(
                {
                    "case": "fedavg_round",
                    "backend": backend,
                    "params": params,
                    "clients": args.clients,
                    "dropout": 0.1,
                    "rounds": len(history.rounds),
                    "skipped_rounds": len(history.rounds) - len(done),
                    "round_s": round(round_s, 4),
                    "local_training_s": round(_median(history, "local_training"), 4),
                    "aggregation_s": round(_aggregation_seconds(history), 4),
                    "ratio_vs_plain": round(round_s / plain_round, 3),
                    "target_ratio": TARGETS.get(backend),
                    "aggregation_vs_plain_round": round(_aggregation_seconds(history) / plain_round, 3),
                    "bytes_up_per_client": int(up),
                    "bytes_up_per_param": round(up / params, 3),
                    "bytes_down_per_client": int(statistics.median(r.bytes_down_per_client for r in done))
                    if done
                    else 0,
                    "phases_s": {
                        k: round(_median(history, k), 5) for k in history.rounds[0].seconds if k.startswith("agg.")
                    },
                    "accuracy": round(history.final_accuracy, 4),
                    "plain_accuracy_same_rounds": round(plain_history.rounds[len(history.rounds) - 1].accuracy, 4),
                    "max_abs_weight_diff_vs_plain": float(np.abs(run.weights - same_round).max()),
                }
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
