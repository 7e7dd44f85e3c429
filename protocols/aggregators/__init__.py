"""Aggregators: one interface (`SecureAggregator`), one implementation per scheme."""

from protocols.aggregators.base import (
    AggregationAborted,
    AggregationError,
    AggregationOutcome,
    Cost,
    PlainAggregator,
    SecureAggregator,
    Stage,
)

__all__ = [
    "AggregationAborted",
    "AggregationError",
    "AggregationOutcome",
    "Cost",
    "Stage",
    "PlainAggregator",
    "SecureAggregator",
]
