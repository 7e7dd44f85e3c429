"""Our byte formats against their frozen known answers (``wire_vectors.json``).

Deployed peers run other commits: every frame, label, derived key and mask they exchange with us
must stay byte-for-byte what it was. Each vector is rebuilt by the builder in ``make_wire_vectors``
that froze it (one piece of code for both) and compared with the frozen hex; the frozen bytes of
each frame are also parsed back and must give the original object, which writes them out again.
A failing case names the format; regenerate the file only for an intended change, with a version bump.
"""

from __future__ import annotations

import json

import pytest

from fedsecure import wire

from make_wire_vectors import FRAMES, VECTORS, VECTORS_FILE

FROZEN = json.loads(VECTORS_FILE.read_text())
FROZEN_VECTORS: dict[str, str] = FROZEN["vectors"]


def frozen_bytes(name: str) -> bytes:
    assert name in FROZEN_VECTORS, f"{name} has a builder but no frozen value in {VECTORS_FILE.name}"
    return bytes.fromhex(FROZEN_VECTORS[name])


def test_format_version_is_the_frozen_one() -> None:
    assert wire.VERSION == FROZEN["format_version"]


def test_every_vector_is_frozen_and_built() -> None:
    assert sorted(VECTORS) == sorted(FROZEN_VECTORS)


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_bytes_equal_frozen(name: str) -> None:
    expected = frozen_bytes(name)
    built = VECTORS[name]().data
    assert built.hex() == expected.hex(), f"{name}: the bytes differ from the frozen vector"


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_frozen_bytes_parse_back(name: str) -> None:
    data = frozen_bytes(name)
    vector = FRAMES[name]()
    assert vector.parse is not None
    parsed = vector.parse(data)
    assert vector.equal(parsed, vector.original), f"{name}: the frozen bytes parse to {parsed!r}"
    if vector.serialize is not None:
        assert vector.serialize(parsed) == data, f"{name}: the parsed object writes other bytes"
