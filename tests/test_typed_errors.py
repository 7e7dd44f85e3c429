"""Each input the hostile-input review found escaping as a raw Python error now gets the package's typed error,
naming the offending value; and every package error derives from the one root, FedsecureError."""

from __future__ import annotations

import numpy as np
import pytest

import dp
import he
import protocols
import secagg
from fedsecure import FedsecureError
from secagg.messages import MaskedInput

HUGE = 10**400


@pytest.mark.parametrize(
    "kwargs",
    [
        {"clip": 1e-308, "max_clients": 10},
        {"clip": 1e308, "max_clients": 10, "scale": 1e308},
        {"clip": HUGE, "max_clients": 10},
        {"clip": 1.0, "max_clients": HUGE},
        {"clip": 1e300, "max_clients": 10, "scale": 1e300},
        {"clip": 5e-324, "max_clients": 1, "modulus_bits": 64},
        {"clip": 1.0, "max_clients": 10, "modulus_bits": HUGE},
    ],
)
def test_fixed_point_codec_extremes(kwargs: dict) -> None:
    with pytest.raises(secagg.EncodingError):
        secagg.FixedPointCodec(**kwargs)


def test_fixed_point_codec_at_a_huge_but_finite_clip_still_decodes_exactly() -> None:
    codec = secagg.FixedPointCodec(clip=1e308, max_clients=10)
    total = codec.decode_sum(codec.encode(np.array([1e308, -1e308, 0.0])))
    assert np.all(np.isfinite(total)) and total[2] == 0.0


@pytest.fixture(scope="module")
def ckks() -> he.CKKSPublic:
    return he.CKKSScheme.generate().public()


def test_he_weights_too_large_for_a_float(ckks: he.CKKSPublic) -> None:
    with pytest.raises(he.ParameterError, match="weight must be finite"):
        ckks.encrypt(np.ones(2), weight=HUGE)
    with pytest.raises(he.ParameterError, match="weight"):
        ckks.aggregate([ckks.encrypt(np.ones(2))], weights=[HUGE])


@pytest.mark.parametrize("clip", [1e308, 1e-320, HUGE])
def test_paillier_clip_that_cannot_decode_is_refused_before_key_generation(clip: float) -> None:
    with pytest.raises(he.ParameterError, match="clip"):
        he.PaillierScheme.generate(key_bits=2048, clip=clip)


@pytest.mark.parametrize(
    "call",
    [
        lambda: dp.dpsgd_epsilon(noise_multiplier=HUGE, sample_rate=0.1, steps=10, delta=1e-5),
        lambda: dp.dpsgd_epsilon(noise_multiplier=1.0, sample_rate=0.1, steps=HUGE, delta=1e-5),
        lambda: dp.calibrate(target_epsilon=HUGE, delta=1e-5, sample_rate=0.1, steps=10),
        lambda: dp.RdpAccountant().compose(dp.GaussianEvent(1.0), HUGE),
        lambda: dp.GaussianMechanism(1.0, 1.0, HUGE),
        lambda: dp.clip_l2(np.array([HUGE], dtype=object), 1.0),
    ],
    ids=["noise", "steps", "target", "count", "dimension", "vector"],
)
def test_dp_parameters_too_large(call) -> None:
    with pytest.raises(dp.InvalidParameterError):
        call()


@pytest.mark.parametrize("dtype", [np.float64, np.int64])
def test_server_refuses_words_that_are_not_unsigned_ring_words(dtype: type) -> None:
    config = secagg.SessionConfig.create(range(1, 4), threshold=2, vector_length=3)
    clients = {u: secagg.Client(u, config) for u in config.client_ids}
    server = secagg.Server(config)
    directories = server.advertise_keys([c.advertise_keys() for c in clients.values()])
    server.share_keys([clients[u].share_keys(d) for u, d in directories.items()])
    with pytest.raises(secagg.InvalidMessageError, match="not unsigned"):
        server.masked_input([MaskedInput(1, np.ones(3, dtype=dtype))])


def test_strided_and_multi_byte_buffers_parse_like_bytes() -> None:
    config = secagg.SessionConfig.create(range(1, 4), threshold=2, vector_length=3)
    frame = secagg.Client(1, config).advertise_keys().to_bytes(config)
    doubled = np.frombuffer(bytes(b for byte in frame for b in (byte, 0)), dtype=np.uint8)
    strided = memoryview(doubled)[::2]
    assert not strided.c_contiguous
    assert secagg.messages.AdvertiseKeys.from_bytes(strided, config, sender=1).sender == 1
    with pytest.raises(secagg.InvalidMessageError):
        secagg.messages.AdvertiseKeys.from_bytes(memoryview(doubled)[1::2], config, sender=1)


@pytest.mark.parametrize(
    "error",
    [
        secagg.ProtocolError,
        secagg.ForgedSharesError,
        he.HEError,
        he.PackingOverflowError,
        dp.DPError,
        dp.CalibrationError,
        protocols.AggregationError,
        protocols.AggregationAborted,
        protocols.DatasetError,
        protocols.LayoutError,
    ],
)
def test_every_package_error_derives_from_the_root(error: type) -> None:
    assert issubclass(error, FedsecureError)


def test_drop_stages_are_one_enum() -> None:
    assert protocols.Stage is secagg.Stage
    assert [s.update_sent for s in secagg.Stage] == [False, False, False, True, True]
