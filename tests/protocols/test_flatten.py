"""state_dict <-> vector helpers keep names, shapes, dtypes and values."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from protocols.flatten import Layout, LayoutError, from_vector, to_vector
from protocols.models import bench_mlp, build_model


def _models() -> list[nn.Module]:
    return [
        build_model("logreg", 30, 2),
        build_model("mlp", 64, 10),
        bench_mlp(),
        nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.Linear(4, 3).to(torch.float64)),
    ]


@pytest.mark.parametrize("model", _models())
def test_round_trip_preserves_layout_and_values(model: nn.Module) -> None:
    state = model.state_dict()
    layout = Layout.of(state)
    vector = to_vector(state, layout)
    assert vector.dtype == np.float64 and vector.shape == (layout.size,)
    back = from_vector(vector, layout)
    assert list(back) == list(state)
    for name, tensor in state.items():
        assert back[name].dtype == tensor.dtype
        assert back[name].shape == tensor.shape
        assert torch.equal(back[name], tensor)
    model.load_state_dict(back)


def test_integer_buffers_survive_averaging() -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    model.state_dict()["1.num_batches_tracked"].fill_(7)
    layout = Layout.of(model.state_dict())
    back = from_vector(to_vector(model.state_dict(), layout) + 0.2, layout)
    assert back["1.num_batches_tracked"].dtype == torch.int64
    assert int(back["1.num_batches_tracked"]) == 7


def test_vector_length_and_keys_checked() -> None:
    state = build_model("logreg", 4, 2).state_dict()
    layout = Layout.of(state)
    with pytest.raises(LayoutError):
        from_vector(np.zeros(layout.size + 1), layout)
    with pytest.raises(LayoutError):
        from_vector(np.zeros((1, layout.size)), layout)
    with pytest.raises(LayoutError):
        to_vector({"other": torch.zeros(2)}, layout)


def test_aggregate_state_dicts_keeps_layout_and_weights() -> None:
    from protocols.aggregators.base import PlainAggregator
    from protocols.step import aggregate_state_dicts

    states = {c: build_model("mlp", 6, 3, seed=c).state_dict() for c in (1, 2, 3)}
    weights = {1: 10.0, 2: 30.0, 3: 60.0}
    mean, outcome = aggregate_state_dicts(PlainAggregator(), states, weights)
    assert outcome.included == (1, 2, 3)
    for name, tensor in states[1].items():
        expected = sum(weights[c] * states[c][name].double() for c in states) / 100
        assert mean[name].dtype == tensor.dtype and mean[name].shape == tensor.shape
        torch.testing.assert_close(mean[name].double(), expected, rtol=1e-6, atol=1e-7)


_DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32]


@settings(max_examples=40, deadline=None)
@given(
    entries=st.lists(
        st.tuples(st.lists(st.integers(0, 4), min_size=0, max_size=3), st.sampled_from(_DTYPES)),
        min_size=0,
        max_size=6,
    ),
    seed=st.integers(0, 2**31 - 1),
)
def test_round_trip_any_layout(entries: list, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for i, (shape, dtype) in enumerate(entries):
        values = torch.randn(shape, generator=generator, dtype=torch.float64) * 100
        state[f"t{i}"] = values.to(dtype)
    layout = Layout.of(state)
    vector = to_vector(state, layout)
    assert vector.shape == (sum(t.numel() for t in state.values()),)
    back = from_vector(vector, layout)
    assert list(back) == list(state)
    for name, tensor in state.items():
        assert back[name].dtype == tensor.dtype and back[name].shape == tensor.shape
        assert torch.equal(back[name], tensor)
