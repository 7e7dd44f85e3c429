"""Bit-packing: exact round trip at every ring width, and the advertised size."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from secagg.packing import pack_words, packed_size, unpack_words, word_dtype


@given(bits=st.integers(1, 64), data=st.data())
def test_round_trip(bits: int, data: st.DataObject) -> None:
    count = data.draw(st.integers(0, 50))
    values = data.draw(st.lists(st.integers(0, (1 << bits) - 1), min_size=count, max_size=count))
    words = np.array(values, dtype=np.uint64).astype(word_dtype(bits))
    packed = pack_words(words, bits)
    assert len(packed) == packed_size(count, bits) == (count * bits + 7) // 8
    np.testing.assert_array_equal(unpack_words(packed, bits, count), words)


def test_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError):
        unpack_words(b"\x00" * 3, 20, 2)
