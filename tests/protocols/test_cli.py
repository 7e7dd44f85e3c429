"""The command line: a working run writes its outputs; bad arguments give one line and exit 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from protocols.cli import main


def test_train_writes_history_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["train", "--backend", "plain", "--clients", "4", "--rounds", "2",
                 "--dropout", "0.25", "--out", str(tmp_path)])
    assert code == 0
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history["rounds"]) == 2
    assert all(len(r["dropped"]) == 1 for r in history["rounds"])
    assert (tmp_path / "history.png").read_bytes()[:4] == b"\x89PNG"
    out = capsys.readouterr().out
    assert "plaintext FedAvg" in out and "final accuracy" in out


BAD = [
    (["train", "--backend", "rot13"], "invalid choice"),
    (["train", "--dataset", "mnist"], "invalid choice"),
    (["train", "--clients", "0"], "must be >= 1"),
    (["train", "--dropout", "1.5"], "dropout"),
    (["train", "--drop-stage", "lunch"], "unknown stage"),
    (["train", "--alpha", "-1"], "alpha"),
    (["train", "--clients", "1000"], "too few"),
    (["bogus"], "invalid choice"),
]


@pytest.mark.parametrize("argv, fragment", BAD)
def test_bad_arguments_one_line_exit_2(
    argv: list[str], fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as info:
        code = main([*argv, "--out", str(tmp_path)] if argv[0] == "train" else argv)
        raise SystemExit(code)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err, err


def test_module_entry_point_reports_without_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "protocols", "train", "--rounds", "0"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
