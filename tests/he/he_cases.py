"""Scheme cases for the shared ``he`` contract tests (used by conftest and the tests).

Paillier test keys are 2048-bit, the smallest size ``he`` accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import he

#: Packing parameters of the test Paillier keys: 16-bit values, total weight up to 1000.
PAILLIER_TEST_PARAMS = dict(key_bits=2048, bits=16, clip=1.0, max_total_weight=1000)


@dataclass
class SchemeCase:
    """One scheme under the shared contract, with what differs between schemes."""

    name: str
    holder: he.KeyHolder
    public: he.PublicScheme
    slots: int  # values per ciphertext chunk
    weights_from_counts: Callable[[list[int]], list[float]]
    bound: Callable[[float], float]  # max abs error of a weighted sum of total weight W


def ckks_case(holder: he.CKKSKeyHolder) -> SchemeCase:
    public = holder.public()
    preset = public.preset
    # Clients pre-weight with normalized weights (sample count / public total).
    return SchemeCase(
        "ckks",
        holder,
        public,
        preset.slots,
        lambda counts: [c / sum(counts) for c in counts],
        lambda total: 1e-5,  # measured < 7e-6 at 1000 clients for the default preset
    )


def paillier_case(holder: he.PaillierKeyHolder) -> SchemeCase:
    public = holder.public()
    layout = public.layout
    return SchemeCase(
        "paillier",
        holder,
        public,
        layout.per_plaintext,
        lambda counts: list(counts),
        lambda total: layout.error_bound(int(total)) + 1e-9 * max(total, 1.0),
    )
