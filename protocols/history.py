"""The round history: one record per round, JSON in and out."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RoundRecord:
    """What happened in one FedAvg round.

    `skipped` rounds (too few survivors for the aggregator's threshold) leave
    the global model unchanged and say why in `reason`. Bytes are per client
    (mean over the included clients); seconds are per phase, with the
    aggregator's phases prefixed `agg.`.
    """

    round: int
    sampled: list[int]
    dropped: dict[int, str]
    included: list[int]
    skipped: bool
    reason: str | None
    accuracy: float
    loss: float
    epsilon: float | None
    bytes_up_per_client: float
    bytes_down_per_client: float
    seconds: dict[str, float]


@dataclass
class History:
    """Configuration and the list of round records of one training run."""

    config: dict[str, Any]
    initial_accuracy: float
    rounds: list[RoundRecord] = field(default_factory=list)

    @property
    def final_accuracy(self) -> float:
        return self.rounds[-1].accuracy if self.rounds else self.initial_accuracy

    @property
    def final_epsilon(self) -> float | None:
        return self.rounds[-1].epsilon if self.rounds else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "initial_accuracy": self.initial_accuracy,
            "rounds": [asdict(r) for r in self.rounds],
        }

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
