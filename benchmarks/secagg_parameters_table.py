"""The README's table of SecAgg+ degree / threshold derived from the threat model (issue 10).

For n in {10^2, ..., 10^6} and a few threat models, ``secagg.graph_parameters`` (Bell et al. CCS 2020,
Sec. 3-4; the bounds of ``secagg.threat_model``, 2^-40 security and 2^-20 correctness) beside the
fixed 2 ceil(log2 n) of ``secagg.recommended_degree``. Prints the markdown table on stdout (well
under a second); ``tests/secagg/test_secagg_parameters_table.py`` checks that README.md holds it.

    python benchmarks/secagg_parameters_table.py
"""

from __future__ import annotations

import secagg

SIZES = (10**2, 10**3, 10**4, 10**5, 10**6)
MODELS = (
    ("none", 0.0, 0.1),
    ("semi_honest", 0.05, 0.05),
    ("semi_honest", 0.1, 0.1),
    ("semi_honest", 0.2, 0.2),
    ("semi_malicious", 0.1, 0.1),
)
_NAMES = {"none": "no adversary", "semi_honest": "semi-honest", "semi_malicious": "semi-malicious"}


def table() -> str:
    """The markdown table: one row per n, one "degree / threshold" column per threat model."""
    heads = [f"{_NAMES[a]}, {c:.0%} corrupt, {d:.0%} drop" for a, c, d in MODELS]
    lines = [
        "| n | 2 ceil(log2 n) | " + " | ".join(heads) + " |",
        "|---|---|" + "---|" * len(MODELS),
    ]
    for n in SIZES:
        cells = []
        for adversary, corrupt, dropout in MODELS:
            p = secagg.graph_parameters(n, corrupt_rate=corrupt, dropout_rate=dropout, adversary=adversary)
            cells.append(f"{p.degree} / {p.threshold}")
        lines.append(f"| 10^{len(str(n)) - 1} | {secagg.recommended_degree(n)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
