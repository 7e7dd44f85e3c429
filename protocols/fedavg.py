"""The FedAvg loop: sample clients, train locally, aggregate securely, update.

FederatedAveraging of McMahan et al. (AISTATS 2017, Algorithm 1): each round
samples a fraction of clients, each runs local SGD from the global weights,
and the server moves the global weights by the weighted mean of the updates.
Optional server learning rate and momentum follow FedAvgM (Hsu, Qi and Brown
2019, Sec. 3). Aggregation goes through any `SecureAggregator`, and the
privacy side through any `Privacy`; the loop branches on neither.

Client sampling is either a fixed-size uniform subset (McMahan et al. 2017)
or Poisson, each client independently with q = clients_per_round / N, as
DP-FedAvg's accounting assumes (McMahan et al., ICLR 2018, Sec. 2). That
accounting credits amplification by sampling, which holds only if nobody can
predict the sample: whenever a DP mechanism accounts a sampling rate below 1
the sample is drawn from the OS CSPRNG (`secrets`). `FedAvgConfig.seeded_sampling`
keeps the seeded sampler for reproducible simulations, and the history then
records that its epsilon assumes a secret sample the run did not have.

Dropouts: each round a fraction of the sampled clients drops at a chosen
protocol stage. A round whose aggregator aborts (too few survivors for its
threshold) is recorded as skipped and leaves the model unchanged.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
from torch import nn

from protocols.aggregators.base import AggregationAborted, SecureAggregator, Stage
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
    drop_stage: Stage = Stage.MASKED_INPUT
    sampling: str = "fixed"
    seed: int = 0
    seeded_sampling: bool = False

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise ValueError(f"rounds must be >= 1, got {self.rounds}")
        if self.clients_per_round is not None and self.clients_per_round < 1:
            raise ValueError(f"clients_per_round must be >= 1, got {self.clients_per_round}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not (math.isfinite(self.server_lr) and self.server_lr > 0) or not 0.0 <= self.server_momentum < 1.0:
            raise ValueError(
                f"server_lr must be finite and > 0 and server_momentum in [0, 1), got {self.server_lr}, "
                f"{self.server_momentum}"
            )
        if self.sampling not in ("fixed", "poisson"):
            raise ValueError(f"sampling must be 'fixed' or 'poisson', got {self.sampling!r}")

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["drop_stage"] = self.drop_stage.name
        return out


def drop_plan(sampled: list[int], fraction: float, stage: Stage, rng: np.random.Generator) -> dict[int, Stage]:
    """Pick round(fraction * len(sampled)) of the sampled clients to drop at `stage`."""
    count = int(round(fraction * len(sampled)))
    return {int(c): stage for c in rng.choice(sampled, size=count, replace=False)}


RoundCallback = Callable[[RoundRecord], None]


class FedAvg:
    """A FedAvg run one round at a time: `step()` plays one round and returns its record.

    `model` supplies the architecture and the initial weights (its state is
    overwritten during training); `weights` is the current global vector.
    """

    def __init__(
        self,
        model: nn.Module,
        data: FederatedDataset,
        aggregator: SecureAggregator,
        config: FedAvgConfig,
        privacy: Privacy | None = None,
    ) -> None:
        self.model, self.data, self.aggregator, self.config = model, data, aggregator, config
        self.privacy = privacy or NoPrivacy()
        self._rng = np.random.default_rng(config.seed)
        self.layout = Layout.of(model.state_dict())
        self.weights = to_vector(model.state_dict(), self.layout)
        self._velocity = np.zeros_like(self.weights)
        self._population = sorted(data.clients)
        self._per_round = min(config.clients_per_round or len(self._population), len(self._population))
        rate = self._per_round / len(self._population)
        self.sample_rate = rate if config.sampling == "poisson" or rate == 1.0 else None
        self.privacy.check(self.sample_rate)
        amplified = self.privacy.accounts_sampling and self._per_round < len(self._population)
        self._secret_sampling = amplified and not config.seeded_sampling
        sampling_note = (
            "secret (OS CSPRNG)"
            if self._secret_sampling
            else "seeded; the reported epsilon assumes a secret sample this run did not have"
            if amplified
            else "seeded (no privacy claim rests on it)"
        )
        self._accuracy, _ = self._evaluate()
        self._epsilon: float | None = None
        self.history = History(
            config={
                **config.as_dict(),
                "aggregator": aggregator.name,
                "threat_model": aggregator.threat_model(),
                "privacy": self.privacy.name,
                "privacy_params": self.privacy.describe(),
                "dataset": data.name,
                "clients": len(self._population),
                "parameters": self.layout.size,
                "client_sampling": sampling_note,
            },
            initial_accuracy=self._accuracy,
        )

    def _evaluate(self) -> tuple[float, float]:
        return evaluate(self.model, self.weights, self.layout, self.data.test_features, self.data.test_labels)

    def _sample(self) -> list[int]:
        population, per_round = self._population, self._per_round
        if self._secret_sampling:  # exact Bernoulli(per_round / N) and uniform subsets from the OS CSPRNG
            if self.config.sampling == "poisson":
                return [c for c in population if secrets.randbelow(len(population)) < per_round]
            return sorted(secrets.SystemRandom().sample(population, per_round))
        if self.config.sampling == "poisson":
            keep = self._rng.random(len(population)) < per_round / len(population)
            return [c for c, k in zip(population, keep, strict=True) if k]
        chosen = self._rng.choice(population, size=per_round, replace=False)
        return sorted(int(c) for c in chosen)

    def step(self) -> RoundRecord:
        """Sample, train locally, aggregate (with dropouts), update; record the round."""
        config, privacy, rng = self.config, self.privacy, self._rng
        round_start = time.perf_counter()
        sampled = self._sample()
        drops = drop_plan(sampled, config.dropout, config.drop_stage, rng)
        seeds = rng.integers(0, 2**63 - 1, size=len(sampled))
        updates = {
            cid: privacy.prepare(
                local_update(self.model, self.weights, self.layout, self.data.clients[cid], config.local, int(seed))
            )
            for cid, seed in zip(sampled, seeds, strict=True)
        }
        seconds = {"local_training": time.perf_counter() - round_start}
        client_weights = {c: privacy.client_weight(self.data.clients[c].size) for c in sampled}
        number, dropped = len(self.history.rounds) + 1, {c: s.name for c, s in drops.items()}
        try:
            if not sampled:
                raise AggregationAborted("no client was sampled this round")
            outcome = self.aggregator.aggregate(updates, client_weights, drops)
        except AggregationAborted as exc:
            seconds["round"] = time.perf_counter() - round_start
            record = RoundRecord(
                round=number,
                sampled=sampled,
                dropped=dropped,
                included=[],
                skipped=True,
                reason=str(exc),
                accuracy=self._accuracy,
                loss=float("nan"),
                epsilon=self._epsilon,
                bytes_up_per_client=0.0,
                bytes_down_per_client=0.0,
                seconds=seconds,
            )
        else:
            step = privacy.release(outcome)
            self._epsilon = privacy.account(outcome, self.sample_rate or 1.0)
            self._velocity = config.server_momentum * self._velocity + step
            self.weights = self.weights + config.server_lr * self._velocity
            seconds.update({f"agg.{k}": v for k, v in outcome.cost.seconds.items()})
            seconds["round"] = time.perf_counter() - round_start
            self._accuracy, loss = self._evaluate()
            record = RoundRecord(
                round=number,
                sampled=sampled,
                dropped=dropped,
                included=list(outcome.included),
                skipped=False,
                reason=None,
                accuracy=self._accuracy,
                loss=loss,
                epsilon=self._epsilon,
                bytes_up_per_client=outcome.cost.mean_up(outcome.included),
                bytes_down_per_client=outcome.cost.mean_down(outcome.included),
                seconds=seconds,
            )
        self.history.rounds.append(record)
        return record


def run_fedavg(
    model: nn.Module,
    data: FederatedDataset,
    aggregator: SecureAggregator,
    config: FedAvgConfig,
    privacy: Privacy | None = None,
    on_round: RoundCallback | None = None,
) -> tuple[History, np.ndarray]:
    """Train `model` federatedly for `config.rounds`; return the history and final weights.

    `on_round` is called after every round; the model ends holding the final weights.
    """
    run = FedAvg(model, data, aggregator, config, privacy)
    for _ in range(config.rounds):
        record = run.step()
        if on_round is not None:
            on_round(record)
    run.model.load_state_dict(from_vector(run.weights, run.layout))
    return run.history, run.weights
