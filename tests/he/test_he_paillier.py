"""Packed-Paillier-specific tests: server weighting, headroom, keys, range checks."""

from __future__ import annotations

import numpy as np
import pytest

import he
from fedsecure.wire import DIGEST_BYTES, Kind, Writer, seal_body
from he.fast_paillier import FixedBaseRandomizer, make_fixed_base


def test_standard_path_weighted_by_server(paillier_standard_holder: he.PaillierKeyHolder) -> None:
    public = paillier_standard_holder.public()
    assert not public.fast
    values = np.random.default_rng(1).uniform(-1, 1, size=(3, 100))
    weights = [2, 0, 7]
    aggregate = public.aggregate([public.encrypt(v) for v in values], weights)
    assert aggregate.weight == 9
    expected = (np.asarray(weights)[:, None] * values).sum(axis=0)
    result = paillier_standard_holder.decrypt(aggregate)
    assert np.max(np.abs(result - expected)) <= public.layout.error_bound(9) + 1e-9


def test_fast_and_standard_ciphertexts_aggregate_together(paillier_holder: he.PaillierKeyHolder) -> None:
    public = paillier_holder.public()
    assert public.fast
    first = public.encrypt(np.full(10, 0.5))
    assert public.encrypt(np.full(10, 0.5)).values != first.values  # randomized
    result = paillier_holder.decrypt(public.aggregate([first, public.encrypt(np.full(10, -0.25))], [3, 4]))
    np.testing.assert_allclose(result, np.full(10, 0.5), atol=public.layout.error_bound(7))


def test_float_weights_are_refused(paillier_holder: he.PaillierKeyHolder) -> None:
    public = paillier_holder.public()
    with pytest.raises(he.ParameterError, match="integer"):
        public.aggregate([public.encrypt(np.ones(2))], [0.5])
    with pytest.raises(he.ParameterError, match="integer"):
        public.encrypt(np.ones(2), weight=1.5)


def test_headroom_overflow_raises_instead_of_wrapping(paillier_holder: he.PaillierKeyHolder) -> None:
    public = paillier_holder.public()
    limit = public.layout.max_total_weight
    ct = public.encrypt(np.ones(4))
    assert paillier_holder.decrypt(public.aggregate([ct], [limit]))[0] == pytest.approx(limit)
    with pytest.raises(he.PackingOverflowError):
        public.aggregate([ct], [limit + 1])
    heavy = public.encrypt(np.ones(4), weight=limit)
    with pytest.raises(he.PackingOverflowError):
        public.aggregate([heavy, ct])
    with pytest.raises(he.PackingOverflowError):
        public.encrypt(np.ones(4), weight=limit + 1)


def _forge(public: he.PaillierPublic, value: int) -> bytes:
    body = public.encrypt(np.ones(3)).serialize()[:-DIGEST_BYTES]
    width = (public.key.nsquare.bit_length() + 7) // 8
    return seal_body(body[:-width] + value.to_bytes(width, "big"))


def test_values_outside_range_or_not_invertible_are_rejected(paillier_holder: he.PaillierKeyHolder) -> None:
    public = paillier_holder.public()
    n = public.key.n
    for bad in (0, n * n, n * n + 5, n, 3 * n, paillier_holder._private_key.p):
        with pytest.raises(he.MalformedCiphertextError):
            public.load_ciphertext(_forge(public, bad))
    assert public.load_ciphertext(_forge(public, 1)).values[-1] == 1


def test_public_serialization_holds_no_secret(paillier_holder: he.PaillierKeyHolder) -> None:
    private = paillier_holder._private_key
    data = paillier_holder.public().serialize()
    for secret in (private.p, private.q, private.hp, private.hq, private.p_inverse):
        secret = int(secret)
        for encoding in (secret.to_bytes((secret.bit_length() + 7) // 8, "big"), str(secret).encode()):
            assert encoding not in data
    n = paillier_holder.public().key.n
    assert n.to_bytes(256, "big") in data  # the modulus itself is public


def test_default_generation_is_secure() -> None:
    holder = he.PaillierScheme.generate()
    public = holder.public()
    assert public.key.n.bit_length() == 3072
    assert not public.fast
    np.testing.assert_allclose(holder.decrypt(public.encrypt(np.array([0.5, -1.0]))), [0.5, -1.0], atol=1e-4)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(key_bits=1024),
        dict(key_bits=2047),
        dict(bits=40),
        dict(bits=32, max_total_weight=2**31),
        dict(max_total_weight=0),
        dict(clip=float("nan")),
        dict(clip=-1.0),
    ],
)
def test_generate_rejects_parameters_that_cannot_fit(kwargs: dict) -> None:
    with pytest.raises(he.ParameterError):
        he.PaillierScheme.generate(**kwargs)


def _public_bytes(n: int, bits: int = 16, fast: int = 0, h_s: int = 0) -> bytes:
    """Public-key bytes in the documented layout, to forge individual fields."""
    out = Writer(Kind.PAILLIER_PUBLIC)
    out.blob(n.to_bytes((n.bit_length() + 7) // 8, "big"))
    out.u8(bits)
    out.f64(1.0)
    out.u64(1000)
    out.u8(fast)
    if fast == 1:
        out.blob(h_s.to_bytes((h_s.bit_length() + 7) // 8, "big"))
    return out.finish()


def test_public_key_fields_are_validated(paillier_holder: he.PaillierKeyHolder) -> None:
    n = paillier_holder.public().key.n
    he.PaillierScheme.load_public(_public_bytes(n))  # the well-formed baseline loads
    for bad in (
        _public_bytes(n + 1),  # even modulus
        _public_bytes(n >> 1024 | 1),  # too short
        _public_bytes(n, bits=40),  # impossible packing
        _public_bytes(n, fast=2),  # unknown flag
        _public_bytes(n, fast=1, h_s=n),  # fixed base not coprime to n
        _public_bytes(n, fast=1, h_s=n * n + 1),  # fixed base out of range
    ):
        with pytest.raises(he.MalformedKeyError):
            he.PaillierScheme.load_public(bad)


def test_fixed_base_randomness_is_an_nth_residue(paillier_holder: he.PaillierKeyHolder) -> None:
    n = paillier_holder.public().key.n
    randomizer = FixedBaseRandomizer(n, make_fixed_base(n))
    assert randomizer.exponent_bits == 1024
    samples = {int(randomizer.sample()) for _ in range(5)}
    assert len(samples) == 5
    for sample in samples:  # encrypts 0: decrypts to 0 under the real key
        assert paillier_holder._private_key.raw_decrypt(sample) == 0
    with pytest.raises(he.MalformedKeyError):
        FixedBaseRandomizer(n, n)


def test_encrypt_int_rejects_plaintexts_outside_the_packing(paillier_holder: he.PaillierKeyHolder) -> None:
    public = paillier_holder.public()
    top = (1 << public.layout.plaintext_bits) - 1
    assert paillier_holder._private_key.raw_decrypt(int(public.encrypt_int(top))) == top
    for bad in (-1, top + 1, public.key.n):
        with pytest.raises(he.ParameterError):
            public.encrypt_int(bad)
