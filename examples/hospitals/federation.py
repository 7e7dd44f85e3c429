"""A local Flower federation on 127.0.0.1 for this app: a SuperLink and N SuperNodes as real processes.

Used by the deployment tests and ``benchmarks/flower_bench.py``, and runnable by hand::

    python examples/hospitals/federation.py --nodes 4 --aggregator secagg+ --rounds 3

Every process listens on loopback only, runs in its own process group under ``timeout``, and is
stopped by its PID (never by name). ``--simulation`` runs the SuperLink's simulation engine (ray,
``pip install 'fedsecure[simulation]'``) with N virtual SuperNodes instead.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

APP = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalFederation:
    """Start with ``with LocalFederation(...) as federation:``; ``run(...)`` one app run; ``kill(i)`` a node."""

    def __init__(self, workdir: Path, nodes: int = 4, *, simulation: bool = False, lifetime: int = 1800) -> None:
        self.workdir, self.nodes, self.simulation, self.lifetime = Path(workdir), nodes, simulation, lifetime
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self.node_ids: dict[int, int] = {}
        """SuperNode id by partition, once each node has registered."""
        self.env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "FLWR_HOME": str(self.workdir),
        }
        (self.workdir / "config.toml").write_text(
            f'[superlink]\ndefault = "local"\n\n[superlink.local]\naddress = "127.0.0.1:{self.port}"\ninsecure = true\n'
        )

    def _spawn(self, name: str, *command: str) -> None:
        log = (self.workdir / f"{name}.log").open("wb")
        self._processes[name] = subprocess.Popen(
            ["timeout", str(self.lifetime), *command],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.workdir,
            start_new_session=True,  # its own process group: stopping it stops its children too
        )

    def __enter__(self) -> LocalFederation:
        link = ["flower-superlink", "--insecure", "--host", "127.0.0.1", "--port", str(self.port)]
        self._spawn(
            "superlink", *link, "--disable-runtime-dependency-installation", *(["--simulation"] * self.simulation)
        )
        self._wait_for("superlink", "Starting Flower SuperExec", 60)
        if not self.simulation:
            for i in range(self.nodes):
                self._spawn(
                    f"node{i}",
                    "flower-supernode",
                    "--insecure",
                    "--superlink",
                    f"127.0.0.1:{self.port}",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(_free_port()),
                    "--node-config",
                    f"partition-id={i} num-partitions={self.nodes}",
                    "--max-retries",
                    "5",
                    "--max-wait-time",
                    "60",
                )
            for i in range(self.nodes):
                line = self._wait_for(f"node{i}", "SuperNode ID:", 60)
                self.node_ids[i] = int(re.findall(r"SuperNode ID: (\d+)", line)[0])
        return self

    def __exit__(self, *exc: object) -> None:
        for name in list(self._processes):
            self._stop(name)

    def _stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        process = self._processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)

    def kill(self, partition: int) -> None:
        """SIGKILL a SuperNode (and its ClientApp processes), by its process group's PID."""
        self._stop(f"node{partition}", signal.SIGKILL)

    def _wait_for(self, name: str, text: str, seconds: float) -> str:
        deadline = time.monotonic() + seconds
        path = self.workdir / f"{name}.log"
        while time.monotonic() < deadline:
            for line in path.read_text(errors="replace").splitlines():
                if text in line:
                    return line
            if self._processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited early:\n{path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.5)
        raise TimeoutError(f"{name} did not print {text!r} within {seconds} s")

    def flwr(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [str(BIN / "flwr"), *args], env=self.env, cwd=APP, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode:
            raise RuntimeError(f"flwr {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    @contextlib.contextmanager
    def running(self, aggregator: str, rounds: int, **config: object) -> Iterator[Path]:
        """Start one run; yields the outcomes file (one JSON line per round, appended as rounds end)."""
        outcomes = self.workdir / f"{aggregator}-{time.monotonic_ns()}.jsonl"
        values = {"aggregator": aggregator, "num-server-rounds": rounds, "outcomes-file": str(outcomes), **config}
        run_config = " ".join(f"{k}={json.dumps(v)}" for k, v in values.items())
        extra = ["--federation-config", f"num-supernodes={self.nodes}"] if self.simulation else []
        started = json.loads(self.flwr("run", ".", "local", "--run-config", run_config, *extra, "--format", "json"))
        self.run_id = int(started["run-id"])
        yield outcomes

    def wait(self, seconds: float) -> str:
        """Wait for the current run to end; returns its final status."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            listing = json.loads(self.flwr("list", "local", "--run-id", str(self.run_id), "--format", "json"))
            status = str(listing["runs"][0]["status"])
            if status.startswith("finished"):
                return status
            time.sleep(2)
        raise TimeoutError(f"run {self.run_id} did not finish within {seconds} s")

    def run(self, aggregator: str, rounds: int, *, seconds: float = 600, **config: object) -> list[dict]:
        """One run to its end; returns its rounds' outcomes."""
        with self.running(aggregator, rounds, **config) as outcomes:
            status = self.wait(seconds)
        if not status.endswith("completed"):
            raise RuntimeError(
                f"run {self.run_id} ended {status}:\n{self.flwr('log', str(self.run_id), 'local', '--show')[-3000:]}"
            )
        return read_outcomes(outcomes)


def read_outcomes(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--aggregator", default="secagg+")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--simulation", action="store_true")
    parser.add_argument("--workdir", type=Path, default=Path("runs/flower-local"))
    args = parser.parse_args()
    with LocalFederation(args.workdir, args.nodes, simulation=args.simulation) as federation:
        for outcome in federation.run(args.aggregator, args.rounds):
            print(json.dumps({k: v for k, v in outcome.items() if k != "global_model"}))


if __name__ == "__main__":
    main()
