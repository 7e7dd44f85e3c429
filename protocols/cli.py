"""`python -m protocols` / `fedsecure`: federated training and privacy accounting.

Subcommands:
  train    run FedAvg with a chosen protection backend (and DP), print a table
           against the plaintext run, write history.json and history.png
  account  epsilon of DP-FedAvg for given noise, sampling rate and rounds

Bad arguments end with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import torch
from tqdm import tqdm

from secagg import ProtocolError

from he.errors import HEError
from protocols.aggregators.base import DropStage, PlainAggregator
from protocols.backends import BACKENDS, BackendOptions, build_aggregator
from protocols.datasets import DATASETS, load_federated
from protocols.fedavg import FedAvgConfig, run_fedavg
from protocols.history import History, RoundRecord
from protocols.local import LocalConfig
from protocols.models import MODELS, build_model
from protocols.privacy import NoPrivacy
from protocols.report import plot, summary, table

EXIT_USAGE = 2


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


def _stage(text: str) -> DropStage:
    try:
        return DropStage[text.upper()]
    except KeyError:
        names = ", ".join(s.name.lower() for s in DropStage)
        raise argparse.ArgumentTypeError(f"unknown stage {text!r}; choose one of {names}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fedsecure", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    train = sub.add_parser("train", help="federated training with a protection backend")
    train.add_argument("--backend", choices=BACKENDS, default="plain")
    train.add_argument("--dataset", choices=DATASETS, default="breast_cancer")
    train.add_argument("--model", choices=MODELS, default="logreg")
    train.add_argument("--clients", type=_positive_int, default=10)
    train.add_argument("--clients-per-round", type=_positive_int, default=None,
                       help="clients sampled per round (default: all)")
    train.add_argument("--rounds", type=_positive_int, default=10)
    train.add_argument("--alpha", type=float, default=None,
                       help="Dirichlet non-IID split (default: IID)")
    train.add_argument("--local-epochs", type=_positive_int, default=1)
    train.add_argument("--batch-size", type=_positive_int, default=16)
    train.add_argument("--lr", type=float, default=0.1, help="client learning rate")
    train.add_argument("--server-lr", type=float, default=1.0)
    train.add_argument("--server-momentum", type=float, default=0.0)
    train.add_argument("--dropout", type=float, default=0.0,
                       help="fraction of sampled clients dropping each round")
    train.add_argument("--drop-stage", type=_stage, default=DropStage.MASKED_INPUT,
                       help="protocol stage at which they drop (default: masked_input)")
    train.add_argument("--threshold", type=_positive_int, default=None,
                       help="secure aggregation threshold (default: the protocol's)")
    train.add_argument("--degree", type=_positive_int, default=None,
                       help="SecAgg+ neighbour degree (default: chosen from n)")
    train.add_argument("--modulus-bits", type=int, default=32)
    train.add_argument("--active", action="store_true", help="active-server SecAgg setting")
    train.add_argument("--value-clip", type=float, default=None,
                       help="per-coordinate clip of the encoding (default: 4 SecAgg, 1 HE)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", type=Path, default=Path("runs/latest"))
    train.add_argument("--no-baseline", action="store_true",
                       help="skip the plaintext FedAvg run used for comparison")
    return parser


def _progress(total: int, label: str) -> tuple[tqdm, object]:
    bar = tqdm(total=total, desc=label, unit="round", file=sys.stderr, leave=True)

    def on_round(record: RoundRecord) -> None:
        bar.set_postfix(acc=f"{100 * record.accuracy:.1f}%",
                        eps="-" if record.epsilon is None else f"{record.epsilon:.2f}")
        bar.update(1)

    return bar, on_round


def _train(args: argparse.Namespace) -> int:
    torch.set_num_threads(1)
    try:
        data = load_federated(args.dataset, args.clients, alpha=args.alpha, seed=args.seed)
        per_round = min(args.clients_per_round or args.clients, args.clients)
        config = FedAvgConfig(
            rounds=args.rounds, clients_per_round=per_round,
            local=LocalConfig(epochs=args.local_epochs, batch_size=args.batch_size, lr=args.lr),
            server_lr=args.server_lr, server_momentum=args.server_momentum,
            dropout=args.dropout, drop_stage=args.drop_stage, seed=args.seed,
        )
        options = BackendOptions(
            clients_per_round=per_round, threshold=args.threshold, degree=args.degree,
            modulus_bits=args.modulus_bits, active=args.active, clip=args.value_clip,
        )
        aggregator = build_aggregator(args.backend, options)
        privacy = NoPrivacy()
        args.out.mkdir(parents=True, exist_ok=True)
    except (ValueError, OSError, ProtocolError, HEError) as exc:
        raise UsageError(str(exc)) from exc

    def run(agg, priv, label: str) -> History:
        model = build_model(args.model, data.num_features, data.num_classes, seed=args.seed)
        bar, on_round = _progress(args.rounds, label)
        with bar:
            history, _ = run_fedavg(model, data, agg, config, priv, on_round)
        return history

    baseline = None if args.no_baseline else run(PlainAggregator(), NoPrivacy(), "plaintext")
    history = run(aggregator, privacy, args.backend)
    history.config["delta"] = getattr(privacy, "delta", None)
    history.write_json(args.out / "history.json")
    if baseline is not None:
        baseline.write_json(args.out / "baseline.json")
    plot(history, baseline, args.out / "history.png")
    print(table(history, baseline))
    print(summary(history, baseline))
    print(f"wrote {args.out / 'history.json'} and {args.out / 'history.png'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m protocols` and the `fedsecure` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return {"train": _train}[args.command](args)
    except UsageError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


__all__ = ["main", "build_parser"]
