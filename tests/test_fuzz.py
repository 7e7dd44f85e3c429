"""Continuous fuzzing of every parser and public entry point (hypothesis, bounded budget).

Two invariants, over generated hostile inputs:

* **parsers** (secure-aggregation frames, client state, HE keys and ciphertexts) either parse, and then
  re-serialize to exactly the same bytes, or raise the package's typed error. The fuzzer mutates real
  frames *and recomputes their digest*, so the mutations reach every field check behind it;
* **entry points** (codecs, session plans and configs, HE key generation and encryption, DP accountants,
  calibration and mechanisms) given hostile values (huge or negative integers, NaN, infinities,
  subnormals, wrong types) either work or raise a :class:`fedsecure.FedsecureError` naming the problem:
  never ``OverflowError``, ``TypeError``, numpy casting errors or a NaN result.

CI runs hypothesis derandomized (see ``conftest.py``); each test's ``max_examples`` bounds its budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import dp
import he
import secagg
from fedsecure import FedsecureError
from fedsecure.wire import DIGEST_BYTES, seal_body
from secagg.client_state import ClientState
from secagg.crypto import generate_signing_key
from secagg.messages import (
    AdvertiseKeys,
    EncryptedShares,
    KeyDirectory,
    MaskedInput,
    ShareInbox,
    UnmaskingShares,
    UnmaskRequest,
)

HOSTILE: list[Any] = [
    None,
    True,
    "1",
    b"\x00",
    [],
    0,
    -1,
    1,
    2,
    3,
    2**31,
    2**32,
    2**63,
    2**64,
    10**400,
    -(10**400),
    0.0,
    -0.0,
    0.5,
    5e-324,
    1e-320,
    1e308,
    -1e308,
    math.inf,
    -math.inf,
    math.nan,
]
values = st.one_of(st.sampled_from(HOSTILE), st.integers(), st.floats())
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _large_valid_size(value: object) -> bool:
    """A size that is legal but would allocate gigabytes (the limits themselves are fuzzed above 2^31)."""
    return isinstance(value, int) and 2**16 < value <= 2**31


def _typed_or_fine(call: Callable[[], object]) -> object:
    """Run ``call``; a toolkit error is an acceptable answer, anything else fails the test."""
    try:
        return call()
    except FedsecureError:
        return None


# ---------------------------------------------------------------- parsers


class _CountingNoise:
    """A stand-in noise sampler (the fuzzed frames only need its component count)."""

    def __init__(self, components: int) -> None:
        self.components = components

    def component(self, key: bytes, index: int, length: int) -> np.ndarray:
        return np.full(length, index, dtype=np.int64)


Parser = tuple[secagg.SessionConfig, Callable[[bytes], object], bytes]


def _session_frames(noise_components: int) -> list[Parser]:
    """One real frame of each parsed kind, from an active-setting session run to the unmasking round
    (with XNoise's noise components, client 5 drops before masking so an excess component is revealed)."""
    config = secagg.SessionConfig.create(
        range(1, 6), threshold=4, vector_length=6, active=True, noise_components=noise_components
    )
    noise = _CountingNoise(noise_components) if noise_components else None
    signing = {u: generate_signing_key() for u in config.client_ids}
    verify = {u: key.public_key() for u, key in signing.items()}
    clients = {
        u: secagg.Client(u, config, signing_key=signing[u], verify_keys=verify, noise=noise) for u in config.client_ids
    }
    server = secagg.Server(config, verify_keys=verify, noise=noise)
    ads = [c.advertise_keys() for c in clients.values()]
    directories = server.advertise_keys(ads)
    shares = [clients[u].share_keys(d) for u, d in directories.items()]
    inboxes = server.share_keys(shares)
    maskers = [u for u in inboxes if not (noise_components and u == 5)]
    masked = [clients[u].masked_input(inboxes[u], np.arange(6, dtype=np.uint32)) for u in maskers]
    survivors = server.masked_input(masked)
    server.consistency_check([clients[u].consistency_check(survivors) for u in survivors.survivors])
    state = clients[1].export_state()
    request = server.unmask_requests()[2]
    answer = clients[2].unmask(request)
    return [
        (config, lambda b: AdvertiseKeys.from_bytes(b, config, sender=1), ads[0].to_bytes(config)),
        (config, lambda b: KeyDirectory.from_bytes(b, config, receiver=1), directories[1].to_bytes(config)),
        (config, lambda b: EncryptedShares.from_bytes(b, config, sender=1), shares[0].to_bytes(config)),
        (config, lambda b: ShareInbox.from_bytes(b, config, receiver=1), inboxes[1].to_bytes(config)),
        (config, lambda b: MaskedInput.from_bytes(b, config, sender=1), masked[0].to_bytes(config)),
        (config, lambda b: UnmaskRequest.from_bytes(b, config, receiver=1), request.to_bytes(config)),
        (config, lambda b: UnmaskingShares.from_bytes(b, config, sender=2), answer.to_bytes(config)),
        (config, lambda b: ClientState.from_bytes(b, config), state),
    ]


SECAGG_PARSERS = _session_frames(0) + _session_frames(2)


def _mutated(frame: bytes, data: st.DataObject) -> bytes:
    """Flip, insert, delete or truncate bytes of the body, then recompute the digest."""
    body = bytearray(frame[:-DIGEST_BYTES])
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        action = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate", "u32"]), label="action")
        at = data.draw(st.integers(5, max(5, len(body) - 1)), label="position")
        if action == "flip" and at < len(body):
            body[at] ^= data.draw(st.integers(1, 255))
        elif action == "insert":
            body[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del body[at : at + data.draw(st.integers(1, 8))]
        elif action == "truncate":
            del body[at:]
        else:  # overwrite a would-be length or count with an extreme value
            body[at : at + 4] = data.draw(st.sampled_from([0, 1, 2**31, 2**32 - 1])).to_bytes(4, "little")
    return seal_body(bytes(body))


@FUZZ
@given(index=st.integers(0, len(SECAGG_PARSERS) - 1), data=st.data())
def test_secagg_parsers_refuse_or_round_trip(index: int, data: st.DataObject) -> None:
    config, parse, frame = SECAGG_PARSERS[index]
    mutated = _mutated(frame, data)
    try:
        message = parse(mutated)
    except secagg.InvalidMessageError:
        return
    again = message.to_bytes(config)  # type: ignore[attr-defined]
    assert again == mutated


@FUZZ
@given(index=st.integers(0, len(SECAGG_PARSERS) - 1), raw=st.binary(max_size=512))
def test_secagg_parsers_refuse_random_bytes(index: int, raw: bytes) -> None:
    _, parse, _ = SECAGG_PARSERS[index]
    with pytest.raises(secagg.InvalidMessageError):
        parse(raw)
    with pytest.raises(secagg.InvalidMessageError):
        parse(seal_body(b"FSF\x01" + raw))


@pytest.fixture(scope="module")
def he_public() -> dict[str, Any]:
    paillier = he.PaillierScheme.generate(key_bits=2048, bits=8, max_total_weight=4)
    ckks = he.CKKSScheme.generate()
    return {"paillier": paillier.public(), "ckks": ckks.public()}


@pytest.fixture(scope="module")
def he_frames(he_public: dict[str, Any]) -> dict[tuple[str, str], tuple[bytes, Callable[[bytes], object]]]:
    """A key and a ciphertext frame of each scheme, fixed for the module (CKKS sizes vary per encryption)."""
    frames = {}
    for name, public in he_public.items():
        loader = he.PaillierScheme if name == "paillier" else he.CKKSScheme
        frames[name, "key"] = (public.serialize(), loader.load_public)
        frames[name, "ciphertext"] = (public.encrypt(np.linspace(-1, 1, 5)).serialize(), public.load_ciphertext)
    return frames


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scheme=st.sampled_from(["paillier", "ckks"]), target=st.sampled_from(["key", "ciphertext"]), data=st.data())
def test_he_parsers_refuse_or_load(he_frames: dict, scheme: str, target: str, data: st.DataObject) -> None:
    frame, parse = he_frames[scheme, target]
    mutated = _mutated(frame, data) if data.draw(st.booleans(), label="structured") else data.draw(st.binary())
    try:
        parse(mutated)
    except he.HEError:
        pass


# ---------------------------------------------------------------- entry points


@FUZZ
@given(clip=values, max_clients=values, modulus_bits=values, scale=values)
def test_fixed_point_codec(clip: Any, max_clients: Any, modulus_bits: Any, scale: Any) -> None:
    for kwargs in ({}, {"scale": scale}):
        codec = _typed_or_fine(lambda kw=kwargs: secagg.FixedPointCodec(clip, max_clients, modulus_bits, **kw))
        if codec is not None:
            words = codec.encode(np.array([-codec.clip, 0.0, codec.clip]))  # type: ignore[attr-defined]
            total = codec.decode_sum(words)  # type: ignore[attr-defined]
            assert np.all(np.isfinite(total))


@FUZZ
@given(clients=values, degree=values, threshold=values, active=st.booleans())
def test_session_plan(clients: Any, degree: Any, threshold: Any, active: bool) -> None:
    plan = _typed_or_fine(lambda: secagg.plan_session(clients, degree=degree, threshold=threshold, active=active))
    if plan is not None and clients < 200:
        config = secagg.SessionConfig.create(
            range(1, plan.clients + 1), threshold=plan.threshold, vector_length=1, degree=plan.degree, active=active
        )
        assert config.threshold == plan.threshold


@FUZZ
@given(threshold=values, vector_length=values, degree=values, modulus_bits=values, round_index=values)
def test_session_config(threshold: Any, vector_length: Any, degree: Any, modulus_bits: Any, round_index: Any) -> None:
    _typed_or_fine(
        lambda: secagg.SessionConfig.create(
            range(1, 9),
            threshold=threshold,
            vector_length=vector_length,
            degree=degree,
            modulus_bits=modulus_bits,
            round_index=round_index,
        )
    )


@FUZZ
@given(bits=values, clip=values, max_total_weight=values)
def test_packing_layout_and_paillier_parameters(bits: Any, clip: Any, max_total_weight: Any) -> None:
    layout = _typed_or_fine(lambda: he.PackingLayout(bits, clip, max_total_weight, 2047))
    if layout is not None:
        values_ = np.array([-1.0, 0.0, 1.0]) * layout.clip  # type: ignore[attr-defined]
        decoded = layout.dequantize(layout.quantize(values_), 1)  # type: ignore[attr-defined]
        assert np.all(np.isfinite(decoded))
    # Invalid key sizes fail before any key is generated; valid ones are left to the scheme tests.
    _typed_or_fine(lambda: he.PaillierScheme.generate(key_bits=bits, bits=8, clip=1.0) if bits != 2048 else None)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(weight=values, data=st.data())
def test_he_weights(he_public: dict[str, Any], weight: Any, data: st.DataObject) -> None:
    for public in he_public.values():
        ct = _typed_or_fine(lambda p=public: p.encrypt(np.ones(3) * 0.5, weight=weight))
        _typed_or_fine(lambda p=public: p.aggregate([p.encrypt(np.ones(3))], weights=[weight]))
        if ct is not None and weight is not None:
            assert ct.weight == pytest.approx(float(weight))  # type: ignore[attr-defined]


@FUZZ
@given(noise=values, rate=values, steps=values, delta=values)
def test_dp_accounting(noise: Any, rate: Any, steps: Any, delta: Any) -> None:
    eps = _typed_or_fine(lambda: dp.dpsgd_epsilon(noise, rate, steps, delta, "rdp"))
    if eps is not None:
        assert not math.isnan(eps) and eps >= 0  # type: ignore[operator]
    noise_ = _typed_or_fine(lambda: dp.calibrate(noise, delta, rate, steps if steps != 0 else 1, "rdp"))
    if noise_ is not None:
        assert noise_ > 0  # type: ignore[operator]


@FUZZ
@given(noise=values, dimension=values, granularity=values, vector=st.lists(values, max_size=4), clip=values)
def test_dp_mechanisms(noise: Any, dimension: Any, granularity: Any, vector: list[Any], clip: Any) -> None:
    assume(not _large_valid_size(dimension))
    _typed_or_fine(lambda: dp.GaussianMechanism(clip, noise, dimension, granularity))
    _typed_or_fine(lambda: dp.clip_l2(np.array(vector, dtype=object), clip))


@FUZZ
@given(noise=values, bits=values, dimension=values, clients=values, mechanism=st.sampled_from(["ddg", "skellam"]))
def test_distributed_mechanisms(noise: Any, bits: Any, dimension: Any, clients: Any, mechanism: str) -> None:
    assume(not _large_valid_size(dimension))
    kind = dp.DistributedDiscreteGaussian if mechanism == "ddg" else dp.DistributedSkellam
    made = _typed_or_fine(lambda: kind(1.0, noise, bits, dimension, clients, rotation_seed=bytes(32)))
    if made is not None:
        eps = _typed_or_fine(lambda: made.epsilon(1, 1.0, 1e-5))  # type: ignore[attr-defined]
        assert eps is None or not math.isnan(eps)  # type: ignore[arg-type]
