"""The dropout DP benchmark's ``--quick`` run: one JSON line per (mechanism, dropout); XNoise keeps the
target noise and the epsilon per round at every dropout rate it tolerates, the planned Skellam does not."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

BENCH = pathlib.Path(__file__).parents[2] / "benchmarks" / "dp_dropout_bench.py"


def test_dp_dropout_bench_quick() -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=300, check=True
    )
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [(r["mechanism"], r["dropout"]) for r in lines] == [
        (m, d) for m in ("planned", "xnoise") for d in (0.0, 0.1, 0.2, 0.3)
    ]
    xnoise = [r for r in lines if r["mechanism"] == "xnoise"]
    planned = [r for r in lines if r["mechanism"] == "planned"]
    for r in lines:
        assert r["target_noise_std"] > 0 and 0.5 <= r["accuracy"] <= 1.0
    assert all(r["meets_target"] and abs(r["released_vs_target"] - 1) <= 0.10 for r in xnoise)
    assert len({r["epsilon_per_round"] for r in xnoise}) == 1
    epsilons = [r["epsilon_per_round"] for r in planned]
    assert epsilons == sorted(epsilons) and epsilons[0] < epsilons[-1]
    assert planned[-1]["released_vs_target"] < 0.95  # sqrt(0.7) of the target once 30% of the noise is missing
