"""The hospitals app on Flower's engines, every aggregator in the same run: ours against Flower's SecAgg+.

One JSON line per (engine, aggregator) on stdout, progress on stderr:

* ``engine``: ``"deployment"`` (a real SuperLink and SuperNode processes on 127.0.0.1, see
  ``examples/hospitals/federation.py``) or ``"simulation"`` (the SuperLink's simulation engine on ray,
  if ``flwr[simulation]`` is installed);
* ``aggregator``: ``plain``, ``secagg+`` (ours), ``flower-secagg+`` (Flower 1.42's SecAgg+), ``ckks``,
  ``paillier``, ``secagg+dp`` (ours with distributed discrete-Gaussian DP);
* ``round_s`` (median seconds per round), ``first_round_s``, ``exchanges_per_round`` (median message
  exchanges per round, counted at the ServerApp's Grid), ``bytes_up_per_client`` (per round, from the
  SuperLink's traffic counters), ``final_accuracy`` (held-out test set).

A last line per engine compares: our SecAgg+ round against the plain round and against Flower's
SecAgg+ round (targets on the deployment engine: at most 2x and at most 1/2), and a run of ours that
loses a SuperNode during its first (key setup) exchange.

Run: ``python benchmarks/flower_bench.py`` (``--quick``: 2 rounds, deployment engine only, no HE).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

APP = Path(__file__).resolve().parents[1] / "examples" / "hospitals"
sys.path.insert(0, str(APP))
from federation import LocalFederation, read_outcomes  # noqa: E402

AGGREGATORS = ("plain", "secagg+", "flower-secagg+", "ckks", "paillier", "secagg+dp")


def _traffic(federation: LocalFederation) -> float:
    listing = json.loads(federation.flwr("list", "local", "--run-id", str(federation.run_id), "--format", "json"))
    return float(listing["runs"][0]["network-traffic"]["inbound-bytes"])


def measure(federation: LocalFederation, engine: str, aggregator: str, rounds: int) -> dict[str, Any]:
    print(f"[{engine}] {aggregator}: {rounds} rounds ...", file=sys.stderr, flush=True)
    with federation.running(aggregator, rounds) as outcomes:
        status = federation.wait(1800)
    records = read_outcomes(outcomes)
    seconds = [r["fit_seconds"] for r in records]
    return {
        "bench": "flower",
        "engine": engine,
        "aggregator": aggregator,
        "status": status,
        "rounds": len(records),
        "round_s": statistics.median(seconds) if seconds else None,
        "first_round_s": seconds[0] if seconds else None,
        "exchanges_per_round": statistics.median(r["exchanges_counted"] for r in records) if records else None,
        "bytes_up_per_client": _traffic(federation) / (federation.nodes * max(1, len(records))),
        "final_accuracy": records[-1]["accuracy"] if records else None,
    }


def lost_at_key_setup(federation: LocalFederation, engine: str, rounds: int) -> dict[str, Any]:
    """Ours with one SuperNode killed as the run starts (during the key advertisement exchange)."""
    with federation.running("secagg+", rounds, timeout=30.0) as outcomes:
        time.sleep(1.0)
        federation.kill(federation.nodes - 1)
        status = federation.wait(1800)
    records = read_outcomes(outcomes)
    return {
        "bench": "flower",
        "engine": engine,
        "aggregator": "secagg+ (one node lost at key setup)",
        "status": status,
        "rounds_completed": sum(r.get("status") == "completed" for r in records),
        "included_per_round": [len(r.get("included", [])) for r in records],
        "final_accuracy": records[-1]["accuracy"] if records else None,
    }


def compare(lines: dict[str, dict[str, Any]], engine: str) -> dict[str, Any]:
    ours, plain, flower = (lines.get(a, {}).get("round_s") for a in ("secagg+", "plain", "flower-secagg+"))
    return {
        "bench": "flower",
        "engine": engine,
        "summary": True,
        "secagg+_vs_plain_round": ours / plain if ours and plain else None,
        "secagg+_vs_flower_secagg+_round": ours / flower if ours and flower else None,
        "exchanges_secagg+_vs_flower": [
            lines.get("secagg+", {}).get("exchanges_per_round"),
            lines.get("flower-secagg+", {}).get("exchanges_per_round"),
        ],
        "same_accuracy": len({lines[a]["final_accuracy"] for a in ("plain", "secagg+", "flower-secagg+") if a in lines})
        == 1,
    }


def engines(quick: bool) -> list[str]:
    if quick:
        return ["deployment"]
    try:
        import ray  # noqa: F401
    except ImportError:
        print("ray is not installed (pip install 'fedsecure[simulation]'): deployment engine only", file=sys.stderr)
        return ["deployment"]
    return ["deployment", "simulation"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 rounds, deployment engine, no HE")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--nodes", type=int, default=4)
    args = parser.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 4)
    aggregators = [a for a in AGGREGATORS if not (args.quick and a in ("ckks", "paillier", "secagg+dp"))]
    for engine in engines(args.quick):
        with tempfile.TemporaryDirectory(prefix=f"flower-bench-{engine}-") as workdir:
            lines: dict[str, dict[str, Any]] = {}
            with LocalFederation(Path(workdir), args.nodes, simulation=engine == "simulation") as federation:
                for aggregator in aggregators:
                    lines[aggregator] = measure(federation, engine, aggregator, rounds)
                    print(json.dumps(lines[aggregator]), flush=True)
                if engine == "deployment":
                    print(json.dumps(lost_at_key_setup(federation, engine, rounds)), flush=True)
            print(json.dumps(compare(lines, engine)), flush=True)


if __name__ == "__main__":
    main()
