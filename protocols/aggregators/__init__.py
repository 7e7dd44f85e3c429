"""Aggregators: one interface (`SecureAggregator`), one implementation per scheme."""

from protocols.aggregators.base import (
    AggregationAborted,
    AggregationError,
    AggregationOutcome,
    Cost,
    DropStage,
    PlainAggregator,
    SecureAggregator,
)

__all__ = [
    "AggregationAborted",
    "AggregationError",
    "AggregationOutcome",
    "Cost",
    "DropStage",
    "PlainAggregator",
    "SecureAggregator",
]
