"""The HE benchmark's ``--quick`` run prints one JSON line per case, peers beside ours."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

BENCH = pathlib.Path(__file__).parents[2] / "benchmarks" / "he_bench.py"


def test_he_bench_quick() -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=300, check=True
    )
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    schemes = {line["scheme"] for line in lines}
    assert schemes == {"ckks", "paillier"}
    assert any(line["peer"] for line in lines) and any(not line["peer"] for line in lines)
    ours = [line for line in lines if not line["peer"]]
    assert all(line["bytes_per_param"] > 0 and line["max_abs_error"] >= 0 for line in ours)
