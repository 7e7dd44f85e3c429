"""The final table on stdout and the PNG plot of accuracy and cost per round."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from protocols.history import History, RoundRecord  # noqa: E402


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def client_seconds(record: RoundRecord) -> float:
    """Protection work per client in a round (sum of the `client.*` phase means)."""
    return sum(v for k, v in record.seconds.items() if k.startswith("agg.client."))


def table(history: History, baseline: History | None) -> str:
    """One row per round: accuracy (and the plaintext run's), epsilon, bytes, seconds."""
    head = ["round", "acc", "plain acc", "epsilon", "up/client", "down/client", "s/client", "s/round", "note"]
    rows = [head]
    for i, rec in enumerate(history.rounds):
        plain = baseline.rounds[i].accuracy if baseline else None
        rows.append(
            [
                str(rec.round),
                f"{100 * rec.accuracy:.2f}%",
                f"{100 * plain:.2f}%" if plain is not None else "-",
                f"{rec.epsilon:.3f}" if rec.epsilon is not None else "-",
                _fmt_bytes(rec.bytes_up_per_client),
                _fmt_bytes(rec.bytes_down_per_client),
                f"{client_seconds(rec):.4f}",
                f"{rec.seconds['round']:.2f}",
                "skipped: " + (rec.reason or "") if rec.skipped else f"{len(rec.included)}/{len(rec.sampled)} included",
            ]
        )
    widths = [max(len(r[c]) for r in rows) for c in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def summary(history: History, baseline: History | None) -> str:
    """The one-paragraph verdict: final accuracy against plaintext, privacy, cost."""
    done = [r for r in history.rounds if not r.skipped]
    parts = [f"final accuracy {100 * history.final_accuracy:.2f}%"]
    if baseline is not None:
        delta = 100 * (history.final_accuracy - baseline.final_accuracy)
        parts.append(f"plaintext FedAvg {100 * baseline.final_accuracy:.2f}% ({delta:+.2f} points)")
    if history.final_epsilon is not None:
        params = history.config.get("privacy_params", {})
        parts.append(
            f"epsilon {history.final_epsilon:.3f} at delta {params.get('delta')} "
            f"(noise multiplier {params.get('noise_multiplier', 0):.3f}, "
            f"L2 clip {params.get('l2_clip')})"
        )
        sampling = str(history.config.get("client_sampling", ""))
        if sampling.startswith("seeded;"):
            parts.append("epsilon assumes secret client sampling, but this run sampled with a seeded PRNG")
    if done:
        up = sum(r.bytes_up_per_client for r in done) / len(done)
        sec = sum(r.seconds["round"] for r in done) / len(done)
        client = sum(client_seconds(r) for r in done) / len(done)
        parts.append(
            f"{_fmt_bytes(up)} up and {client:.4f} s of protection work per client "
            f"per round, {sec:.2f} s per simulated round"
        )
    skipped = len(history.rounds) - len(done)
    if skipped:
        parts.append(f"{skipped} round(s) skipped below threshold")
    return "; ".join(parts)


def plot(history: History, baseline: History | None, path: Path) -> None:
    """Accuracy per round (against plaintext) and bytes/seconds per round, as a PNG."""
    rounds = [r.round for r in history.rounds]
    fig, (ax_acc, ax_cost) = plt.subplots(1, 2, figsize=(10, 4))
    ax_acc.plot(rounds, [r.accuracy for r in history.rounds], "o-", label=history.config["aggregator"])
    if baseline is not None:
        ax_acc.plot(rounds, [r.accuracy for r in baseline.rounds], "s--", label="plaintext")
    ax_acc.set(xlabel="round", ylabel="test accuracy", title="accuracy")
    ax_acc.legend(loc="lower right")
    epsilons = [r.epsilon for r in history.rounds]
    if all(e is not None for e in epsilons):
        ax_eps = ax_acc.twinx()
        ax_eps.plot(rounds, epsilons, ":", color="tab:green")
        ax_eps.set_ylabel("epsilon spent", color="tab:green")
    ax_cost.bar(rounds, [r.bytes_up_per_client / 1024 for r in history.rounds], color="tab:blue")
    ax_cost.set(xlabel="round", ylabel="KB up per client", title="cost per round")
    ax_sec = ax_cost.twinx()
    ax_sec.plot(rounds, [r.seconds["round"] for r in history.rounds], "o-", color="tab:red")
    ax_sec.set_ylabel("seconds per round", color="tab:red")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
