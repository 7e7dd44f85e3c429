"""DP-FedAvg: the reported epsilon is the dp accountant's for the same events; clipping,
equal weights, sampling rules and calibration."""

import math

import numpy as np
import pytest

import dp
from protocols.aggregators.base import PlainAggregator, Stage
from protocols.aggregators.masking import SecAggAggregator
from protocols.datasets import load_federated
from protocols.dpfedavg import CentralDP, DistributedDP, XNoiseDP, build_privacy
from protocols.fedavg import FedAvg, FedAvgConfig, run_fedavg
from protocols.flatten import Layout
from protocols.models import build_model
from protocols.report import summary


@pytest.fixture(scope="module")
def data():
    return load_federated("breast_cancer", 8, seed=2)


def _dimension(data) -> int:
    return Layout.of(build_model("logreg", data.num_features, data.num_classes).state_dict()).size


def test_distributed_epsilon_equals_accountant_for_survivor_events(data) -> None:
    privacy = build_privacy(
        "distributed",
        epsilon=None,
        noise=1.5,
        l2_clip=0.5,
        delta=1e-5,
        rounds=4,
        sample_rate=1.0,
        dimension=_dimension(data),
        expected_clients=6,
        modulus_bits=32,
    )
    aggregator = SecAggAggregator(8, degree=6, codec=privacy.codec, protect_weights=False)
    config = FedAvgConfig(rounds=4, dropout=0.25, drop_stage=Stage.MASKED_INPUT, seed=3)
    model = build_model("logreg", data.num_features, data.num_classes)
    history, _ = run_fedavg(model, data, aggregator, config, privacy)
    # Rebuild the events from what the history says happened: survivors' noise only.
    fresh = dp.RdpAccountant()
    for record in history.rounds:
        assert len(record.included) == 6
        event = dp.DiscreteGaussianSumEvent(
            sigma=math.sqrt(float(privacy.mechanism.local_variance)),
            l2_sensitivity=privacy.mechanism.l2_bound,
            l1_sensitivity=privacy.mechanism.l1_bound,
            dimension=privacy.mechanism.padded_dimension,
            num_clients=len(record.included),
        )
        fresh.compose(event)
        assert record.epsilon == fresh.epsilon(1e-5)
    # Dropping before the masked input removes noise: epsilon exceeds the all-survive figure.
    assert history.final_epsilon > privacy.mechanism.epsilon(4, 1.0, 1e-5, contributing_clients=8)


def test_central_epsilon_with_poisson_sampling_matches_accountant(data) -> None:
    privacy = build_privacy(
        "central",
        epsilon=None,
        noise=1.0,
        l2_clip=0.5,
        delta=1e-5,
        rounds=5,
        sample_rate=0.5,
        dimension=_dimension(data),
        expected_clients=4,
        modulus_bits=32,
    )
    config = FedAvgConfig(rounds=5, clients_per_round=4, sampling="poisson", seed=1)
    model = build_model("logreg", data.num_features, data.num_classes)
    history, _ = run_fedavg(model, data, PlainAggregator(), config, privacy)
    released = 0
    for record in history.rounds:
        released += not record.skipped
        expected = dp.RdpAccountant().compose(privacy.mechanism.round_event(0.5), released)
        assert record.epsilon == pytest.approx(expected.epsilon(1e-5), rel=1e-12)
    assert len({len(r.sampled) for r in history.rounds}) > 1, "Poisson sample sizes vary"


def test_calibrated_target_is_met_not_exceeded(data) -> None:
    privacy = DistributedDP.calibrated(4.0, 1e-5, 3, 1.0, 0.5, _dimension(data), 8, 20)
    aggregator = SecAggAggregator(8, codec=privacy.codec, modulus_bits=20, protect_weights=False)
    model = build_model("logreg", data.num_features, data.num_classes)
    history, _ = run_fedavg(model, data, aggregator, FedAvgConfig(rounds=3, seed=0), privacy)
    assert 3.8 <= history.final_epsilon <= 4.0
    central = CentralDP.calibrated(4.0, 1e-5, 3, 1.0, 0.5, _dimension(data))
    eps = dp.RdpAccountant().compose(central.mechanism.round_event(1.0), 3).epsilon(1e-5)
    assert 3.8 <= eps <= 4.0


def test_dp_clips_and_weights_equally(data) -> None:
    privacy = CentralDP(dp.GaussianMechanism(0.5, 1.0, 10), 1e-5)
    clipped = privacy.prepare(np.full(10, 3.0))
    assert np.linalg.norm(clipped) == pytest.approx(0.5)
    assert privacy.client_weight(5) == privacy.client_weight(500) == 1.0


def test_dp_refuses_fixed_size_subsampling(data) -> None:
    privacy = CentralDP(dp.GaussianMechanism(0.5, 1.0, _dimension(data)), 1e-5)
    model = build_model("logreg", data.num_features, data.num_classes)
    with pytest.raises(ValueError, match="Poisson"):
        FedAvg(model, data, PlainAggregator(), FedAvgConfig(clients_per_round=4), privacy)


def test_central_noise_actually_perturbs_the_mean(data) -> None:
    finals = []
    for _ in range(2):
        privacy = CentralDP(dp.GaussianMechanism(0.5, 1.0, _dimension(data)), 1e-5)
        model = build_model("logreg", data.num_features, data.num_classes)
        finals.append(run_fedavg(model, data, PlainAggregator(), FedAvgConfig(rounds=1), privacy)[1])
    assert np.abs(finals[0] - finals[1]).max() > 1e-3


def test_skellam_epsilon_equals_accountant_for_survivor_events(data) -> None:
    """Distributed Skellam (Agarwal, Kairouz, Liu 2021): the survivors' noise sums to
    Skellam(n * local variance), and the reported epsilon is the accountant's for that event."""
    privacy = build_privacy(
        "skellam",
        epsilon=None,
        noise=1.5,
        l2_clip=0.5,
        delta=1e-5,
        rounds=3,
        sample_rate=1.0,
        dimension=_dimension(data),
        expected_clients=6,
        modulus_bits=32,
    )
    assert isinstance(privacy.mechanism, dp.DistributedSkellam)
    aggregator = SecAggAggregator(8, degree=6, codec=privacy.codec, protect_weights=False)
    config = FedAvgConfig(rounds=3, dropout=0.25, drop_stage=Stage.MASKED_INPUT, seed=3)
    model = build_model("logreg", data.num_features, data.num_classes)
    history, _ = run_fedavg(model, data, aggregator, config, privacy)
    fresh = dp.RdpAccountant()
    for record in history.rounds:
        assert len(record.included) == 6
        fresh.compose(privacy.mechanism.round_event(1.0, contributing_clients=6))
        assert isinstance(privacy.mechanism.round_event(1.0, contributing_clients=6), dp.SkellamSumEvent)
        assert record.epsilon == fresh.epsilon(1e-5)


def test_xnoise_accounts_the_target_variance_whatever_the_poisson_sample_and_its_dropouts(data) -> None:
    """XNoise (Dordis 2024): under Poisson sampling every round has its own client count n and 25% of it
    drops; each round is accounted at exactly the target variance, the event of a round without dropouts."""
    privacy = build_privacy(
        "skellam-xnoise",
        epsilon=None,
        noise=1.5,
        l2_clip=0.5,
        delta=1e-5,
        rounds=4,
        sample_rate=0.75,
        dimension=_dimension(data),
        expected_clients=6,
        modulus_bits=32,
        tolerated_dropout=0.4,  # round(0.25 n) <= floor(0.4 n) for every n
    )
    assert isinstance(privacy, XNoiseDP) and isinstance(privacy.mechanism, dp.XNoiseSkellam)
    aggregator = SecAggAggregator(8, codec=privacy.codec, protect_weights=False)
    config = FedAvgConfig(
        rounds=4,
        clients_per_round=6,
        sampling="poisson",
        dropout=0.25,
        drop_stage=Stage.MASKED_INPUT,
        seed=3,
        seeded_sampling=True,
    )
    model = build_model("logreg", data.num_features, data.num_classes)
    history, _ = run_fedavg(model, data, aggregator, config, privacy)
    target = dp.SkellamSumEvent(
        float(privacy.mechanism.target_variance), privacy.mechanism.l2_bound, privacy.mechanism.l1_bound
    )
    fresh = dp.RdpAccountant()
    released = [r for r in history.rounds if not r.skipped]
    assert released
    for record, event in zip(released, privacy.events, strict=True):
        n, survivors = len(record.sampled), len(record.included)
        assert n - survivors <= privacy.mechanism.round(n).components  # within the tolerated dropouts
        assert event == dp.PoissonSampledEvent(0.75, target)
        fresh.compose(event)
        assert record.epsilon == fresh.epsilon(1e-5)
    with pytest.raises(ValueError, match="tolerated dropout"):
        build_privacy(
            "skellam",
            epsilon=None,
            noise=1.0,
            l2_clip=0.5,
            delta=1e-5,
            rounds=1,
            sample_rate=1.0,
            dimension=4,
            expected_clients=6,
            modulus_bits=32,
            tolerated_dropout=0.3,
        )


def test_skellam_calibration_meets_the_target(data) -> None:
    privacy = build_privacy(
        "skellam",
        epsilon=4.0,
        noise=None,
        l2_clip=0.5,
        delta=1e-5,
        rounds=3,
        sample_rate=1.0,
        dimension=_dimension(data),
        expected_clients=8,
        modulus_bits=20,
    )
    aggregator = SecAggAggregator(8, codec=privacy.codec, modulus_bits=20, protect_weights=False)
    model = build_model("logreg", data.num_features, data.num_classes)
    history, _ = run_fedavg(model, data, aggregator, FedAvgConfig(rounds=3, seed=0), privacy)
    assert 3.8 <= history.final_epsilon <= 4.0


def _central(data, rate: float) -> CentralDP:
    return build_privacy(
        "central",
        epsilon=None,
        noise=1.0,
        l2_clip=0.5,
        delta=1e-5,
        rounds=3,
        sample_rate=rate,
        dimension=_dimension(data),
        expected_clients=4,
        modulus_bits=32,
    )


def _sampled(data, privacy, *, seeded: bool) -> tuple[list[list[int]], dict]:
    config = FedAvgConfig(rounds=3, clients_per_round=4, sampling="poisson", seed=11, seeded_sampling=seeded)
    model = build_model("logreg", data.num_features, data.num_classes)
    history, _ = run_fedavg(model, data, PlainAggregator(), config, privacy)
    return [r.sampled for r in history.rounds], history.config


def test_dp_client_sampling_is_secret(data) -> None:
    """The accountant credits amplification by sampling (q = 1/2): the sample must not follow from the seed.
    Two runs with one seed drawing the same three Poisson samples of 8 clients has probability 2^-24."""
    first, config = _sampled(data, _central(data, 0.5), seeded=False)
    second, _ = _sampled(data, _central(data, 0.5), seeded=False)
    assert first != second
    assert config["client_sampling"] == "secret (OS CSPRNG)"


def test_seeded_dp_sampling_is_reproducible_and_says_what_it_assumes(data) -> None:
    first, config = _sampled(data, _central(data, 0.5), seeded=True)
    second, _ = _sampled(data, _central(data, 0.5), seeded=True)
    assert first == second
    assert "assumes a secret sample" in config["client_sampling"]
    history = run_fedavg(
        build_model("logreg", data.num_features, data.num_classes),
        data,
        PlainAggregator(),
        FedAvgConfig(rounds=1, clients_per_round=4, sampling="poisson", seeded_sampling=True),
        _central(data, 0.5),
    )[0]
    assert "seeded PRNG" in summary(history, None)


def test_sampling_without_a_privacy_claim_stays_seeded(data) -> None:
    config = FedAvgConfig(rounds=3, clients_per_round=4, sampling="poisson", seed=11)
    runs = [
        [
            r.sampled
            for r in run_fedavg(
                build_model("logreg", data.num_features, data.num_classes), data, PlainAggregator(), config
            )[0].rounds
        ]
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
