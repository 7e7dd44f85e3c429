"""Fixed-point codec: round trips within the stated bound, never wraps, refuses what cannot fit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from secagg import EncodingError, FixedPointCodec

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(
    bits=st.integers(8, 64),
    clients=st.integers(1, 64),
    clip=st.floats(0.01, 100.0),
    data=st.data(),
)
def test_sum_of_encodings_decodes_within_bound(bits: int, clients: int, clip: float, data: st.DataObject) -> None:
    try:
        codec = FixedPointCodec(clip=clip, max_clients=clients, modulus_bits=bits)
    except EncodingError:
        return  # too narrow a ring: refused, which another test checks
    length = data.draw(st.integers(0, 20))
    vectors = [data.draw(arrays(np.float64, length, elements=finite)) for _ in range(clients)]
    total = np.zeros(length, dtype=np.uint64)
    for v in vectors:
        total = (total + codec.encode(v)) & np.uint64((1 << bits) - 1) if bits < 64 else total + codec.encode(v)
    expected = sum((np.clip(v, -clip, clip) for v in vectors), np.zeros(length))
    np.testing.assert_array_less(
        np.abs(codec.decode_sum(total) - expected), codec.max_sum_error(clients) * (1 + 1e-9) + 1e-9
    )


@given(bits=st.integers(2, 64), clients=st.integers(1, 10_000), clip=st.floats(1e-3, 1e3))
def test_headroom_rule(bits: int, clients: int, clip: float) -> None:
    """Either the codec is refused, or even all clients at +-clip stay inside the signed range."""
    try:
        codec = FixedPointCodec(clip=clip, max_clients=clients, modulus_bits=bits)
    except EncodingError:
        assert clients > (1 << (bits - 1)) - 1  # refused only when not even one unit per client fits
        return
    assert codec.scale is not None
    peak = int(np.rint(np.float64(clip) * codec.scale))
    assert peak >= 1 and clients * peak <= (1 << (bits - 1)) - 1
    assert clients * int(np.rint(np.float64(clip) * codec.scale * 2)) > (1 << (bits - 1)) - 1  # finest power of two


def test_clipping_and_signs() -> None:
    codec = FixedPointCodec(clip=1.0, max_clients=4, modulus_bits=16)
    encoded = codec.encode(np.array([-5.0, -1.0, 0.0, 0.5, 1.0, 7.0]))
    assert encoded.dtype == np.uint64 and int(encoded.max()) < 2**16
    decoded = codec.decode_sum(encoded)
    np.testing.assert_allclose(decoded, [-1, -1, 0, 0.5, 1, 1], atol=codec.max_error_per_client)


def test_explicit_scale_that_wraps_is_refused() -> None:
    with pytest.raises(EncodingError, match="too fine"):
        FixedPointCodec(clip=8.0, max_clients=2048, modulus_bits=32, scale=2.0**22)


def test_flower_default_encoding_would_wrap_at_2048_clients() -> None:
    """Flower's clip 8 and 2^22 levels wrap a 32-bit ring near 2048 clients; ours refuses or rescales."""
    assert FixedPointCodec(clip=8.0, max_clients=2048, modulus_bits=32).scale < 2.0**17


@pytest.mark.parametrize(
    "kwargs",
    [
        {"clip": 0.0, "max_clients": 1},
        {"clip": float("nan"), "max_clients": 1},
        {"clip": 1.0, "max_clients": 0},
        {"clip": 1.0, "max_clients": 1, "modulus_bits": 1},
        {"clip": 1.0, "max_clients": 1, "modulus_bits": 65},
        {"clip": 1.0, "max_clients": 1000, "modulus_bits": 8},
    ],
)
def test_bad_parameters(kwargs: dict) -> None:
    with pytest.raises(EncodingError):
        FixedPointCodec(**kwargs)


def test_bad_inputs() -> None:
    codec = FixedPointCodec(clip=1.0, max_clients=3)
    with pytest.raises(EncodingError, match="NaN"):
        codec.encode(np.array([0.0, np.nan]))
    with pytest.raises(EncodingError, match="1-D"):
        codec.encode(np.zeros((2, 2)))
    with pytest.raises(EncodingError, match="outside"):
        codec.decode_sum(np.array([2**32], dtype=np.uint64))
