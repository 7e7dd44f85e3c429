"""The same hospitals app on Flower's simulation engine (ray): our SecAgg+ gives exactly the plaintext
FedAvg model, with the pipelined exchange count. Slow (ray starts in about 15 s): `make test` runs it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flwr")
pytest.importorskip("ray")
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("flower-engines")]

APP = Path(__file__).resolve().parents[2] / "examples" / "hospitals"
sys.path.insert(0, str(APP))
from federation import LocalFederation  # noqa: E402


def test_secagg_plus_on_the_simulation_engine_matches_plain_fedavg(tmp_path: Path) -> None:
    with LocalFederation(tmp_path, 4, simulation=True) as federation:
        ours = federation.run("secagg+", 3)
        plain = federation.run("plain", 3)
    assert [o["exchanges"] for o in ours] == [4, 2, 2]
    for mine, theirs in zip(ours, plain, strict=True):
        assert mine["status"] == "completed"
        np.testing.assert_allclose(mine["global_model"], theirs["global_model"], atol=1e-5)
