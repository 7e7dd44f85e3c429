"""benchmarks/fedavg_bench.py --quick: JSON lines only on stdout, one per backend, with ratios."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "fedavg_bench.py"


def test_quick_bench_prints_json_lines() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--clients", "6", "--backends", "secagg+", "ckks"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["backend"] for r in rows] == ["plain", "secagg+", "ckks"]
    plain = rows[0]
    assert plain["ratio_vs_plain"] == 1.0
    for row in rows[1:]:
        assert row["ratio_vs_plain"] > 0 and row["bytes_up_per_client"] > 0
        assert row["max_abs_weight_diff_vs_plain"] < 1e-3
        assert row["accuracy"] == row["plain_accuracy_same_rounds"]
