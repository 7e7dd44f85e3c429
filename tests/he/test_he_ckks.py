"""CKKS-specific tests: key separation, presets, weighting rules, validation."""

from __future__ import annotations

import numpy as np
import pytest
import tenseal as ts

import he
from fedsecure.wire import DIGEST_BYTES, seal_body
from he.ckks_presets import PRESETS, CKKSPreset, get_preset


def test_server_copy_holds_no_secret_and_cannot_decrypt(ckks_holder: he.CKKSKeyHolder) -> None:
    server = he.CKKSScheme.load_public(ckks_holder.public().serialize())
    assert not server.context.is_private()
    assert not server.context.has_secret_key()
    assert not server.context.has_relin_keys() and not server.context.has_galois_keys()
    ct = server.encrypt(np.array([0.5, -0.25]))
    with pytest.raises(ValueError, match="secret"):
        ct.chunks[0].decrypt()
    np.testing.assert_allclose(ckks_holder.decrypt(ct), [0.5, -0.25], atol=1e-6)


def test_public_bytes_carry_no_secret_key(ckks_holder: he.CKKSKeyHolder) -> None:
    public_bytes = ckks_holder.public().serialize()
    embedded = ts.context_from(public_bytes[_context_offset(public_bytes) : -DIGEST_BYTES])
    assert not embedded.is_private() and not embedded.has_secret_key()
    private_bytes = ckks_holder._context.serialize(save_secret_key=True, save_galois_keys=False, save_relin_keys=False)
    assert ts.context_from(private_bytes).is_private()
    assert len(public_bytes) < len(private_bytes)


def test_public_side_refuses_a_context_with_a_secret_key(ckks_holder: he.CKKSKeyHolder) -> None:
    public_bytes = ckks_holder.public().serialize()
    private_ctx = ckks_holder._context.serialize(
        save_public_key=True, save_secret_key=True, save_galois_keys=False, save_relin_keys=False
    )
    offset = _context_offset(public_bytes)
    assert int.from_bytes(public_bytes[offset - 4 : offset], "little") == len(public_bytes) - offset - DIGEST_BYTES
    forged = seal_body(public_bytes[: offset - 4] + len(private_ctx).to_bytes(4, "little") + private_ctx)
    with pytest.raises(he.MalformedKeyError, match="secret"):
        he.CKKSScheme.load_public(forged)


def _context_offset(public_bytes: bytes) -> int:
    """Offset of the TenSEAL context blob: frame header, N, prime count, primes, scale, clip, length."""
    primes = public_bytes[9]
    return 5 + 4 + 1 + primes + 1 + 8 + 4


def test_server_side_weighting_is_refused_with_guidance(ckks_holder: he.CKKSKeyHolder) -> None:
    public = ckks_holder.public()
    cts = [public.encrypt(np.ones(3)), public.encrypt(np.ones(3))]
    with pytest.raises(he.ParameterError, match="encrypt\\(vector, weight=w\\)"):
        public.aggregate(cts, [0.5, 0.5])


def test_aggregate_bound_overflow_is_detected(ckks_holder: he.CKKSKeyHolder) -> None:
    public = ckks_holder.public()
    max_terms = int(public.preset.max_abs / public.clip)
    cts = [public.encrypt(np.ones(2)) for _ in range(max_terms + 1)]
    public.aggregate(cts[:max_terms])  # within the bound
    with pytest.raises(he.PackingOverflowError):
        public.aggregate(cts)
    with pytest.raises(he.PackingOverflowError):
        public.encrypt(np.ones(2), weight=public.preset.max_abs * 2)


def test_values_at_the_preset_bound_decode(ckks_holder: he.CKKSKeyHolder) -> None:
    public = ckks_holder.public()
    terms = int(public.preset.max_abs / public.clip)
    cts = [public.encrypt(np.array([1.0, -1.0, 0.0])) for _ in range(terms)]
    np.testing.assert_allclose(ckks_holder.decrypt(public.aggregate(cts)), [terms, -terms, 0.0], atol=1e-5)


@pytest.mark.parametrize("name", ["compact", "standard", "wide"])
def test_aggregation_presets_round_trip_and_are_small(name: str) -> None:
    holder = he.CKKSScheme.generate(preset=name)
    public = holder.public()
    values = np.random.default_rng(3).uniform(-1, 1, public.preset.slots)
    ct = public.encrypt(values)
    assert ct.nbytes / values.size < 25.0
    np.testing.assert_allclose(holder.decrypt(ct), values, atol=10 * PRESETS[name].error_1000_clients)


def test_presets_respect_the_security_standard() -> None:
    for preset in PRESETS.values():
        assert preset.poly_modulus_degree >= 2048
    with pytest.raises(he.ParameterError, match="128-bit"):
        CKKSPreset("too-big", 2048, (40, 20), 30, 0.0)
    with pytest.raises(he.ParameterError, match="two primes"):
        CKKSPreset("one-prime", 2048, (40,), 30, 0.0)
    with pytest.raises(he.ParameterError):
        get_preset("nope")
    with pytest.raises(he.ParameterError):
        he.CKKSScheme.generate(clip=100.0)


def test_chunk_from_other_parameters_is_rejected(ckks_holder: he.CKKSKeyHolder) -> None:
    public = ckks_holder.public()
    ct = public.encrypt(np.ones(4))
    good = ct.serialize()[:-DIGEST_BYTES]
    other = ts.context(ts.SCHEME_TYPE.CKKS, poly_modulus_degree=4096, coeff_mod_bit_sizes=[40, 20])
    other.global_scale = 2.0**30
    foreign_chunk = ts.ckks_vector(other, [1.0, 1.0, 1.0, 1.0]).serialize()
    header_end = len(good) - len(ct.chunks[0].serialize()) - 4
    forged = seal_body(good[:header_end] + len(foreign_chunk).to_bytes(4, "little") + foreign_chunk)
    with pytest.raises((he.MalformedCiphertextError, he.ContextMismatchError)):
        public.load_ciphertext(forged)


@pytest.mark.parametrize("name", ["compact", "standard", "wide"])
def test_weighted_mean_of_1000_clients_within_documented_bound(name: str) -> None:
    holder = he.CKKSScheme.generate(preset=name)
    public = holder.public()
    rng = np.random.default_rng(1000)
    values = rng.uniform(-1, 1, size=(1000, public.preset.slots))
    values[:, :2] = [1.0, -1.0]  # every client at both clip bounds
    counts = rng.integers(50, 500, size=1000)
    weights = counts / counts.sum()
    aggregate = public.aggregate([public.encrypt(v, weight=float(w)) for v, w in zip(values, weights, strict=True)])
    error = np.max(np.abs(holder.decrypt(aggregate) - weights @ values))
    assert error <= PRESETS[name].error_1000_clients
    assert aggregate.weight == pytest.approx(1.0)


def test_the_unweighted_sum_of_five_vectors_fits_when_its_bound_is_declared() -> None:
    """NVIDIA FLARE-style aggregation: encrypt, sum, divide later. The default preset refuses a sum
    that can reach 5; declaring ``max_abs=5`` sizes the parameters for it."""
    values = np.random.default_rng(3).uniform(-1, 1, size=(5, 300))
    default = he.CKKSScheme.generate().public()
    with pytest.raises(he.PackingOverflowError):
        default.aggregate([default.encrypt(v) for v in values])
    holder = he.CKKSScheme.generate(max_abs=5)
    public = he.CKKSScheme.load_public(holder.public().serialize())
    assert public.preset.max_abs >= 5
    total = holder.decrypt(public.aggregate([public.encrypt(v) for v in values]))
    np.testing.assert_allclose(total, values.sum(axis=0), atol=1e-4)


@pytest.mark.parametrize("bound", [3.0, 100.0, 5000.0, 2.0**18])
def test_a_declared_bound_sizes_the_scale_and_states_the_error(bound: float) -> None:
    preset = he.ckks_presets.preset_for_bound(bound)
    assert preset.max_abs >= bound > preset.max_abs / 2 or preset.name in ("standard", "wide")
    assert sum(preset.coeff_mod_bit_sizes) <= 54 and preset.poly_modulus_degree == 2048  # 128-bit security
    holder = he.CKKSScheme.generate(max_abs=bound, clip=bound / 4)
    public = holder.public()
    assert public.preset == preset  # what the key states is what was sized
    values = np.full((4, 64), bound / 4 * 0.999)  # four clients at the clip: the sum at the bound's edge
    total = holder.decrypt(public.aggregate([public.encrypt(v) for v in values]))
    np.testing.assert_allclose(total, values.sum(axis=0), atol=50 * preset.error_1000_clients)


def test_bounds_beyond_any_preset_and_ambiguous_arguments_are_refused() -> None:
    for bad in (0.0, -1.0, float("nan"), 2.0**19):
        with pytest.raises(he.ParameterError):
            he.ckks_presets.preset_for_bound(bad)
    with pytest.raises(he.ParameterError, match="not both"):
        he.CKKSScheme.generate("wide", max_abs=5)
