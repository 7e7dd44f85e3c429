"""Shared fixtures for the ``he`` tests: one key holder per scheme and session.

Paillier keys here are 2048-bit (the smallest size ``he`` accepts) and use
the fast DJN path for the many-client property tests, so the suite stays
fast; the standard path and the 3072-bit default get their own tests.
"""

from __future__ import annotations

import numpy as np
import pytest
from he_cases import PAILLIER_TEST_PARAMS, SchemeCase, ckks_case, paillier_case

import he


@pytest.fixture(scope="session")
def ckks_holder() -> he.CKKSKeyHolder:
    return he.CKKSScheme.generate()


@pytest.fixture(scope="session")
def paillier_holder() -> he.PaillierKeyHolder:
    return he.PaillierScheme.generate(**PAILLIER_TEST_PARAMS, fast_encryption=True)


@pytest.fixture(scope="session")
def paillier_standard_holder() -> he.PaillierKeyHolder:
    return he.PaillierScheme.generate(**PAILLIER_TEST_PARAMS)


@pytest.fixture(scope="session", params=["ckks", "paillier"])
def scheme(request: pytest.FixtureRequest) -> SchemeCase:
    if request.param == "ckks":
        return ckks_case(request.getfixturevalue("ckks_holder"))
    return paillier_case(request.getfixturevalue("paillier_holder"))


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)
