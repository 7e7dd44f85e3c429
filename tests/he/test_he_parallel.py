"""Process-parallel Paillier encryption gives ciphertexts equivalent to serial ones."""

from __future__ import annotations

import numpy as np
import pytest

import he
from he.parallel import ParallelEncryptor


def test_parallel_encryption_matches_serial(paillier_holder: he.PaillierKeyHolder) -> None:
    public = paillier_holder.public()
    values = np.random.default_rng(5).uniform(-1, 1, size=3 * public.layout.per_plaintext + 7)
    with ParallelEncryptor(public, workers=2) as encryptor:
        parallel = encryptor.encrypt(values, weight=3)
    serial = public.encrypt(values, weight=3)
    assert (parallel.length, parallel.weight, parallel.weighted) == (serial.length, serial.weight, serial.weighted)
    assert parallel.nbytes == serial.nbytes
    received = public.load_ciphertext(parallel.serialize())  # passes the range checks
    np.testing.assert_array_equal(paillier_holder.decrypt(received), paillier_holder.decrypt(serial))


def test_worker_count_is_validated(paillier_holder: he.PaillierKeyHolder) -> None:
    with pytest.raises(he.ParameterError):
        ParallelEncryptor(paillier_holder.public(), workers=0)
