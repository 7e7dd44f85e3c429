"""Shared fixtures for the ``he`` tests: one key holder per scheme and session.

Paillier keys here are 2048-bit (the smallest size ``he`` accepts) and use
the fast DJN path for the many-client property tests, so the suite stays
fast; the standard path and the 3072-bit default get their own tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

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


@pytest.fixture(scope="session")
def ckks_holder() -> he.CKKSKeyHolder:
    return he.CKKSScheme.generate()


@pytest.fixture(scope="session")
def paillier_holder() -> he.PaillierKeyHolder:
    return he.PaillierScheme.generate(**PAILLIER_TEST_PARAMS, fast_encryption=True)


@pytest.fixture(scope="session")
def paillier_standard_holder() -> he.PaillierKeyHolder:
    return he.PaillierScheme.generate(**PAILLIER_TEST_PARAMS)


def _ckks_case(holder: he.CKKSKeyHolder) -> SchemeCase:
    public = holder.public()
    preset = public.preset
    # Clients pre-weight with normalized weights (sample count / public total).
    return SchemeCase(
        "ckks", holder, public, preset.slots,
        lambda counts: [c / sum(counts) for c in counts],
        lambda total: 1e-5,  # measured < 7e-6 at 1000 clients for the default preset
    )


def _paillier_case(holder: he.PaillierKeyHolder) -> SchemeCase:
    public = holder.public()
    layout = public.layout
    return SchemeCase(
        "paillier", holder, public, layout.per_plaintext,
        lambda counts: list(counts),
        lambda total: layout.error_bound(int(total)) + 1e-9 * max(total, 1.0),
    )


@pytest.fixture(scope="session", params=["ckks", "paillier"])
def scheme(request: pytest.FixtureRequest) -> SchemeCase:
    if request.param == "ckks":
        return _ckks_case(request.getfixturevalue("ckks_holder"))
    return _paillier_case(request.getfixturevalue("paillier_holder"))


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)
