"""The hospitals' ServerApp: FedAvg over the updates, protected by the run's ``aggregator``.

* ``plain``: Flower's plain FedAvg (the unprotected baseline);
* ``secagg+``: fedsecure's SecAgg+ (`SecAggWorkflow`, setup pipelined into the previous round);
* ``flower-secagg+``: Flower's own ``SecAggPlusWorkflow`` (the peer);
* ``ckks`` / ``paillier``: fedsecure's `HEWorkflow`; the key holder is the node with the smallest id;
* ``secagg+dp``: fedsecure's SecAgg+ with distributed discrete-Gaussian DP at ``dp-epsilon``.

Clients send updates (new minus old weights); the strategy adds the protected mean update to the
global model. With ``outcomes-file`` set, one JSON line per round records the outcome, the
test accuracy, the seconds and the message exchanges the round took.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from flwr.app import Context, Message
from flwr.common import FitRes, Parameters, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.server import LegacyContext, ServerConfig
from flwr.server.client_proxy import ClientProxy
from flwr.server.strategy import FedAvg
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
from flwr.serverapp import Grid, ServerApp

from hospitals import task
from protocols.flower import OUTCOME_RECORD, HEWorkflow, SecAggWorkflow
from protocols.flower.privacy import FlowerDP

AGGREGATORS = ("plain", "secagg+", "flower-secagg+", "ckks", "paillier", "secagg+dp")


class UpdateAveraging(FedAvg):
    """FedAvg over client updates: the new global model is the old one plus the (protected) mean update."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.current: list[np.ndarray] = task.initial_parameters()

    def aggregate_fit(
        self, server_round: int, results: list[tuple[ClientProxy, FitRes]], failures: list
    ) -> tuple[Parameters | None, dict]:
        mean, metrics = super().aggregate_fit(server_round, results, failures)
        if mean is not None:
            self.current = [w + u for w, u in zip(self.current, parameters_to_ndarrays(mean), strict=True)]
            return ndarrays_to_parameters(self.current), metrics
        return None, metrics


class CountingGrid:
    """The Grid, counting message exchanges: one per ``send_and_receive`` (Flower's workflows) or
    ``push_messages`` (fedsecure's, which poll for replies themselves)."""

    def __init__(self, grid: Grid) -> None:
        self._grid, self.exchanges = grid, 0

    def send_and_receive(self, messages: Iterable[Message], *, timeout: float | None = None) -> Iterable[Message]:
        self.exchanges += 1
        return self._grid.send_and_receive(messages, timeout=timeout)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        self.exchanges += 1
        return self._grid.push_messages(messages)

    def __getattr__(self, name: str) -> object:
        return getattr(self._grid, name)


def _fit_workflow(config: dict, grid: Grid, rounds: int) -> Callable | None:
    aggregator = str(config["aggregator"])
    degree = int(config["degree"]) or None
    timeout = float(config["timeout"])
    if aggregator == "plain":
        return None
    if aggregator == "secagg+":
        return SecAggWorkflow(degree=degree, clip=8.0, max_weight=1000.0, timeout=timeout)
    if aggregator == "secagg+dp":
        nodes = len(list(grid.get_node_ids()))
        privacy = FlowerDP(
            "distributed",
            l2_clip=float(config["dp-clip"]),
            delta=1e-5,
            rounds=rounds,
            expected_clients=nodes,
            epsilon=float(config["dp-epsilon"]),
        )
        return SecAggWorkflow(degree=degree, timeout=timeout, privacy=privacy)
    if aggregator == "flower-secagg+":
        return SecAggPlusWorkflow(num_shares=degree or 3, reconstruction_threshold=2, timeout=timeout)
    if aggregator in ("ckks", "paillier"):
        key_holder = min(grid.get_node_ids())
        return HEWorkflow(
            aggregator, key_holder=key_holder, max_clients=64, max_weight=1000.0, timeout=timeout, key_bits=2048
        )
    raise ValueError(f"aggregator must be one of {AGGREGATORS}, got {aggregator!r}")


app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    config = dict(context.run_config)
    rounds = int(config["num-server-rounds"])
    _, (test_features, test_labels) = task.split()

    def evaluate(server_round: int, parameters: list[np.ndarray], _: dict) -> tuple[float, dict]:
        return 0.0, {"accuracy": task.accuracy(parameters, test_features, test_labels)}

    strategy = UpdateAveraging(
        fraction_fit=1.0,
        fraction_evaluate=0.0,
        min_fit_clients=2,
        min_available_clients=2,
        initial_parameters=ndarrays_to_parameters([np.zeros_like(a) for a in task.initial_parameters()]),
        evaluate_fn=evaluate,
    )
    counting = CountingGrid(grid)
    fit = _fit_workflow(config, grid, rounds)
    out = Path(str(config["outcomes-file"])) if config["outcomes-file"] else None
    started = [time.perf_counter()]

    def recording_fit(grid: Grid, legacy: LegacyContext) -> None:
        before, started[0] = counting.exchanges, time.perf_counter()
        if fit is None:
            DefaultWorkflow().fit_workflow(counting, legacy)  # type: ignore[attr-defined]
        else:
            fit(counting, legacy)
        record = dict(legacy.state.config_records.get(OUTCOME_RECORD, {}))
        record.update(
            aggregator=config["aggregator"],
            exchanges_counted=counting.exchanges - before,
            fit_seconds=time.perf_counter() - started[0],
            accuracy=task.accuracy(strategy.current, test_features, test_labels),
            global_model=[float(v) for a in strategy.current for v in a.ravel()],
        )
        if out is not None:
            with out.open("a") as handle:
                handle.write(json.dumps(record, default=float) + "\n")

    legacy = LegacyContext(context=context, config=ServerConfig(num_rounds=rounds), strategy=strategy)
    DefaultWorkflow(fit_workflow=recording_fit)(counting, legacy)
