"""Threshold packed Paillier: any t of k holders decrypt, fewer cannot, and a wrong share names its holder.

Keys here are 1024-bit (accepted with a WeakKeyWarning, for speed), dealt once per module.
"""

from __future__ import annotations

import dataclasses
import warnings

import gmpy2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import he
from fedsecure.wire import DIGEST_BYTES, Kind, Writer, kind_of, seal_body
from he.packing import PackingLayout
from he.paillier import residue_bytes, write_key_fields
from he.threshold_paillier import MAX_HOLDERS
from he.threshold_proofs import prove

HOLDERS, THRESHOLD = 5, 3
PARAMS = dict(key_bits=1024, bits=16, clip=1.0, max_total_weight=1000)
HOLDER_AT = 5 + 16 + 32  # frame header, key id, ciphertext digest
VALUES_AT = HOLDER_AT + 4 + 4  # holder index, value count
_SETTINGS = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

Aggregate = tuple[he.PaillierCiphertext, np.ndarray]


@pytest.fixture(scope="module")
def dealing() -> he.ThresholdDealing:
    with pytest.warns(he.WeakKeyWarning):
        return he.ThresholdPaillierScheme.generate(holders=HOLDERS, threshold=THRESHOLD, **PARAMS)


@pytest.fixture(scope="module")
def other() -> he.ThresholdDealing:
    """A second key, on the fast (DJN fixed-base) encryption path, for cross-key checks."""
    with pytest.warns(he.WeakKeyWarning):
        return he.ThresholdPaillierScheme.generate(holders=HOLDERS, threshold=THRESHOLD, fast_encryption=True, **PARAMS)


@pytest.fixture(scope="module")
def public(dealing: he.ThresholdDealing) -> he.ThresholdPaillierPublic:
    """The server's copy, parsed from the bytes it receives."""
    return he.ThresholdPaillierScheme.load_public(dealing.public().serialize())


@pytest.fixture(scope="module")
def aggregate(public: he.ThresholdPaillierPublic) -> Aggregate:
    """The weighted sum of three clients' updates over three chunks, and its plain value."""
    values = np.random.default_rng(7).uniform(-1, 1, size=(3, 2 * public.layout.per_plaintext + 5))
    weights = [2, 3, 4]
    cts = [public.encrypt(v) for v in values]
    return public.aggregate(cts, weights), (np.asarray(weights)[:, None] * values).sum(axis=0)


@pytest.fixture(scope="module")
def partials(dealing: he.ThresholdDealing, aggregate: Aggregate) -> list[he.ThresholdPartial]:
    return [holder.partial_decrypt(aggregate[0]) for holder in dealing.holders]


def _reseal(partial: he.ThresholdPartial, at: int, replacement: bytes) -> bytes:
    """``partial``'s frame with the body bytes at ``at`` replaced and the digest recomputed."""
    body = bytearray(partial.serialize()[:-DIGEST_BYTES])
    body[at : at + len(replacement)] = replacement
    return seal_body(bytes(body))


def _with_value(partial: he.ThresholdPartial, value: int) -> bytes:
    return _reseal(partial, VALUES_AT, value.to_bytes(partial.width, "big"))


@_SETTINGS
@given(
    chosen=st.lists(st.integers(1, HOLDERS), min_size=THRESHOLD, max_size=HOLDERS, unique=True),
    clients=st.integers(1, 4),
    choice=st.integers(0, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_t_of_k_holders_decrypt_the_weighted_sum(
    dealing: he.ThresholdDealing,
    public: he.ThresholdPaillierPublic,
    chosen: list[int],
    clients: int,
    choice: int,
    seed: int,
) -> None:
    layout = public.layout
    slots = layout.per_plaintext
    length = [1, slots - 1, slots, slots + 1, 2 * slots + 1][choice]
    rng = np.random.default_rng(seed)
    values = rng.uniform(-1, 1, size=(clients, length))
    values[0, 0] = -1.0
    weights = [int(w) for w in rng.integers(0, 10, size=clients)]
    # Even clients pre-weight in plaintext, odd ones are weighted by the server.
    pairs = list(zip(values, weights, strict=True))
    cts = [public.encrypt(v, weight=w if i % 2 == 0 else None) for i, (v, w) in enumerate(pairs)]
    server = he.ThresholdPaillierScheme.load_public(public.serialize())
    aggregate = server.aggregate([server.load_ciphertext(ct.serialize()) for ct in cts], weights)
    received = server.load_ciphertext(aggregate.serialize())
    shares = [server.load_partial(dealing.holders[i - 1].partial_decrypt(received).serialize()) for i in chosen]
    result = server.combine(received, shares)
    # Exactly what a single Paillier key holder decodes: the packed sum of the weighted quantized values.
    quantized = sum((np.uint64(w) * layout.quantize(v) for v, w in pairs), np.zeros(length, np.uint64))
    np.testing.assert_array_equal(result, layout.dequantize(quantized, sum(weights)))
    assert result.dtype == np.float64 and result.shape == (length,)
    expected = (np.asarray(weights)[:, None] * values).sum(axis=0)
    assert np.max(np.abs(result - expected)) <= layout.error_bound(sum(weights)) + 1e-9


def test_float32_updates_come_back_as_float32(dealing: he.ThresholdDealing, public: he.ThresholdPaillierPublic) -> None:
    vector = np.linspace(-1, 1, 9, dtype=np.float32)
    ct = public.encrypt(vector)
    result = public.combine(ct, [holder.partial_decrypt(ct) for holder in dealing.holders[-THRESHOLD:]])
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, vector, atol=public.layout.error_bound(1) + 1e-7)


def test_fewer_than_t_partials_are_refused(
    public: he.ThresholdPaillierPublic, aggregate: Aggregate, partials: list[he.ThresholdPartial]
) -> None:
    for given_ in ([], partials[:1], partials[2 : 2 + THRESHOLD - 1]):
        with pytest.raises(he.TooFewPartialsError, match=f"{len(given_)} given .* {THRESHOLD} needed") as info:
            public.combine(aggregate[0], given_)
        assert info.value.holders == tuple(p.holder for p in given_)


def test_t_minus_one_shares_interpolate_to_garbage(
    public: he.ThresholdPaillierPublic, partials: list[he.ThresholdPartial]
) -> None:
    """The sharing polynomial has degree t - 1: t - 1 shares do not determine the secret."""
    right = public._combine(partials[:THRESHOLD])
    for start in range(HOLDERS - THRESHOLD + 2):
        assert public._combine(partials[start : start + THRESHOLD - 1]) != right


def test_public_side_holds_no_share_and_cannot_decrypt(
    dealing: he.ThresholdDealing, public: he.ThresholdPaillierPublic
) -> None:
    assert not hasattr(public, "decrypt")
    assert not any(word in name for name in vars(public) for word in ("share", "secret", "private"))
    data = public.serialize()
    secrets_ = [int(holder._share) for holder in dealing.holders]
    attributes = [int(v) for v in vars(public).values() if isinstance(v, (int, gmpy2.mpz))]
    for secret in secrets_:
        assert secret not in attributes
        for encoding in (secret.to_bytes((secret.bit_length() + 7) // 8, "big"), str(secret).encode()):
            assert encoding not in data
    assert public.key.n.to_bytes(128, "big") in data  # the modulus itself is public


@pytest.mark.parametrize("part", ["value", "challenge", "response"])
def test_tampered_partial_is_rejected_naming_its_holder(
    public: he.ThresholdPaillierPublic, aggregate: Aggregate, partials: list[he.ThresholdPartial], part: str
) -> None:
    honest = partials[1]
    nsquare = public.key.nsquare
    if part == "value":
        forged = public.load_partial(_with_value(honest, int(honest.values[0]) * 2 % nsquare))
    else:
        proof = honest.proof
        proof = dataclasses.replace(proof, **{part: getattr(proof, part) ^ 1})
        forged = public.load_partial(dataclasses.replace(honest, proof=proof).serialize())
    with pytest.raises(he.InvalidPartialError, match="holder 2: its proof of correctness") as info:
        public.combine(aggregate[0], [partials[0], forged, partials[2]])
    assert info.value.holder == 2 and info.value.holders == (2,)


@pytest.mark.parametrize("forgery", ["swapped", "cancelling", "wrong exponent"])
def test_a_cheating_holder_cannot_prove_a_wrong_share(
    dealing: he.ThresholdDealing,
    public: he.ThresholdPaillierPublic,
    aggregate: Aggregate,
    partials: list[he.ThresholdPartial],
    forgery: str,
) -> None:
    """The holder proves its forged share itself, with a real or a made-up secret: the proof must still fail.

    Swapped values and errors that cancel in a product test the folding of a packed share into one proof.
    """
    ct, honest = aggregate[0], partials[0]
    first, second, *rest = honest.values
    nsquare = gmpy2.mpz(public.key.nsquare)
    witness = int(public.delta * dealing.holders[0]._share)
    if forgery == "swapped":
        values = (second, first, *rest)
    elif forgery == "cancelling":
        x = gmpy2.mpz(3)
        values = (first * x % nsquare, second * gmpy2.invert(x, nsquare) % nsquare, *rest)
    else:
        witness += 1
        values = tuple(gmpy2.powmod(c, 2 * witness, nsquare) for c in ct.values)
    statement = public.statement(ct, honest.ciphertext_digest, 1, values)
    forged = dataclasses.replace(honest, values=tuple(values), proof=prove(statement, witness))
    with pytest.raises(he.InvalidPartialError, match="holder 1: its proof"):
        public.combine(ct, [forged, *partials[1:THRESHOLD]])


def test_proofs_bind_the_holder_index(dealing: he.ThresholdDealing, public: he.ThresholdPaillierPublic) -> None:
    """Under a key where holders 1 and 2 share a verification key, 1's share still cannot pass as 2's."""
    verification = [int(v) for v in public.verification]
    verification[2] = verification[1]
    key = _public_bytes(public.key.n, verification)
    first, third = (he.ThresholdKeyHolder(i, int(dealing.holders[i - 1]._share), key) for i in (1, 3))
    ct = first.public().encrypt(np.zeros(3))
    shares = [first.partial_decrypt(ct), third.partial_decrypt(ct)]
    relabelled = dataclasses.replace(shares[0], holder=2)
    with pytest.raises(he.InvalidPartialError, match="holder 2: its proof") as info:
        first.public().combine(ct, [shares[0], relabelled, shares[1]])
    assert info.value.holders == (2,)


def test_invalid_partials_are_named_even_when_enough_are_valid(
    public: he.ThresholdPaillierPublic, aggregate: Aggregate, partials: list[he.ThresholdPartial]
) -> None:
    """Policy: combine refuses rather than skip a bad partial, naming every bad holder; drop them and retry."""
    given_ = list(partials)
    for index in (1, 3):
        honest = partials[index]
        given_[index] = dataclasses.replace(honest, values=(honest.values[1], *honest.values[1:]))
    with pytest.raises(he.InvalidPartialError) as info:
        public.combine(aggregate[0], given_)
    assert info.value.holders == (2, 4) and info.value.holder == 2
    assert set(info.value.reasons) == {2, 4}
    kept = [p for p in given_ if p.holder not in info.value.holders]
    np.testing.assert_array_equal(public.combine(aggregate[0], kept), public.combine(aggregate[0], partials))


def test_duplicate_partials_are_refused(
    public: he.ThresholdPaillierPublic, aggregate: Aggregate, partials: list[he.ThresholdPartial]
) -> None:
    with pytest.raises(he.InvalidPartialError, match="holder 2: sent more than one") as info:
        public.combine(aggregate[0], [partials[0], partials[1], partials[1]])
    assert info.value.holders == (2,)


def test_partial_of_another_ciphertext_is_refused(
    dealing: he.ThresholdDealing,
    public: he.ThresholdPaillierPublic,
    aggregate: Aggregate,
    partials: list[he.ThresholdPartial],
) -> None:
    ct = aggregate[0]
    stray = dealing.holders[0].partial_decrypt(public.encrypt(np.zeros(ct.length)))
    with pytest.raises(he.InvalidPartialError, match="holder 1: made for another ciphertext"):
        public.combine(ct, [stray, *partials[1:THRESHOLD]])
    # With the digest relabelled the proof, bound to the ciphertext's values, still fails.
    relabelled = dataclasses.replace(stray, ciphertext_digest=partials[0].ciphertext_digest)
    with pytest.raises(he.InvalidPartialError, match="holder 1: its proof"):
        public.combine(ct, [relabelled, *partials[1:THRESHOLD]])


def test_partial_and_ciphertexts_under_another_key_are_refused(
    dealing: he.ThresholdDealing,
    other: he.ThresholdDealing,
    public: he.ThresholdPaillierPublic,
    aggregate: Aggregate,
    partials: list[he.ThresholdPartial],
) -> None:
    foreign_ct = other.public().encrypt(np.zeros(aggregate[0].length))
    foreign = other.holders[0].partial_decrypt(foreign_ct)
    with pytest.raises(he.ContextMismatchError):
        public.load_partial(foreign.serialize())
    with pytest.raises(he.InvalidPartialError, match="holder 1: made under another threshold Paillier") as info:
        public.combine(aggregate[0], [foreign, *partials[1:THRESHOLD]])
    assert info.value.holder == 1
    with pytest.raises(he.ContextMismatchError):
        public.load_ciphertext(foreign_ct.serialize())
    with pytest.raises(he.ContextMismatchError):
        dealing.holders[0].partial_decrypt(foreign_ct)
    with pytest.raises(he.ContextMismatchError):
        public.combine(foreign_ct, partials)


def test_a_share_cannot_claim_another_holder(
    public: he.ThresholdPaillierPublic, aggregate: Aggregate, partials: list[he.ThresholdPartial]
) -> None:
    relabelled = public.load_partial(_reseal(partials[0], HOLDER_AT, (4).to_bytes(4, "little")))
    assert relabelled.holder == 4
    with pytest.raises(he.InvalidPartialError, match="holder 4: its proof"):
        public.combine(aggregate[0], [relabelled, *partials[1:THRESHOLD]])
    for index in (0, HOLDERS + 1, 2**32 - 1):
        with pytest.raises(he.MalformedPartialError, match="holder index"):
            public.load_partial(_reseal(partials[0], HOLDER_AT, index.to_bytes(4, "little")))
    with pytest.raises(he.InvalidPartialError, match=f"holder {HOLDERS + 1}: holder index outside"):
        public.combine(aggregate[0], [dataclasses.replace(partials[0], holder=HOLDERS + 1), *partials[1:THRESHOLD]])


def test_partial_values_outside_range_or_not_invertible_are_rejected(
    public: he.ThresholdPaillierPublic, partials: list[he.ThresholdPartial]
) -> None:
    n = public.key.n
    for bad in (0, n * n, n * n + 5, n, 3 * n, (1 << 8 * partials[0].width) - 1):
        with pytest.raises(he.MalformedPartialError, match="partial value 0"):
            public.load_partial(_with_value(partials[0], bad))
    assert public.load_partial(_with_value(partials[0], 1)).values[0] == 1


def test_partials_round_trip_and_proofs_are_randomized(
    dealing: he.ThresholdDealing,
    public: he.ThresholdPaillierPublic,
    aggregate: Aggregate,
    partials: list[he.ThresholdPartial],
) -> None:
    for partial in partials:
        data = partial.serialize()
        assert kind_of(data) == Kind.THRESHOLD_PAILLIER_PARTIAL and len(data) == partial.nbytes
        loaded = public.load_partial(data)
        assert loaded == partial and loaded.serialize() == data
    again = dealing.holders[0].partial_decrypt(aggregate[0])
    assert again.values == partials[0].values and again.proof != partials[0].proof
    public.combine(aggregate[0], [again, *partials[1:THRESHOLD]])  # both proofs verify


@pytest.mark.parametrize("cut", [0, 1, 7, HOLDER_AT, VALUES_AT, -1, -17])
def test_truncated_partial_is_rejected(
    public: he.ThresholdPaillierPublic, partials: list[he.ThresholdPartial], cut: int
) -> None:
    with pytest.raises(he.MalformedPartialError):
        public.load_partial(partials[0].serialize()[:cut])


def test_garbage_partial_bytes_are_rejected(
    public: he.ThresholdPaillierPublic, aggregate: Aggregate, partials: list[he.ThresholdPartial]
) -> None:
    data = partials[0].serialize()
    for bad in (data + b"\x00", bytes(range(256)) * 4, aggregate[0].serialize(), public.serialize()):
        with pytest.raises(he.MalformedPartialError):
            public.load_partial(bad)
    with pytest.raises(he.MalformedPartialError, match="proof response"):
        public.load_partial(seal_body(data[: -DIGEST_BYTES - 1]))
    with pytest.raises(he.MalformedPartialError):
        public.load_partial("not bytes")  # type: ignore[arg-type]
    with pytest.raises(he.ParameterError):
        public.combine(aggregate[0], [data, *partials[1:THRESHOLD]])  # type: ignore[list-item]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(0, 10**6), flip=st.integers(1, 255))
def test_every_mutated_byte_of_a_partial_is_rejected(
    public: he.ThresholdPaillierPublic,
    aggregate: Aggregate,
    partials: list[he.ThresholdPartial],
    position: int,
    flip: int,
) -> None:
    body = bytearray(partials[0].serialize()[:-DIGEST_BYTES])
    body[position % len(body)] ^= flip
    with pytest.raises(he.HEError):
        public.combine(aggregate[0], [public.load_partial(seal_body(bytes(body))), *partials[1:THRESHOLD]])


def _public_bytes(n: int, verification: list[int], holders: int = HOLDERS, threshold: int = THRESHOLD) -> bytes:
    """Threshold public-key bytes in the documented layout, to forge individual fields."""
    out = Writer(Kind.THRESHOLD_PAILLIER_PUBLIC)
    write_key_fields(out, n, PackingLayout(16, 1.0, 1000, n.bit_length() - 1), None)
    out.u32(holders)
    out.u32(threshold)
    out.fixed(residue_bytes([gmpy2.mpz(v) for v in verification], 2 * PARAMS["key_bits"] // 8))
    return out.finish()


def test_public_key_round_trips_and_its_fields_are_validated(public: he.ThresholdPaillierPublic) -> None:
    n = public.key.n
    real = [int(v) for v in public.verification]
    assert _public_bytes(n, real) == public.serialize()  # the documented layout, byte for byte
    assert he.ThresholdPaillierPublic(public.serialize()).key_id == public.key_id
    with_factor_three = n + (3 - n % 3) % 3 + (3 if (n + (3 - n % 3) % 3) % 2 == 0 else 0)
    for bad in (
        _public_bytes(n, real, holders=0, threshold=0),
        _public_bytes(n, real, threshold=0),
        _public_bytes(n, real, threshold=HOLDERS + 1),
        _public_bytes(n, real, holders=MAX_HOLDERS + 1),
        _public_bytes(n, real[:-1]),  # one verification key missing
        _public_bytes(n, [*real, 1]),  # one too many
        _public_bytes(n, [0, *real[1:]]),
        _public_bytes(n, [n, *real[1:]]),  # not invertible
        _public_bytes(n, [*real[:-1], n * n]),  # out of range
        _public_bytes(n + 1, real),  # even modulus
        _public_bytes(n >> 512 | 1, real),  # too short
        _public_bytes(with_factor_three, real),  # shares a factor with k!
    ):
        with pytest.raises(he.MalformedKeyError):
            he.ThresholdPaillierPublic(bad)
    data = public.serialize()
    plain = Writer(Kind.PAILLIER_PUBLIC)
    write_key_fields(plain, n, public.layout, None)
    for bad in (b"", data[:10], data[:-1], data + b"x", bytes(64), plain.finish()):
        with pytest.raises(he.MalformedKeyError):
            he.ThresholdPaillierScheme.load_public(bad)


def test_headroom_overflow_raises_before_any_work(
    public: he.ThresholdPaillierPublic, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = public.layout.max_total_weight
    ct = public.encrypt(np.ones(4))
    heavy = public.encrypt(np.ones(4), weight=limit)

    def no_work(*args: object) -> None:
        raise AssertionError("homomorphic work before the headroom check")

    monkeypatch.setattr(gmpy2, "powmod", no_work)
    monkeypatch.setattr(public.key, "raw_encrypt", no_work)
    with pytest.raises(he.PackingOverflowError):
        public.aggregate([ct], [limit + 1])
    with pytest.raises(he.PackingOverflowError):
        public.aggregate([heavy, ct])
    with pytest.raises(he.PackingOverflowError):
        public.encrypt(np.ones(4), weight=limit + 1)


def test_ciphertexts_are_packed_paillier_ciphertexts(public: he.ThresholdPaillierPublic, aggregate: Aggregate) -> None:
    ct = aggregate[0]
    assert isinstance(ct, he.PaillierCiphertext) and kind_of(ct.serialize()) == Kind.PAILLIER_CIPHERTEXT
    assert public.layout == PackingLayout(16, 1.0, 1000, 1023)  # today's layout for a 1024-bit modulus
    assert len(ct.values) == public.layout.chunks_for(ct.length) == 3


def test_fast_encryption_path_decrypts(other: he.ThresholdDealing) -> None:
    public = other.public()
    assert public.fast
    ct = public.aggregate([public.encrypt(np.array([0.5, -0.25])), public.encrypt(np.array([0.25, 1.0]))])
    result = public.combine(ct, [holder.partial_decrypt(ct) for holder in other.holders[:THRESHOLD]])
    np.testing.assert_allclose(result, [0.75, 0.75], atol=public.layout.error_bound(2))


def test_dealing_hands_out_holders_one_to_k(dealing: he.ThresholdDealing) -> None:
    assert [holder.index for holder in dealing.holders] == list(range(1, HOLDERS + 1))
    assert {holder.public().key_id for holder in dealing.holders} == {dealing.public().key_id}
    assert len({int(holder._share) for holder in dealing.holders}) == HOLDERS
    assert (dealing.public().holders, dealing.public().threshold) == (HOLDERS, THRESHOLD)
    share = int(dealing.holders[0]._share)
    for index, bad_share in ((0, share), (HOLDERS + 1, share), (2, share), (1, share + 1)):
        with pytest.raises(he.ParameterError):
            he.ThresholdKeyHolder(index, bad_share, dealing.public_bytes)


def test_1024_bit_keys_warn_and_smaller_are_refused() -> None:
    with pytest.warns(he.WeakKeyWarning, match="below 112-bit security"):
        dealing = he.ThresholdPaillierScheme.generate(holders=2, threshold=1, key_bits=1024)
    assert issubclass(he.WeakKeyWarning, UserWarning)
    public = dealing.public()
    assert public.key.n.bit_length() == 1024
    ct = public.encrypt(np.array([0.5]))
    np.testing.assert_allclose(public.combine(ct, [dealing.holders[1].partial_decrypt(ct)]), [0.5], atol=1e-4)


def test_2048_bit_keys_do_not_warn_and_pack_like_todays_paillier() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dealing = he.ThresholdPaillierScheme.generate(holders=3, threshold=2, key_bits=2048)
    public = dealing.public()
    assert public.key.n.bit_length() == 2048
    assert public.layout.per_plaintext == PackingLayout(16, 1.0, 1000, 2047).per_plaintext == 78
    ct = public.encrypt(np.array([0.5, -1.0]))
    result = public.combine(ct, [holder.partial_decrypt(ct) for holder in dealing.holders[1:]])
    np.testing.assert_allclose(result, [0.5, -1.0], atol=1e-4)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(key_bits=512),
        dict(key_bits=1022),
        dict(key_bits=1025),
        dict(key_bits=8194),
        dict(holders=0, threshold=0),
        dict(threshold=0),
        dict(threshold=4),
        dict(holders=MAX_HOLDERS + 1),
        dict(holders=True),
        dict(bits=40),
        dict(max_total_weight=0),
        dict(clip=float("nan")),
    ],
)
def test_generate_rejects_parameters_before_any_prime(kwargs: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(he.threshold_paillier, "safe_prime", lambda bits: pytest.fail("drew a prime"))
    arguments = dict(holders=3, threshold=2, key_bits=1024) | kwargs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", he.WeakKeyWarning)
        with pytest.raises(he.ParameterError):
            he.ThresholdPaillierScheme.generate(**arguments)


@pytest.mark.slow
def test_default_generation_is_3072_bits() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dealing = he.ThresholdPaillierScheme.generate(holders=3, threshold=2)
    public = dealing.public()
    assert public.key.n.bit_length() == 3072
    ct = public.encrypt(np.array([0.5, -1.0]))
    result = public.combine(ct, [holder.partial_decrypt(ct) for holder in dealing.holders[:2]])
    np.testing.assert_allclose(result, [0.5, -1.0], atol=1e-4)


def test_a_holder_exported_and_restored_decrypts_as_before(dealing: he.ThresholdDealing, aggregate: Aggregate) -> None:
    ciphertext, expected = aggregate
    restored = [he.load_key_holder(h.export_secret()) for h in dealing.holders[:THRESHOLD]]
    assert all(isinstance(h, he.ThresholdKeyHolder) for h in restored)
    partials = [h.partial_decrypt(ciphertext) for h in restored]  # type: ignore[union-attr]
    np.testing.assert_allclose(dealing.public().combine(ciphertext, partials), expected, atol=1e-3)


def test_a_saved_holder_with_another_holders_index_is_refused(dealing: he.ThresholdDealing) -> None:
    state = dealing.holders[0].export_secret()
    public_field = 4 + len(dealing.public_bytes)
    index_at = 5 + public_field
    forged = state[:index_at] + (2).to_bytes(4, "little") + state[index_at + 4 : -DIGEST_BYTES]
    with pytest.raises(he.MalformedKeyError, match="verification key"):
        he.load_key_holder(seal_body(forged))
    for bad in (state[:-1], dealing.public_bytes):
        with pytest.raises(he.HEError):
            he.load_key_holder(bad)
