"""The command line: a working run writes its outputs; bad arguments give one line and exit 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from protocols.cli import main


def test_train_writes_history_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(
        ["train", "--backend", "plain", "--clients", "4", "--rounds", "2", "--dropout", "0.25", "--out", str(tmp_path)]
    )
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
    (["train", "--backend", "secagg", "--threshold", "11"], "threshold must lie in [2, 10]"),
    (["train", "--backend", "secagg+", "--degree", "12"], "degree"),
    (["train", "--backend", "secagg", "--modulus-bits", "4"], "cannot fit in 4 bits"),
    (["train", "--backend", "ckks", "--value-clip", "5"], "clip"),
    (["train", "--backend", "secagg+", "--epsilon", "1", "--modulus-bits", "5"], "cannot be met"),
    (["train", "--epsilon", "1e-7"], "meets the target"),
    (["train", "--epsilon", "1", "--noise", "1"], "not allowed with"),
    (["train", "--dp", "central"], "needs --epsilon or --noise"),
    (["train", "--noise", "1", "--clients-per-round", "5", "--sampling", "fixed"], "poisson"),
    (["train", "--backend", "ckks", "--dp", "distributed", "--noise", "1"], "masking backend"),
    (["train", "--backend", "secagg+", "--noise", "2", "--accountant", "pld"], "does not support"),
    (["account", "--rounds", "10", "--clients", "10"], "needs --noise or --epsilon"),
    (["account", "--rounds", "10", "--clients", "10", "--noise", "1", "--delta", "2"], "delta"),
    (["bogus"], "invalid choice"),
    (["train", "--backend", "secagg", "--threshold", "1"], "threshold must lie in [2, 10]"),
    (["train", "--backend", "secagg", "--active", "--threshold", "3"], "above half the 10 share holders"),
    (["train", "--lr", "inf"], "--lr: must be finite"),
    (["train", "--server-lr", "inf"], "--server-lr: must be finite"),
    (["train", "--server-momentum", "1"], "--server-momentum: must lie in [0, 1)"),
    (["train", "--dropout", "nan"], "--dropout: must lie in [0, 1)"),
    (["train", "--backend", "secagg+", "--noise", "1", "--tolerated-dropout", "0.2"], "skellam-xnoise only"),
    (["train", "--backend", "secagg+", "--dp", "skellam-xnoise", "--noise", "1", "--tolerated-dropout", "1"], "[0, 1)"),
    (["train", "--backend", "ckks", "--dp", "skellam-xnoise", "--noise", "1"], "masking backend"),
    (["train", "--backend", "paillier", "--key-holders", "5", "--decrypt-threshold", "6"], "must lie in [1, 5]"),
    (["train", "--backend", "paillier", "--key-holders", "256"], "must lie in [1, 255]"),
    (["train", "--backend", "paillier", "--decrypt-threshold", "2"], "needs --key-holders"),
    (["train", "--backend", "ckks", "--key-holders", "3"], "paillier backend only"),
    (["train", "--backend", "paillier", "--key-holders", "0"], "must be >= 1"),
    (["train", "--backend", "secagg+", "--corrupt-rate", "0.5", "--dropout-rate", "0.5"], "must be below 1"),
    (
        [
            "train",
            "--backend",
            "secagg+",
            "--corrupt-rate",
            "0.3",
            "--dropout-rate",
            "0.4",
            "--adversary",
            "semi_malicious",
        ],
        "2 * dropout_rate must be below 1",
    ),
    (["train", "--backend", "secagg+", "--corrupt-rate", "0.1", "--adversary", "none"], "no corrupt clients"),
    (["train", "--backend", "secagg+", "--corrupt-rate", "0.1", "--degree", "4"], "or --degree/--threshold"),
    (["train", "--backend", "secagg", "--dropout-rate", "0.1"], "secagg+ backend only"),
    (["train", "--backend", "secagg+", "--active", "--adversary", "semi_honest"], "needs adversary 'semi_malicious'"),
    (["train", "--backend", "secagg+", "--adversary", "wizard"], "invalid choice"),
]


@pytest.mark.parametrize("argv, fragment", BAD)
def test_bad_arguments_one_line_exit_2(
    argv: list[str], fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as info:
        code = main([*argv, "--out", str(out)] if argv[0] == "train" else argv)
        raise SystemExit(code)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err, err
    assert not out.exists()  # nothing written


def _unwritable_outputs(tmp_path: Path) -> list[tuple[Path, str]]:
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    blocked = tmp_path / "blocked"
    (blocked / "history.json").mkdir(parents=True)
    return [
        (a_file, "is not a directory"),
        (a_file / "below", "Not a directory"),
        (blocked, "history.json: it exists and is not a writable file"),
    ]


def test_unwritable_output_paths_are_refused_before_training(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for out, fragment in _unwritable_outputs(tmp_path):
        before = sorted(tmp_path.rglob("*"))
        assert main(["train", "--rounds", "1", "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and fragment in err, err
        assert "round" not in err and sorted(tmp_path.rglob("*")) == before


def test_module_entry_point_reports_without_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "protocols", "train", "--rounds", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_account_subcommand(capsys: pytest.CaptureFixture) -> None:
    import dp

    assert main(["account", "--noise", "1.1", "--rounds", "100", "--clients", "1000", "--clients-per-round", "50"]) == 0
    expected = dp.dpsgd_epsilon(1.1, 0.05, 100, 1e-5)
    assert f"epsilon {expected:.4f}" in capsys.readouterr().out
    assert main(["account", "--epsilon", "8", "--rounds", "10", "--clients", "10"]) == 0
    noise = float(capsys.readouterr().out.split()[2])
    assert dp.dpsgd_epsilon(noise, 1.0, 10, 1e-5) <= 8.0


def test_dp_train_reports_epsilon(tmp_path: Path) -> None:
    code = main(
        [
            "train",
            "--backend",
            "secagg+",
            "--clients",
            "6",
            "--rounds",
            "2",
            "--dropout",
            "0.2",
            "--epsilon",
            "5",
            "--modulus-bits",
            "24",
            "--no-baseline",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["config"]["privacy"] == "distributed-dp"
    epsilons = [r["epsilon"] for r in history["rounds"]]
    assert 0 < epsilons[0] < epsilons[1] <= 5.0


def test_xnoise_keeps_epsilon_per_round_through_dropouts(tmp_path: Path) -> None:
    """--dp skellam-xnoise: 2 of 10 clients drop every round, within the 30% tolerated, so every round costs
    exactly what a round without dropouts would: the epsilons grow by equal steps, to the calibrated target."""
    argv = ["train", "--backend", "secagg", "--clients", "10", "--rounds", "3", "--dropout", "0.2", "--epsilon", "6"]
    code = main(
        [*argv, "--dp", "skellam-xnoise", "--tolerated-dropout", "0.3", "--no-baseline", "--out", str(tmp_path)]
    )
    assert code == 0
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["config"]["privacy"] == "xnoise-dp"
    assert history["config"]["privacy_params"]["tolerated_dropout"] == 0.3
    epsilons = [r["epsilon"] for r in history["rounds"]]
    assert all(len(r["included"]) == 8 for r in history["rounds"])
    assert epsilons[-1] == pytest.approx(6.0, rel=1e-3)


def test_threshold_paillier_and_threat_model_backends_train(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    common = ["train", "--clients", "5", "--rounds", "1", "--no-baseline"]
    paillier = [*common, "--backend", "paillier", "--key-holders", "5", "--decrypt-threshold", "3"]
    assert main([*paillier, "--out", str(tmp_path / "p")]) == 0
    assert "3 of 5 threshold key holders" in capsys.readouterr().err
    history = json.loads((tmp_path / "p" / "history.json").read_text())
    assert history["config"]["aggregator"] == "paillier-3-of-5"
    assert "keyholder.partial_decrypt" in "".join(history["rounds"][0]["seconds"])
    secagg_plus = [*common, "--backend", "secagg+", "--corrupt-rate", "0.1", "--dropout-rate", "0.2"]
    assert main([*secagg_plus, "--out", str(tmp_path / "s")]) == 0
    assert "derived for up to 0 corrupt and 1 dropped clients" in capsys.readouterr().err
