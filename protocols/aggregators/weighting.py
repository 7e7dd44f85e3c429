"""Protected FedAvg weighting: the secure sum carries w_i * x_i and w_i itself.

Sending sample counts in the clear beside a masked or encrypted update (as
Flower does) leaks each client's data size. Instead each client appends its
normalized weight w_i / W (W a public bound on any weight, so the result
stays within the codec's clip) to its scaled update; the server only ever
learns sum_i w_i x_i and sum_i w_i, and divides.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from protocols.aggregators.base import AggregationError


def weight_scale(weights: Mapping[int, float], bound: float | None) -> float:
    """The public normalizer W: `bound` if given (checked), else the round's largest weight.

    Taking the round's maximum is a simulation convenience; a deployment
    fixes W in advance (e.g. the largest dataset a client may report).
    """
    largest = max(weights.values())
    if bound is None:
        return float(largest)
    if largest > bound:
        raise AggregationError(f"a client weight {largest} exceeds weight_bound {bound}")
    return float(bound)


def with_weight(update: np.ndarray, weight: float, scale: float) -> np.ndarray:
    """[w x, w] with w = weight / scale in (0, 1]: what a client protects and sends."""
    normalized = weight / scale
    return np.append(normalized * update.astype(np.float64), normalized)


def weighted_mean(total: np.ndarray, scale: float) -> tuple[np.ndarray, float]:
    """Split a protected sum [sum w x, sum w] into the weighted mean and the total weight."""
    total_weight = float(total[-1])
    if not total_weight > 0:
        raise AggregationError(f"decoded total weight {total_weight} is not positive")
    return total[:-1] / total_weight, total_weight * scale
