"""The FedAvg loop: sample clients, train locally, aggregate securely, update.

FederatedAveraging of McMahan et al. (AISTATS 2017, Algorithm 1): each round
samples a fraction of clients, each runs local SGD from the global weights,
and the server moves the global weights by the weighted mean of the updates.
Optional server learning rate and momentum follow FedAvgM (Hsu, Qi and Brown
2019, Sec. 3). Aggregation goes through any `SecureAggregator`, and the
privacy side through any `Privacy`; the loop branches on neither.

Dropouts: each round a fraction of the sampled clients drops at a chosen
protocol stage. A round whose aggregator aborts (too few survivors for its
threshold) is recorded as skipped and leaves the model unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
from torch import nn

from protocols.aggregators.base import AggregationAborted, DropStage, SecureAggregator
from protocols.datasets import FederatedDataset
from protocols.flatten import Layout, from_vector, to_vector
from protocols.history import History, RoundRecord
from protocols.local import LocalConfig, evaluate, local_update
from protocols.privacy import NoPrivacy, Privacy


@dataclass(frozen=True)
class FedAvgConfig:
    """Round structure of one run; `clients_per_round=None` samples everyone."""

    rounds: int = 10
    clients_per_round: int | None = None
    local: LocalConfig = field(default_factory=LocalConfig)
    server_lr: float = 1.0
    server_momentum: float = 0.0
    dropout: float = 0.0
    drop_stage: DropStage = DropStage.MASKED_INPUT
    seed: int = 0

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise ValueError(f"rounds must be >= 1, got {self.rounds}")
        if self.clients_per_round is not None and self.clients_per_round < 1:
            raise ValueError(f"clients_per_round must be >= 1, got {self.clients_per_round}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not self.server_lr > 0 or not 0.0 <= self.server_momentum < 1.0:
            raise ValueError("server_lr must be > 0 and server_momentum in [0, 1)")

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["drop_stage"] = self.drop_stage.name
        return out


def drop_plan(
    sampled: list[int], fraction: float, stage: DropStage, rng: np.random.Generator
) -> dict[int, DropStage]:
    """Pick round(fraction * len(sampled)) of the sampled clients to drop at `stage`."""
    count = int(round(fraction * len(sampled)))
    return {int(c): stage for c in rng.choice(sampled, size=count, replace=False)}


RoundCallback = Callable[[RoundRecord], None]


def run_fedavg(
    model: nn.Module,
    data: FederatedDataset,
    aggregator: SecureAggregator,
    config: FedAvgConfig,
    privacy: Privacy | None = None,
    on_round: RoundCallback | None = None,
) -> tuple[History, np.ndarray]:
    """Train `model` federatedly; return the history and the final global weights.

    `model` supplies the architecture and the initial weights (its state is
    overwritten during training). `on_round` is called after every round.
    """
    privacy = privacy or NoPrivacy()
    rng = np.random.default_rng(config.seed)
    layout = Layout.of(model.state_dict())
    weights = to_vector(model.state_dict(), layout)
    velocity = np.zeros_like(weights)
    population = sorted(data.clients)
    per_round = min(config.clients_per_round or len(population), len(population))
    accuracy, _ = evaluate(model, weights, layout, data.test_features, data.test_labels)
    history = History(
        config={
            **config.as_dict(),
            "aggregator": aggregator.name,
            "privacy": privacy.name,
            "dataset": data.name,
            "clients": len(population),
            "parameters": layout.size,
        },
        initial_accuracy=accuracy,
    )
    epsilon: float | None = None
    for rnd in range(1, config.rounds + 1):
        round_start = time.perf_counter()
        sampled = sorted(int(c) for c in rng.choice(population, size=per_round, replace=False))
        drops = drop_plan(sampled, config.dropout, config.drop_stage, rng)
        seeds = rng.integers(0, 2**63 - 1, size=len(sampled))
        train_start = time.perf_counter()
        updates = {
            cid: privacy.prepare(
                local_update(model, weights, layout, data.clients[cid], config.local, int(seed))
            )
            for cid, seed in zip(sampled, seeds, strict=True)
        }
        train_seconds = time.perf_counter() - train_start
        client_weights = {cid: privacy.client_weight(data.clients[cid].size) for cid in sampled}
        try:
            outcome = aggregator.aggregate(updates, client_weights, drops)
        except AggregationAborted as exc:
            record = RoundRecord(
                round=rnd, sampled=sampled, dropped={c: s.name for c, s in drops.items()},
                included=[], skipped=True, reason=str(exc), accuracy=accuracy,
                loss=float("nan"), epsilon=epsilon, bytes_up_per_client=0.0,
                bytes_down_per_client=0.0,
                seconds={"local_training": train_seconds,
                         "round": time.perf_counter() - round_start},
            )
        else:
            step = privacy.release(outcome, len(sampled))
            epsilon = privacy.account(outcome, len(sampled), len(population))
            velocity = config.server_momentum * velocity + step
            weights = weights + config.server_lr * velocity
            accuracy, loss = evaluate(model, weights, layout, data.test_features, data.test_labels)
            record = RoundRecord(
                round=rnd, sampled=sampled, dropped={c: s.name for c, s in drops.items()},
                included=list(outcome.included), skipped=False, reason=None,
                accuracy=accuracy, loss=loss, epsilon=epsilon,
                bytes_up_per_client=outcome.cost.mean_up(outcome.included),
                bytes_down_per_client=outcome.cost.mean_down(outcome.included),
                seconds={"local_training": train_seconds,
                         **{f"agg.{k}": v for k, v in outcome.cost.seconds.items()},
                         "round": time.perf_counter() - round_start},
            )
        history.rounds.append(record)
        if on_round is not None:
            on_round(record)
    model.load_state_dict(from_vector(weights, layout))
    return history, weights
