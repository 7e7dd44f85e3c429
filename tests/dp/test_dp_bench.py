from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest


@pytest.mark.slow  # imports torch through Opacus: ~10-25 s on the shared box
def test_dp_bench_quick_prints_json_lines_with_ratios() -> None:
    pytest.importorskip("opacus")
    pytest.importorskip("dp_accounting")
    script = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "dp_bench.py"
    out = subprocess.run(
        [sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    records = [json.loads(line) for line in out.splitlines()]
    cases = {r["case"] for r in records}
    assert cases == {"epsilon", "calibration", "sampler", "skellam_sampler", "summary"}
    for r in records:
        if r["case"] == "epsilon":
            assert abs(r["vs_peer"]["pld_rel_diff_vs_dpa_pld"]) < 0.01
            assert r["ours"]["pld_lower_eps"] <= r["ours"]["pld_eps"] <= r["ours"]["rdp_eps"] * (1 + 1e-9)
