"""The hospitals app on Flower's real deployment engine: a `flower-superlink` and four `flower-supernode`
processes on 127.0.0.1 (insecure mode, loopback only), every process bounded by a timeout and stopped by
its PID at the end (examples/hospitals/federation.py).

Our SecAgg+ gives exactly the plaintext FedAvg model; a SuperNode killed mid-run is a dropout and the
round completes exactly with the survivors; killing more than the threshold allows halts the round with
the model unchanged; CKKS gives the plaintext model within its error. Slow (each message exchange of
Flower's engine costs about ten seconds here), so marked slow: `make test` (CI) runs it.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flwr")
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("flower-engines")]

APP = Path(__file__).resolve().parents[2] / "examples" / "hospitals"
sys.path.insert(0, str(APP))
from federation import LocalFederation, read_outcomes  # noqa: E402
from hospitals import task  # noqa: E402

NODES = 4
EPOCHS, LR = 5, 0.5


def _expected_step(previous: np.ndarray, partitions: list[int]) -> np.ndarray:
    """FedAvg of the included hospitals' updates from ``previous``, weighted by their examples."""
    parameters = [previous[:30], previous[30:]]
    updates, weights = [], []
    for p in partitions:
        features, labels = task.partition(p, NODES)
        updates.append(np.concatenate([u.ravel() for u in task.train(parameters, features, labels, EPOCHS, LR)]))
        weights.append(len(labels))
    return previous + np.average(updates, axis=0, weights=weights)


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory):
    if shutil.which("timeout") is None:
        pytest.skip("needs coreutils' timeout to bound every process")
    with LocalFederation(tmp_path_factory.mktemp("flower-deployment"), NODES) as running:
        yield running


def test_secagg_plus_gives_exactly_the_plaintext_fedavg_model(federation: LocalFederation) -> None:
    plain = federation.run("plain", 2)
    ours = federation.run("secagg+", 2)
    assert [o["exchanges"] for o in ours] == [4, 2]  # the second round's setup rode in the first
    every = list(range(NODES))
    model = np.zeros(31)
    for ours_round, plain_round in zip(ours, plain, strict=True):
        model = _expected_step(model, every)
        assert ours_round["status"] == "completed" and sorted(ours_round["included"]) == sorted(
            federation.node_ids.values()
        )
        np.testing.assert_allclose(ours_round["global_model"], model, atol=1e-5)
        np.testing.assert_allclose(plain_round["global_model"], model, atol=1e-9)
    assert ours[-1]["accuracy"] == plain[-1]["accuracy"]


def test_ckks_gives_the_plaintext_model_within_its_error(federation: LocalFederation) -> None:
    (outcome,) = federation.run("ckks", 1)
    assert outcome["status"] == "completed" and outcome["exchanges"] == 3
    np.testing.assert_allclose(outcome["global_model"], _expected_step(np.zeros(31), list(range(NODES))), atol=1e-4)


def _run_killing(tmp_path: Path, victims: list[int]) -> tuple[list[dict], dict[int, int]]:
    """Two rounds; once the first is in, kill ``victims`` by PID (round two's setup is already done)."""
    with LocalFederation(tmp_path, NODES) as federation:
        with federation.running("secagg+", 2, timeout=30.0) as outcomes:
            deadline = time.monotonic() + 300
            while not read_outcomes(outcomes) and time.monotonic() < deadline:
                time.sleep(1)
            for victim in victims:
                federation.kill(victim)
            federation.wait(600)
        return read_outcomes(outcomes), federation.node_ids


def test_a_supernode_killed_mid_run_is_a_dropout_and_the_round_is_exact(tmp_path: Path) -> None:
    outcomes, node_ids = _run_killing(tmp_path, [3])
    first, second = outcomes
    survivors = [p for p in range(NODES) if p != 3]
    assert second["status"] == "completed"
    assert sorted(second["included"]) == sorted(node_ids[p] for p in survivors)
    expected = _expected_step(np.array(first["global_model"]), survivors)
    np.testing.assert_allclose(second["global_model"], expected, atol=1e-5)


def test_killing_more_than_the_threshold_allows_halts_cleanly(tmp_path: Path) -> None:
    outcomes, _ = _run_killing(tmp_path, [2, 3])  # 4 clients, threshold 3
    first, second = outcomes
    assert second["status"] == "halted" and "threshold" in str(second["reason"])
    np.testing.assert_array_equal(second["global_model"], first["global_model"])
