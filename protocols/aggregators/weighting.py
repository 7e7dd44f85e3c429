"""Protected FedAvg weighting: the secure sum carries w_i * x_i and w_i itself.

Sending sample counts in the clear beside a masked or encrypted update (as
Flower does) leaks each client's data size. With `protect=True` each client
appends its normalized weight w_i / W (W a public bound on any weight, so
the values stay within the encoding's clip) to its scaled update; the server
only learns sum_i w_i x_i and sum_i w_i, and divides.

`protect=False` is for weights that are public by construction, e.g. the
equal weights of DP-FedAvg, where an extra coordinate would only add to the
sensitivity: the vector is w_i x_i and the divisor is the known total.
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


def client_vector(update: np.ndarray, weight: float, scale: float, protect: bool) -> np.ndarray:
    """What a client protects and sends: [w x, w] (protected) or w x, with w = weight / scale."""
    normalized = weight / scale
    scaled = normalized * update.astype(np.float64)
    return np.append(scaled, normalized) if protect else scaled


def weighted_mean(total: np.ndarray, public_weight: float, scale: float, protect: bool) -> tuple[np.ndarray, float]:
    """Turn the decoded sum into (weighted mean, total weight).

    Protected: the divisor is the sum's own last coordinate; otherwise the
    known `public_weight` (sum of the included clients' raw weights).
    """
    if not protect:
        return total / (public_weight / scale), public_weight
    total_weight = float(total[-1])
    if not total_weight > 0:
        raise AggregationError(f"decoded total weight {total_weight} is not positive")
    return total[:-1] / total_weight, total_weight * scale
