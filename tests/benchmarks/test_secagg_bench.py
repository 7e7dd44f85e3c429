"""The benchmark's smoke run prints one well-formed JSON line per case with correct sums."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

BENCH = pathlib.Path(__file__).parents[2] / "benchmarks" / "secagg_bench.py"


def test_quick_benchmark_prints_json_lines() -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=300, check=True
    )
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [line["case"] for line in lines] == ["quick_sparse", "quick_complete", "population_n300"]
    population = lines.pop()
    assert population["exact"] is True and population["included"] == 270  # 10% drop before the masked input
    assert 0 < population["peak_pss_gib"] <= population["peak_rss_gib"]
    for line in lines:
        assert line["ours"]["correct"] is True
        assert line["ours"]["bytes_per_parameter"] < 4.1
        assert line["client_vs_floor"] > 0 and line["server_vs_floor"] > 0
        if line["flower"] is not None:
            assert line["flower"]["correct"] is True
            assert line["upload_ratio_vs_flower"] < 0.55
