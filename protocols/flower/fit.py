"""What every protected fit round shares on Flower, whatever protects the update (masking or HE).

Client side: the ClientApp's fit result as one flat update and its example count, and the reply
stripped of what the protection carries. Server side: the round number and global parameters of a
``LegacyContext``, the aggregate handed to the strategy as every included client's parameters (as
Flower's SecAgg+ workflow does), and the outcome recorded under ``context.state``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from logging import INFO
from typing import cast

import numpy as np
from flwr.app import ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.common import Code, FitRes, Parameters, log, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.compat.common import recorddict_compat as compat
from flwr.server import LegacyContext
from flwr.server.client_proxy import ClientProxy
from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, MAIN_PARAMS_RECORD, Key
from flwr.serverapp.grid import Grid

from secagg.errors import InvalidMessageError

OUTCOME_RECORD = "secagg.outcome"
"""Key, in the ServerApp's ``context.state``, of the last round's outcome."""


def fit_update(fitted: Message, length: int) -> tuple[np.ndarray, int]:
    """The flat update (float64, ``length`` values) and ``num_examples`` of a ClientApp's fit reply."""
    if not fitted.has_content():
        raise InvalidMessageError("the ClientApp's fit returned an error, not a result")
    fitres = compat.recorddict_to_fitres(fitted.content, keep_input=True)
    if fitres.status.code != Code.OK:
        raise InvalidMessageError(f"the ClientApp's fit failed: {fitres.status.message}")
    arrays = parameters_to_ndarrays(fitres.parameters)
    update = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays]) if arrays else np.zeros(0)
    if update.shape[0] != length:
        raise InvalidMessageError(f"fit result has {update.shape[0]} parameters, the round expects {length}")
    weight = fitres.num_examples
    if not (isinstance(weight, int) and weight >= 0):
        raise InvalidMessageError(f"num_examples must be a non-negative integer, got {weight!r}")
    return update, weight


def hide_update(content: RecordDict) -> RecordDict:
    """The fit reply without what the protected upload carries: no arrays, num_examples 0."""
    for arrays in content.array_records.values():
        arrays.clear()
    content.metric_records["fitres.num_examples"] = MetricRecord({"num_examples": 0})
    return content


POLL_SECONDS = 0.2
"""How often an exchange asks the SuperLink for replies (Flower's own ``send_and_receive`` waits 3 s)."""


def round_trip(grid: Grid, messages: Iterable[Message], timeout: float) -> list[Message]:
    """One round trip: push ``messages``, then collect their replies until all arrived or ``timeout``
    seconds passed (a node that has not answered by then has dropped out of this stage)."""
    pending = set(grid.push_messages(messages))
    deadline = time.monotonic() + timeout
    replies: list[Message] = []
    while pending:
        arrived = list(grid.pull_messages(pending))
        replies.extend(arrived)
        pending.difference_update(m.metadata.reply_to_message_id for m in arrived)
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
    return replies


def current_round(context: LegacyContext) -> int:
    return cast(int, context.state.config_records[MAIN_CONFIGS_RECORD][Key.CURRENT_ROUND])


def global_parameters(context: LegacyContext) -> Parameters:
    return compat.arrayrecord_to_parameters(context.state.array_records[MAIN_PARAMS_RECORD], keep_input=True)


def record_outcome(context: Context, outcome: Mapping[str, object]) -> None:
    """The round's outcome, readable by the ServerApp under ``context.state[OUTCOME_RECORD]``."""
    context.state.config_records[OUTCOME_RECORD] = ConfigRecord(dict(outcome))  # type: ignore[arg-type]


def apply_mean(
    context: LegacyContext,
    round_index: int,
    mean: np.ndarray,
    template: Sequence[np.ndarray],
    included: Sequence[tuple[ClientProxy, FitRes]],
    failures: Sequence[BaseException],
    metrics: Mapping[str, float] | None = None,
) -> None:
    """Hand the protected mean to ``strategy.aggregate_fit`` as every included client's parameters
    (example counts stay protected, so each carries weight 1) and store what the strategy returns,
    with ``metrics`` (e.g. the epsilon spent) added to its fit metrics."""
    aggregate = ndarrays_to_parameters(unflatten(mean, template))
    results = []
    for proxy, fitres in included:
        fitres.parameters, fitres.num_examples = aggregate, 1
        results.append((proxy, fitres))
    log(INFO, "aggregate_fit: %s clients included, %s failures", len(results), len(failures))
    parameters, fit_metrics = context.strategy.aggregate_fit(round_index, results, list(failures))
    if parameters:
        context.state.array_records[MAIN_PARAMS_RECORD] = compat.parameters_to_arrayrecord(parameters, True)
        context.history.add_metrics_distributed_fit(
            server_round=round_index, metrics={**fit_metrics, **(metrics or {})}
        )


def unflatten(vector: np.ndarray, template: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Split a flat vector into arrays shaped (and, if floating, typed) like the global parameters."""
    arrays, offset = [], 0
    for a in template:
        chunk = vector[offset : offset + a.size].reshape(a.shape)
        arrays.append(chunk.astype(a.dtype) if np.issubdtype(a.dtype, np.floating) else chunk)
        offset += a.size
    return arrays


def flat_length(template: Sequence[np.ndarray]) -> int:
    return int(sum(a.size for a in template))


__all__ = [
    "OUTCOME_RECORD",
    "apply_mean",
    "current_round",
    "round_trip",
    "fit_update",
    "flat_length",
    "global_parameters",
    "hide_update",
    "record_outcome",
    "unflatten",
]
