"""Quantization and packing (BatchCrypt-style) invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import he
from he.packing import MAX_BITS, MIN_BITS, PackingLayout

_KEY_BITS = 2047


@settings(max_examples=60, deadline=None)
@given(
    bits=st.integers(MIN_BITS, MAX_BITS),
    weight_bits=st.integers(0, 12),
    length=st.integers(0, 400),
    seed=st.integers(0, 2**32 - 1),
)
def test_pack_round_trips_at_every_bit_width(bits: int, weight_bits: int, length: int, seed: int) -> None:
    layout = PackingLayout(bits, 1.0, 1 << weight_bits, _KEY_BITS)
    rng = np.random.default_rng(seed)
    quantized = rng.integers(0, layout.levels + 1, size=length, dtype=np.uint64)
    packed = layout.pack(quantized)
    assert len(packed) == layout.chunks_for(length)
    assert all(0 <= p < 1 << _KEY_BITS for p in packed)
    np.testing.assert_array_equal(layout.unpack(packed, length), quantized)


@settings(max_examples=40, deadline=None)
@given(bits=st.integers(MIN_BITS, MAX_BITS), seed=st.integers(0, 2**32 - 1))
def test_quantization_error_is_half_a_step(bits: int, seed: int) -> None:
    layout = PackingLayout(bits, 2.5, 1, _KEY_BITS)
    values = np.random.default_rng(seed).uniform(-2.5, 2.5, 300)
    values[:3] = [-2.5, 0.0, 2.5]
    decoded = layout.dequantize(layout.quantize(values), 1)
    assert np.max(np.abs(decoded - values)) <= layout.step / 2 + 1e-12


@settings(max_examples=40, deadline=None)
@given(
    bits=st.integers(MIN_BITS, 20),
    weights=st.lists(st.integers(0, 9), min_size=1, max_size=12),
    seed=st.integers(0, 2**32 - 1),
)
def test_integer_sum_of_packings_is_packing_of_weighted_sum(bits: int, weights: list[int], seed: int) -> None:
    """What Paillier computes on plaintexts: sum_i w_i * pack(q_i) == pack(sum_i w_i q_i)."""
    layout = PackingLayout(bits, 1.0, 9 * 12, _KEY_BITS)
    rng = np.random.default_rng(seed)
    values = rng.uniform(-1, 1, size=(len(weights), 250))
    packed = [layout.pack(layout.quantize(v)) for v in values]
    summed = [sum(w * p[j] for w, p in zip(weights, packed, strict=True)) for j in range(len(packed[0]))]
    decoded = layout.dequantize(layout.unpack(summed, 250), sum(weights))
    expected = (np.asarray(weights)[:, None] * values).sum(axis=0)
    assert np.max(np.abs(decoded - expected)) <= layout.error_bound(sum(weights)) + 1e-9


def test_headroom_overflow_is_detected() -> None:
    layout = PackingLayout(8, 1.0, 10, _KEY_BITS)
    layout.check_headroom(10)
    with pytest.raises(he.PackingOverflowError):
        layout.check_headroom(11)
    with pytest.raises(he.PackingOverflowError):
        layout.quantize(np.zeros(3), weight=11)
    # A plaintext whose slots overflowed is wider than the packing: refused on unpack.
    too_wide = [1 << (layout.per_plaintext * layout.slot_bits)]
    with pytest.raises(he.PackingOverflowError):
        layout.unpack(too_wide, 1)


def test_slots_hold_exactly_the_headroom() -> None:
    layout = PackingLayout(16, 1.0, 10, _KEY_BITS)
    assert layout.slot_bits == 20  # 10 * 65535 < 2^20
    assert layout.per_plaintext == 102  # the BatchCrypt-style figure at 2048-bit keys
    full = np.full(layout.per_plaintext, layout.levels * 10, dtype=np.uint64)
    np.testing.assert_array_equal(layout.unpack(layout.pack(full), full.size), full)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(bits=1, clip=1.0, max_total_weight=1, plaintext_bits=_KEY_BITS),
        dict(bits=33, clip=1.0, max_total_weight=1, plaintext_bits=_KEY_BITS),
        dict(bits=16, clip=0.0, max_total_weight=1, plaintext_bits=_KEY_BITS),
        dict(bits=16, clip=float("inf"), max_total_weight=1, plaintext_bits=_KEY_BITS),
        dict(bits=16, clip=1.0, max_total_weight=0, plaintext_bits=_KEY_BITS),
        dict(bits=32, clip=1.0, max_total_weight=2**31, plaintext_bits=_KEY_BITS),
        dict(bits=16, clip=1.0, max_total_weight=10, plaintext_bits=8),
    ],
)
def test_impossible_layouts_raise_parameter_error(kwargs: dict) -> None:
    with pytest.raises(he.ParameterError):
        PackingLayout(**kwargs)
