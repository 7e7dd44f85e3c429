"""Contract every scheme satisfies (run for CKKS and packed Paillier alike)."""

from __future__ import annotations

import numpy as np
import pytest
from he_cases import SchemeCase
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import he
from fedsecure.wire import DIGEST_BYTES, seal_body

_SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _length(slots: int, choice: int) -> int:
    """Lengths that exercise chunk edges: 0, 1, one short of, exactly and one past k slots."""
    return [0, 1, slots - 1, slots, slots + 1, 3 * slots, 3 * slots + 1][choice]


def _values(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    values = rng.uniform(-1.0, 1.0, size=(n, length))
    if length:  # always include the clip bounds and zero
        values[:, 0] = -1.0
        values[:, -1] = 1.0
        values[0, length // 2] = 0.0
    return values


@_SETTINGS
@given(
    choice=st.integers(0, 6),
    n=st.integers(1, 100),
    seed=st.integers(0, 2**32 - 1),
)
def test_weighted_sum_within_bound(scheme: SchemeCase, choice: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    length = _length(scheme.slots, choice)
    values = _values(rng, n, length)
    counts = [int(c) for c in rng.integers(1, 10, size=n)]
    weights = scheme.weights_from_counts(counts)
    cts = [scheme.public.encrypt(v, weight=w) for v, w in zip(values, weights, strict=True)]
    server = type(scheme.public)(scheme.public.serialize())
    received = [server.load_ciphertext(ct.serialize()) for ct in cts]
    aggregate = server.aggregate(received, weights)
    result = scheme.holder.decrypt(scheme.public.load_ciphertext(aggregate.serialize()))
    expected = (np.asarray(weights)[:, None] * values).sum(axis=0)
    assert result.shape == (length,)
    assert result.dtype == np.float64
    assert aggregate.weight == pytest.approx(sum(weights))
    if length:
        assert np.max(np.abs(result - expected)) <= scheme.bound(sum(weights))


def test_plain_sum_of_two(scheme: SchemeCase, rng: np.random.Generator) -> None:
    values = rng.uniform(-0.5, 0.5, size=(2, scheme.slots + 3))
    aggregate = scheme.public.aggregate([scheme.public.encrypt(v) for v in values])
    assert aggregate.weight == 2
    np.testing.assert_allclose(scheme.holder.decrypt(aggregate), values.sum(axis=0), atol=scheme.bound(2))


def test_float32_round_trips_as_float32(scheme: SchemeCase) -> None:
    vector = np.linspace(-1, 1, 17, dtype=np.float32)
    result = scheme.holder.decrypt(scheme.public.encrypt(vector))
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, vector, atol=scheme.bound(1) + 1e-7)


def test_inputs_are_clipped(scheme: SchemeCase) -> None:
    result = scheme.holder.decrypt(scheme.public.encrypt(np.array([-7.0, 0.25, 3.0])))
    np.testing.assert_allclose(result, [-1.0, 0.25, 1.0], atol=scheme.bound(1))


def test_satisfies_interface(scheme: SchemeCase) -> None:
    ct = scheme.public.encrypt(np.zeros(3))
    assert isinstance(scheme.holder, he.KeyHolder)
    assert isinstance(scheme.public, he.PublicScheme)
    assert isinstance(ct, he.Ciphertext)
    assert ct.nbytes == len(ct.serialize())


def test_public_side_has_no_decrypt(scheme: SchemeCase) -> None:
    public = type(scheme.public)(scheme.public.serialize())
    assert not hasattr(public, "decrypt")
    assert not any("private" in name or "secret" in name for name in vars(public))


def test_ciphertext_from_another_key_is_rejected(scheme: SchemeCase) -> None:
    other = (he.CKKSScheme.generate() if scheme.name == "ckks" else he.PaillierScheme.generate(key_bits=2048)).public()
    foreign = other.encrypt(np.ones(4)).serialize()
    with pytest.raises(he.ContextMismatchError):
        scheme.public.load_ciphertext(foreign)
    with pytest.raises(he.ContextMismatchError):
        scheme.public.aggregate([other.encrypt(np.ones(4))])
    with pytest.raises(he.ContextMismatchError):
        scheme.holder.decrypt(other.encrypt(np.ones(4)))


@pytest.mark.parametrize("cut", [0, 1, 7, 20, 40, -1])
def test_truncated_ciphertext_is_rejected(scheme: SchemeCase, cut: int) -> None:
    data = scheme.public.encrypt(np.full(5, 0.5)).serialize()
    with pytest.raises(he.MalformedCiphertextError):
        scheme.public.load_ciphertext(data[:cut])


def test_trailing_bytes_and_garbage_are_rejected(scheme: SchemeCase) -> None:
    data = scheme.public.encrypt(np.full(5, 0.5)).serialize()
    with pytest.raises(he.MalformedCiphertextError):
        scheme.public.load_ciphertext(data + b"\x00")
    with pytest.raises(he.MalformedCiphertextError):
        scheme.public.load_ciphertext(bytes(range(256)) * 4)
    with pytest.raises(he.MalformedCiphertextError):
        scheme.public.load_ciphertext("not bytes")  # type: ignore[arg-type]


def test_declared_length_must_match_chunks(scheme: SchemeCase) -> None:
    data = bytearray(scheme.public.encrypt(np.full(5, 0.5)).serialize())
    length_at = 8 + 16 + 1  # magic, key id, dtype
    data[length_at : length_at + 8] = (5 + scheme.slots).to_bytes(8, "little")
    with pytest.raises(he.MalformedCiphertextError):
        scheme.public.load_ciphertext(bytes(data))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(0, 10_000), flip=st.integers(1, 255))
def test_mutated_bytes_never_crash(scheme: SchemeCase, position: int, flip: int) -> None:
    data = bytearray(scheme.public.encrypt(np.full(3, 0.5)).serialize())
    data[position % len(data)] ^= flip
    try:
        scheme.public.load_ciphertext(bytes(data))
    except he.HEError:
        pass  # rejected with a typed error; accepting is fine if the bytes still parse


def test_mismatched_weights_are_rejected(scheme: SchemeCase) -> None:
    weights = scheme.weights_from_counts([1, 3])
    cts = [scheme.public.encrypt(np.ones(2), weight=w) for w in weights]
    with pytest.raises(he.ParameterError):
        scheme.public.aggregate(cts, list(reversed(weights)))
    with pytest.raises(he.ParameterError):
        scheme.public.aggregate(cts, weights[:1])
    with pytest.raises(he.ParameterError):
        scheme.public.aggregate(cts, [-1, 1])
    with pytest.raises(he.ParameterError):
        scheme.public.aggregate([])


@pytest.mark.parametrize("bad", [np.zeros((2, 2)), np.array([np.nan]), np.array([np.inf]), np.array(["a"])])
def test_bad_vectors_are_rejected(scheme: SchemeCase, bad: np.ndarray) -> None:
    with pytest.raises(he.ParameterError):
        scheme.public.encrypt(bad)


def test_garbage_public_bytes_are_rejected(scheme: SchemeCase) -> None:
    data = scheme.public.serialize()
    for bad in (b"", data[:10], data[:-1], data + b"x", bytes(64)):
        with pytest.raises(he.MalformedKeyError):
            type(scheme.public)(bad)


def test_unweighted_ciphertext_must_declare_unit_weight(scheme: SchemeCase) -> None:
    data = bytearray(scheme.public.encrypt(np.full(2, 0.5)).serialize()[:-DIGEST_BYTES])
    weight_at = 5 + 16 + 1 + 8  # frame header, key id, dtype, length
    forged = 5.0 if scheme.name == "ckks" else 5
    data[weight_at : weight_at + 8] = (
        np.float64(forged).tobytes() if scheme.name == "ckks" else forged.to_bytes(8, "little")
    )
    with pytest.raises(he.MalformedCiphertextError, match="weight"):
        scheme.public.load_ciphertext(seal_body(bytes(data)))
