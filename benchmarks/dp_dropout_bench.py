"""Distributed DP under dropouts (issue 10): today's planned Skellam against XNoise, in one run.

Mechanisms, same noise multiplier, clip, ring and clients:

* ``planned``: ``dp.DistributedSkellam`` planned for every sampled client surviving (a deployment
  that cannot know its dropout rate in advance); each dropout takes its share of the noise away;
* ``xnoise``: ``dp.XNoiseSkellam`` (Dordis, Jiang et al. EuroSys 2024, Sec. 4) tolerating
  ``--tolerated-dropout`` (30%): every client adds the worst tolerated case and the server removes
  the excess components of the survivors once it knows them.

For each mechanism and each dropout rate in {0, 10, 20, 30}% (clients dropping before their masked
input, so their noise is missing from the sum):

* ``released_noise_std``: the standard deviation of the decoded SecAgg sum of zero updates (the noise
  alone), over every coordinate of ``--noise-rounds`` rounds; ``target_noise_std`` is the central noise
  noise_multiplier x l2_clip that the mechanism promises;
* ``epsilon_per_round``: RDP epsilon at delta 1e-5 of one such round (every client sampled), from the
  event the DP-FedAvg driver accounts;
* ``accuracy``: test accuracy of DP-FedAvg (logistic regression, bundled scikit-learn data) after
  ``--rounds`` rounds at that dropout rate with that mechanism.

One JSON line per (mechanism, dropout) on stdout, progress on stderr.

    python benchmarks/dp_dropout_bench.py            # 50 noise rounds, 10 FedAvg rounds, digits
    python benchmarks/dp_dropout_bench.py --quick    # seconds-long smoke run, breast cancer
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys

import numpy as np
import torch

import dp
from protocols.aggregators.masking import SecAggAggregator
from protocols.datasets import load_federated
from protocols.dpfedavg import DistributedDP, XNoiseDP
from protocols.fedavg import FedAvgConfig, run_fedavg
from protocols.flatten import Layout
from protocols.local import LocalConfig
from protocols.models import build_model
from secagg import Stage

DELTA = 1e-5
DROPOUTS = (0.0, 0.1, 0.2, 0.3)
TARGET_RELATIVE_ERROR = 0.10


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def privacy_for(
    mechanism: str, clients: int, dimension: int, noise: float, clip: float, tolerated: float
) -> DistributedDP:
    """The DP-FedAvg side of one mechanism, planned for all ``clients`` of a round."""
    seed = secrets.token_bytes(32)
    if mechanism == "planned":
        return DistributedDP(dp.DistributedSkellam(clip, noise, 32, dimension, clients, seed), DELTA)
    return XNoiseDP(dp.XNoiseSkellam(clip, noise, 32, dimension, clients, seed, tolerated_dropout=tolerated), DELTA)


def noise_and_epsilon(privacy: DistributedDP, clients: int, dropout: float, rounds: int) -> tuple[float, float]:
    """Std of the decoded sum of zero updates over ``rounds`` rounds, and one round's epsilon."""
    aggregator = SecAggAggregator(clients, codec=privacy.codec, protect_weights=False)
    dimension = privacy.mechanism.dimension
    updates = {c: np.zeros(dimension) for c in range(1, clients + 1)}
    drops = {c: Stage.MASKED_INPUT for c in range(1, round(dropout * clients) + 1)}
    sums, outcome = [], None
    for _ in range(rounds):
        outcome = aggregator.aggregate(updates, dict.fromkeys(updates, 1.0), drops)
        sums.append(outcome.mean * len(outcome.included))  # equal weights: the mean is the sum over the count
    assert outcome is not None
    fresh = type(privacy)(privacy.mechanism, DELTA)  # one round's epsilon, from the event the driver accounts
    return float(np.concatenate(sums).std()), fresh.account(outcome, 1.0)


def accuracy(privacy: DistributedDP, data_name: str, clients: int, dropout: float, rounds: int, seed: int) -> float:
    """Final test accuracy of DP-FedAvg with ``privacy`` at ``dropout``."""
    data = load_federated(data_name, clients, seed=seed)
    model = build_model("logreg", data.num_features, data.num_classes, seed=seed)
    aggregator = SecAggAggregator(clients, codec=privacy.codec, protect_weights=False)
    config = FedAvgConfig(
        rounds=rounds,
        local=LocalConfig(epochs=3, batch_size=16, lr=0.3),
        dropout=dropout,
        drop_stage=Stage.MASKED_INPUT,
        seed=seed,
    )
    history, _ = run_fedavg(model, data, aggregator, config, privacy)
    return history.rounds[-1].accuracy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--dataset", choices=("breast_cancer", "digits"), default=None)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--noise-multiplier", type=float, default=1.0)
    parser.add_argument("--clip", type=float, default=0.25)
    parser.add_argument("--tolerated-dropout", type=float, default=0.3)
    parser.add_argument("--noise-rounds", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    dataset = args.dataset or ("breast_cancer" if args.quick else "digits")
    noise_rounds = args.noise_rounds or (12 if args.quick else 50)
    rounds = args.rounds or (3 if args.quick else 10)
    probe = load_federated(dataset, args.clients, seed=args.seed)
    model = build_model("logreg", probe.num_features, probe.num_classes)
    dimension = Layout.of(model.state_dict()).size
    target = args.noise_multiplier * args.clip
    for mechanism in ("planned", "xnoise"):
        for dropout in DROPOUTS:
            log(f"{mechanism}, {dropout:.0%} dropout: {noise_rounds} noise rounds, {rounds} FedAvg rounds")
            privacy = privacy_for(
                mechanism, args.clients, dimension, args.noise_multiplier, args.clip, args.tolerated_dropout
            )
            released, epsilon = noise_and_epsilon(privacy, args.clients, dropout, noise_rounds)
            fresh = privacy_for(
                mechanism, args.clients, dimension, args.noise_multiplier, args.clip, args.tolerated_dropout
            )
            record = {
                "bench": "dp_dropout",
                "mechanism": mechanism,
                "dropout": dropout,
                "dropped_clients": round(dropout * args.clients),
                "clients": args.clients,
                "tolerated_dropout": args.tolerated_dropout if mechanism == "xnoise" else None,
                "dataset": dataset,
                "dimension": dimension,
                "target_noise_std": target,
                "released_noise_std": released,
                "released_vs_target": released / target,
                "epsilon_per_round": epsilon,
                "delta": DELTA,
                "accuracy": accuracy(fresh, dataset, args.clients, dropout, rounds, args.seed),
                "fedavg_rounds": rounds,
                "noise_rounds": noise_rounds,
            }
            if mechanism == "xnoise":
                within = abs(released / target - 1) <= TARGET_RELATIVE_ERROR
                record["meets_target"] = within or dropout > args.tolerated_dropout
            print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
