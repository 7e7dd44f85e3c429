"""Smoke tests for the Flower SecAgg+ peer harness (``benchmarks/flower_peer.py``)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("flwr")

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "flower_peer.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flower_peer", _PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve the module through sys.modules
    spec.loader.exec_module(module)
    return module


fp = _load()


def test_complete_graph_with_dropout_recovers_the_sum() -> None:
    out = fp.run_flower_secaggplus(5, 100, degree=None, dropout_fraction=0.2, seed=1)
    assert out["correct"] is True and out["extrapolated"] is False
    assert (out["num_shares"], out["threshold"], out["dropped"]) == (5, 3, 1)
    assert 0.0 <= out["max_abs_error"] <= out["error_bound"]
    # Flower ships int64 .npy arrays: the weight factor and the vector, each with a header
    assert out["upload_bytes_per_client"] > 8 * (100 + 1)
    for key in ("client_setup_s", "client_mask_s", "server_unmask_s", "server_shamir_s"):
        assert out[key] > 0.0


@settings(max_examples=6, deadline=None)
@given(n=st.integers(6, 9), degree=st.sampled_from([None, 3, 4]), seed=st.integers(0, 2**16))
def test_aggregate_matches_plain_sum(n: int, degree: int | None, seed: int) -> None:
    try:
        out = fp.run_flower_secaggplus(n, 40, degree=degree, dropout_fraction=0.15, seed=seed)
    except fp.FlowerAbort:  # a sparse ring can leave a node under threshold: Flower halts
        assert degree is not None
        return
    assert out["correct"] is True
    assert out["num_shares"] == (n if degree is None else degree | 1)  # Flower makes it odd


def test_budget_too_small_extrapolates() -> None:
    out = fp.run_flower_secaggplus(6, 50, degree=None, dropout_fraction=0.2, time_budget_s=1e-9)
    assert out["extrapolated"] is True and out["correct"] is None
    assert out["server_unmask_s"] > 0.0 and out["client_mask_s"] > 0.0 and out["note"]


def test_budget_that_fits_runs_in_full() -> None:
    out = fp.run_flower_secaggplus(6, 50, degree=None, dropout_fraction=0.2, time_budget_s=600)
    assert out["extrapolated"] is False and out["correct"] is True
    assert out["estimated_full_run_s"] > 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"degree": 2}, "degree"),
        ({"degree": None, "dropout_fraction": 1.0}, "dropout_fraction"),
        ({"degree": None, "modulus_bits": 22}, "modulus_range"),
        ({"degree": None, "threshold": 9}, "threshold"),
    ],
)
def test_rejects_bad_configuration(kwargs: dict[str, object], match: str) -> None:
    kwargs.setdefault("dropout_fraction", 0.0)
    with pytest.raises(ValueError, match=match):
        fp.run_flower_secaggplus(6, 10, **kwargs)


def test_main_prints_one_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    fp.main(["--n", "4", "--m", "20", "--dropout", "0.25"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["correct"] is True
    assert fp.flower_version() == json.loads(lines[0])["flwr_version"]
