"""Validation of caller inputs shared by both schemes (vectors and weights)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from fedsecure import checks
from fedsecure.errors import shown
from he.errors import ParameterError
from he.interface import Ciphertext

__all__ = ["as_update", "check_weight", "plan_weights"]


def as_update(vector: np.ndarray, clip: float) -> tuple[np.ndarray, np.dtype]:
    """Check a 1-D finite real vector, clip it to ``[-clip, clip]``, return it as float64.

    Also returns the dtype decryption should restore (float32 stays float32,
    everything else comes back as float64).
    """
    array = np.asarray(vector)
    if array.ndim != 1:
        raise ParameterError(f"expected a 1-D vector, got shape {array.shape}")
    if array.dtype.kind not in "fiub":
        raise ParameterError(f"expected a real numeric vector, got dtype {array.dtype}")
    values = array.astype(np.float64, copy=False)
    if not np.all(np.isfinite(values)):
        raise ParameterError("vector contains NaN or infinite values")
    out_dtype = np.dtype(np.float32) if array.dtype == np.float32 else np.dtype(np.float64)
    return np.clip(values, -clip, clip), out_dtype


def _check_weight(weight: object, integral: bool, where: str) -> float:
    value = checks.real(f"{where}: weight", weight, error=ParameterError, low=0.0)
    if integral and value != int(value):
        raise ParameterError(f"{where}: this scheme needs integer weights, got {shown(weight)}")
    return value


def check_weight(weight: object, integral: bool) -> float:
    """Validate one client-side weight for ``encrypt(vector, weight=...)``."""
    return _check_weight(weight, integral, "encrypt")


def plan_weights(
    ciphertexts: Sequence[Ciphertext], weights: Sequence[float] | None, integral: bool
) -> tuple[list[float | None], float]:
    """Decide, per ciphertext, which weight the server must still apply.

    Returns ``(to_apply, total)``: ``to_apply[i]`` is ``None`` when
    ``ciphertexts[i]`` already carries its weight (declared and equal to the
    requested one) and the weight to apply homomorphically otherwise;
    ``total`` is the public total weight of the result. See the weighting
    contract in :mod:`he.interface`.
    """
    if weights is None:
        return [None] * len(ciphertexts), float(sum(ct.weight for ct in ciphertexts))
    if len(weights) != len(ciphertexts):
        raise ParameterError(f"{len(weights)} weights for {len(ciphertexts)} ciphertexts")
    to_apply: list[float | None] = []
    total = 0.0
    for index, (ct, raw) in enumerate(zip(ciphertexts, weights, strict=True)):
        weight = _check_weight(raw, integral, f"aggregate weight {index}")
        if ct.weighted:
            if not math.isclose(ct.weight, weight, rel_tol=1e-12, abs_tol=0.0):
                raise ParameterError(
                    f"ciphertext {index} declares weight {ct.weight!r} applied by its client, "
                    f"but aggregate was asked for {weight!r}"
                )
            to_apply.append(None)
        else:
            to_apply.append(weight)
        total += weight
    return to_apply, total
