"""One aggregation step on torch tensors, for FL systems that keep their own loop.

    mean_state, outcome = aggregate_state_dicts(SecAggAggregator(10), states, sizes)

flattens each client's state_dict (or update) with `protocols.flatten`,
runs the aggregator on the flat vectors, and returns the weighted mean in the
original layout (names, shapes, dtypes) together with the outcome (who was
included, what it cost).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

import torch

from protocols.aggregators.base import (
    AggregationError,
    AggregationOutcome,
    SecureAggregator,
    Stage,
)
from protocols.flatten import Layout, from_vector, to_vector


def aggregate_state_dicts(
    aggregator: SecureAggregator,
    states: Mapping[int, Mapping[str, torch.Tensor]],
    weights: Mapping[int, float],
    dropouts: Mapping[int, Stage] | None = None,
) -> tuple[OrderedDict[str, torch.Tensor], AggregationOutcome]:
    """Weighted mean of per-client tensors through `aggregator`, in their own layout."""
    if not states:
        raise AggregationError("no client tensors given")
    layout = Layout.of(next(iter(states.values())))
    vectors = {cid: to_vector(state, layout) for cid, state in states.items()}
    outcome = aggregator.aggregate(vectors, weights, dropouts)
    return from_vector(outcome.mean, layout), outcome
