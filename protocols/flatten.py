"""state_dict <-> flat numpy vector, preserving every entry's dtype and shape.

Aggregators work on one flat float64 vector per client; these helpers are the
bridge so that any torch model (or another FL system's tensors) can go through
one aggregation step and come back with the layout it started with.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from fedsecure.errors import FedsecureError


class LayoutError(FedsecureError, ValueError):
    """A vector or state_dict that does not match the recorded layout."""


@dataclass(frozen=True)
class Entry:
    """Name, shape and dtype of one state_dict entry."""

    name: str
    shape: tuple[int, ...]
    dtype: torch.dtype

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass(frozen=True)
class Layout:
    """The ordered entries of a state_dict; `size` is the flat vector length."""

    entries: tuple[Entry, ...]

    @classmethod
    def of(cls, state: Mapping[str, torch.Tensor]) -> Layout:
        return cls(tuple(Entry(k, tuple(v.shape), v.dtype) for k, v in state.items()))

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)


def to_vector(state: Mapping[str, torch.Tensor], layout: Layout | None = None) -> np.ndarray:
    """Concatenate a state_dict into one float64 vector (in `layout` order if given)."""
    layout = layout or Layout.of(state)
    if set(state) != {e.name for e in layout.entries}:
        raise LayoutError("state_dict keys differ from the layout")
    parts = []
    for entry in layout.entries:
        tensor = state[entry.name]
        if tuple(tensor.shape) != entry.shape:
            raise LayoutError(f"{entry.name}: shape {tuple(tensor.shape)} != {entry.shape}")
        parts.append(tensor.detach().cpu().reshape(-1).to(torch.float64).numpy())
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float64)


def from_vector(vector: np.ndarray, layout: Layout) -> OrderedDict[str, torch.Tensor]:
    """Split a flat vector back into tensors of the recorded shapes and dtypes.

    Integer and boolean entries (e.g. batch-norm counters) are rounded back.
    """
    vector = np.asarray(vector)
    if vector.ndim != 1 or vector.shape[0] != layout.size:
        raise LayoutError(f"vector of shape {vector.shape} does not fit layout size {layout.size}")
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    offset = 0
    for entry in layout.entries:
        chunk = torch.from_numpy(np.array(vector[offset : offset + entry.size], dtype=np.float64))
        if not (entry.dtype.is_floating_point or entry.dtype.is_complex):
            chunk = torch.round(chunk)
        out[entry.name] = chunk.to(entry.dtype).reshape(entry.shape)
        offset += entry.size
    return out
