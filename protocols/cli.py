"""`python -m protocols` / `fedsecure`: federated training and privacy accounting.

Subcommands:
  train    run FedAvg with a chosen protection backend (and DP), print a table
           against the plaintext run, write history.json and history.png
  account  epsilon of DP-FedAvg for a noise multiplier, or the noise for an epsilon

Bad arguments end with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import torch
from tqdm import tqdm

import dp
from he.errors import HEError
from protocols.aggregators.base import PlainAggregator, SecureAggregator, Stage
from protocols.backends import BACKENDS, BackendOptions, build_aggregator
from protocols.datasets import DATASETS, FederatedDataset, load_federated
from protocols.dpfedavg import DP_MODES, XNOISE, build_privacy
from protocols.fedavg import FedAvgConfig, run_fedavg
from protocols.flatten import Layout
from protocols.history import History, RoundRecord
from protocols.local import LocalConfig
from protocols.models import MODELS, build_model
from protocols.privacy import NoPrivacy, Privacy
from protocols.report import plot, summary, table
from secagg import ProtocolError
from secagg.threat_model import ADVERSARIES

EXIT_USAGE = 2
DEFAULT_TOLERATED_DROPOUT = 0.3
SETUP_ERRORS = (ValueError, OSError, ProtocolError, HEError, dp.DPError)


class UsageError(Exception):
    """A bad argument: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be finite and > 0, got {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1), got {text}")
    return value


def _stage(text: str) -> Stage:
    try:
        return Stage[text.upper()]
    except KeyError:
        names = ", ".join(s.name.lower() for s in Stage)
        raise argparse.ArgumentTypeError(f"unknown stage {text!r}; choose one of {names}") from None


def _add_privacy_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--epsilon", type=_positive_float, default=None, help="target epsilon (DP on; noise calibrated to meet it)"
    )
    target.add_argument(
        "--noise", type=_positive_float, default=None, help="noise multiplier (DP on; epsilon reported)"
    )
    parser.add_argument("--delta", type=float, default=1e-5)
    parser.add_argument("--accountant", choices=sorted(dp.ACCOUNTANTS), default="rdp")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fedsecure", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    train = sub.add_parser("train", help="federated training with a protection backend")
    train.add_argument("--backend", choices=BACKENDS, default="plain")
    train.add_argument("--dataset", choices=DATASETS, default="breast_cancer")
    train.add_argument("--model", choices=MODELS, default="logreg")
    train.add_argument("--clients", type=_positive_int, default=10)
    train.add_argument(
        "--clients-per-round", type=_positive_int, default=None, help="clients sampled per round (default: all)"
    )
    train.add_argument(
        "--sampling",
        choices=("fixed", "poisson"),
        default=None,
        help="client sampling (default: poisson with DP, else fixed)",
    )
    train.add_argument("--rounds", type=_positive_int, default=10)
    train.add_argument("--alpha", type=_positive_float, default=None, help="Dirichlet non-IID split (default: IID)")
    train.add_argument("--local-epochs", type=_positive_int, default=3)
    train.add_argument("--batch-size", type=_positive_int, default=16)
    train.add_argument("--lr", type=_positive_float, default=0.3, help="client learning rate")
    train.add_argument("--server-lr", type=_positive_float, default=1.0)
    train.add_argument("--server-momentum", type=_fraction, default=0.0)
    train.add_argument("--dropout", type=_fraction, default=0.0, help="fraction of sampled clients dropping each round")
    train.add_argument(
        "--drop-stage",
        type=_stage,
        default=Stage.MASKED_INPUT,
        help="protocol stage at which they drop (default: masked_input)",
    )
    train.add_argument(
        "--threshold", type=_positive_int, default=None, help="secure aggregation threshold (default: the protocol's)"
    )
    train.add_argument(
        "--degree", type=_positive_int, default=None, help="SecAgg+ neighbour degree (default: about 2 log2 n)"
    )
    train.add_argument(
        "--corrupt-rate",
        type=_fraction,
        default=None,
        help="SecAgg+ sized from a threat model (Bell et al. 2020): fraction of clients colluding with the"
        " server (default 0 once --dropout-rate or --adversary is given)",
    )
    train.add_argument(
        "--dropout-rate",
        type=_fraction,
        default=None,
        help="threat model: fraction of clients that may drop (default: --dropout)",
    )
    train.add_argument(
        "--adversary",
        choices=ADVERSARIES,
        default=None,
        help="threat model: none, semi_honest or semi_malicious (default: semi_malicious with --active,"
        " else semi_honest)",
    )
    train.add_argument(
        "--key-holders",
        type=_positive_int,
        default=None,
        help="paillier: threshold Paillier with this many key holders",
    )
    train.add_argument(
        "--decrypt-threshold",
        type=_positive_int,
        default=None,
        help="paillier: key holders needed to decrypt (default: a majority of --key-holders)",
    )
    train.add_argument("--modulus-bits", type=int, default=32)
    train.add_argument("--active", action="store_true", help="active-server SecAgg setting")
    train.add_argument(
        "--value-clip",
        type=_positive_float,
        default=None,
        help="per-coordinate clip of the encoding (default: 4 SecAgg, 1 HE)",
    )
    _add_privacy_arguments(train)
    train.add_argument(
        "--dp",
        choices=DP_MODES,
        default=None,
        help="noise: central Gaussian at the server, or clients' distributed discrete Gaussian or Skellam, or"
        " Skellam with XNoise's removable excess that keeps the target noise through dropouts"
        " (default: distributed on secagg/secagg+, else central)",
    )
    train.add_argument(
        "--tolerated-dropout",
        type=_fraction,
        default=None,
        help="--dp skellam-xnoise: fraction of the sampled clients that may drop with the target noise kept"
        " (default 0.3)",
    )
    train.add_argument("--clip", type=_positive_float, default=0.25, help="DP per-client L2 clip of the update")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--seeded-sampling",
        action="store_true",
        help="sample clients from the seeded PRNG even under DP (reproducible; the epsilon then assumes a secret"
        " sample this run did not have)",
    )
    train.add_argument("--out", type=Path, default=Path("runs/latest"))
    train.add_argument("--no-baseline", action="store_true", help="skip the plaintext FedAvg run used for comparison")
    account = sub.add_parser("account", help="DP-FedAvg epsilon, or the noise for a target")
    _add_privacy_arguments(account)
    account.add_argument("--rounds", type=_positive_int, required=True)
    account.add_argument("--clients", type=_positive_int, required=True)
    account.add_argument("--clients-per-round", type=_positive_int, default=None)
    return parser


def _progress(total: int, label: str) -> tuple[tqdm, Callable[[RoundRecord], None]]:
    bar = tqdm(total=total, desc=label, unit="round", file=sys.stderr, leave=True)

    def on_round(record: RoundRecord) -> None:
        bar.set_postfix(
            acc=f"{100 * record.accuracy:.1f}%", eps="-" if record.epsilon is None else f"{record.epsilon:.2f}"
        )
        bar.update(1)

    return bar, on_round


def _setup(args: argparse.Namespace) -> tuple[FederatedDataset, FedAvgConfig, SecureAggregator, Privacy]:
    """Everything validated before round 1: data, config, privacy, aggregator."""
    data = load_federated(args.dataset, args.clients, alpha=args.alpha, seed=args.seed)
    private = args.epsilon is not None or args.noise is not None
    if args.dp is not None and not private:
        raise UsageError("--dp needs --epsilon or --noise")
    xnoise = args.dp == XNOISE
    if args.tolerated_dropout is not None and not xnoise:
        raise UsageError(f"--tolerated-dropout applies to --dp {XNOISE} only")
    per_round = min(args.clients_per_round or args.clients, args.clients)
    sampling = args.sampling or ("poisson" if private else "fixed")
    config = FedAvgConfig(
        rounds=args.rounds,
        clients_per_round=per_round,
        local=LocalConfig(epochs=args.local_epochs, batch_size=args.batch_size, lr=args.lr),
        server_lr=args.server_lr,
        server_momentum=args.server_momentum,
        dropout=args.dropout,
        drop_stage=args.drop_stage,
        sampling=sampling,
        seed=args.seed,
        seeded_sampling=args.seeded_sampling,
    )
    # Poisson sampling may draw more than clients_per_round: size the protocols for everyone.
    capacity = per_round if sampling == "fixed" else args.clients
    privacy: Privacy = NoPrivacy()
    codec = None
    if private:
        mode = args.dp or ("distributed" if args.backend.startswith("secagg") else "central")
        model = build_model(args.model, data.num_features, data.num_classes)
        dropped = 0 if args.drop_stage.update_sent else round(args.dropout * per_round)
        rate = per_round / args.clients if sampling == "poisson" or per_round == args.clients else None
        if rate is None:
            raise UsageError("DP needs --sampling poisson when sampling a subset of clients")
        dp_privacy = build_privacy(
            mode,
            epsilon=args.epsilon,
            noise=args.noise,
            l2_clip=args.clip,
            delta=args.delta,
            rounds=args.rounds,
            sample_rate=rate,
            dimension=Layout.of(model.state_dict()).size,
            expected_clients=per_round if xnoise else max(1, per_round - dropped),
            modulus_bits=args.modulus_bits,
            accountant=args.accountant,
            tolerated_dropout=(DEFAULT_TOLERATED_DROPOUT if args.tolerated_dropout is None else args.tolerated_dropout)
            if xnoise
            else None,
        )
        codec = getattr(dp_privacy, "codec", None)
        privacy = dp_privacy
    threat = args.corrupt_rate is not None or args.dropout_rate is not None or args.adversary is not None
    options = BackendOptions(
        clients_per_round=capacity,
        threshold=args.threshold,
        degree=args.degree,
        modulus_bits=args.modulus_bits,
        active=args.active,
        clip=args.value_clip,
        codec=codec,
        protect_weights=not private,
        corrupt_rate=args.corrupt_rate,
        dropout_rate=args.dropout if threat and args.dropout_rate is None else args.dropout_rate,
        adversary=args.adversary,
        key_holders=args.key_holders,
        decrypt_threshold=args.decrypt_threshold,
    )
    return data, config, build_aggregator(args.backend, options), privacy


OUTPUTS = ("history.json", "baseline.json", "history.png")


def _prepare_output(out: Path) -> None:
    """Create ``out`` and prove every output file can be written there, before round 1.

    On failure nothing is left behind: the directories this created are removed again.
    """
    created: list[Path] = []
    try:
        for directory in reversed([p for p in (out, *out.parents) if not p.exists()]):
            directory.mkdir()
            created.append(directory)
        if not out.is_dir():
            raise UsageError(f"--out {out} is not a directory")
        for name in OUTPUTS:
            target = out / name
            if target.exists() and not (target.is_file() and os.access(target, os.W_OK)):
                raise UsageError(f"cannot write {target}: it exists and is not a writable file")
        with tempfile.NamedTemporaryFile(dir=out, prefix=".fedsecure-write-test-"):
            pass
    except (OSError, UsageError) as exc:
        for directory in reversed(created):
            directory.rmdir()
        if isinstance(exc, UsageError):
            raise
        raise UsageError(f"cannot write to --out {out}: {exc.strerror or exc}") from exc


def _train(args: argparse.Namespace) -> int:
    torch.set_num_threads(1)
    try:
        data, config, aggregator, privacy = _setup(args)
    except SETUP_ERRORS as exc:
        raise UsageError(str(exc)) from exc
    _prepare_output(args.out)
    print(f"threat model: {aggregator.threat_model()}", file=sys.stderr)

    def run(agg: SecureAggregator, priv: Privacy, label: str) -> History:
        model = build_model(args.model, data.num_features, data.num_classes, seed=args.seed)
        bar, on_round = _progress(args.rounds, label)
        with bar:
            history, _ = run_fedavg(model, data, agg, config, priv, on_round)
        return history

    baseline = None if args.no_baseline else run(PlainAggregator(), NoPrivacy(), "plaintext")
    history = run(aggregator, privacy, args.backend)
    history.write_json(args.out / "history.json")
    if baseline is not None:
        baseline.write_json(args.out / "baseline.json")
    plot(history, baseline, args.out / "history.png")
    print(table(history, baseline))
    print(summary(history, baseline))
    print(f"wrote {args.out / 'history.json'} and {args.out / 'history.png'}")
    return 0


def _account(args: argparse.Namespace) -> int:
    per_round = min(args.clients_per_round or args.clients, args.clients)
    rate = per_round / args.clients
    try:
        if args.noise is not None:
            eps = dp.dpsgd_epsilon(args.noise, rate, args.rounds, args.delta, args.accountant)
            print(
                f"epsilon {eps:.4f} at delta {args.delta} after {args.rounds} rounds "
                f"(noise multiplier {args.noise}, client sampling rate {rate:.4g}, "
                f"{args.accountant})"
            )
        elif args.epsilon is not None:
            noise = dp.calibrate(args.epsilon, args.delta, rate, args.rounds, args.accountant)
            print(
                f"noise multiplier {noise:.4f} meets epsilon {args.epsilon} at delta "
                f"{args.delta} after {args.rounds} rounds (client sampling rate {rate:.4g}, "
                f"{args.accountant})"
            )
        else:
            raise UsageError("account needs --noise or --epsilon")
    except (ValueError, dp.DPError) as exc:
        raise UsageError(str(exc)) from exc
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m protocols` and the `fedsecure` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return {"train": _train, "account": _account}[args.command](args)
    except UsageError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


__all__ = ["main", "build_parser"]
