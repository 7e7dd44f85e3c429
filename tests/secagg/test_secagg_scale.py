"""SecAgg+ over many clients, the clients in worker processes (`secagg.parallel`).

The inputs have a closed-form sum, x_u[j] = u * (j + 1) mod 2^32, so the expected total of any
included set I is sum(I) * (j + 1) mod 2^32: the check never sums the vectors it checks.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import secagg
from secagg.parallel import ClientPool, ClientSetup, default_workers

WORDS = 1000
MASK32 = np.uint64(0xFFFFFFFF)


def closed_form_inputs(n: int, m: int) -> dict[int, np.ndarray]:
    """x_u[j] = u * (j + 1) mod 2^32, uint32 rows of one array (views, no copy per client)."""
    ids = np.arange(1, n + 1, dtype=np.uint64)[:, None]
    block = ((ids * np.arange(1, m + 1, dtype=np.uint64)) & MASK32).astype(np.uint32)
    return {u: block[u - 1] for u in range(1, n + 1)}


def closed_form_total(included: tuple[int, ...], m: int) -> np.ndarray:
    return (np.uint64(sum(included) % 2**32) * np.arange(1, m + 1, dtype=np.uint64)) & MASK32


def dropouts(n: int) -> dict[int, secagg.Stage]:
    """Every tenth client drops before its masked input, every fiftieth (of the rest) before unmasking."""
    drops = {u: secagg.Stage.MASKED_INPUT for u in range(10, n + 1, 10)}
    drops.update({u: secagg.Stage.UNMASKING for u in range(7, n + 1, 50) if u not in drops})
    return drops


def run(n: int, workers: int | None) -> secagg.AggregateResult:
    degree = secagg.recommended_degree(n)
    return secagg.simulate(
        closed_form_inputs(n, WORDS),
        threshold=secagg.default_threshold(degree + 1),
        degree=degree,
        dropouts=dropouts(n),
        seed=1,
        workers=workers,
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_the_sum_is_exact_in_one_process_and_over_workers(workers: int) -> None:
    n = 300
    result = run(n, workers)
    assert result.included == tuple(u for u in range(1, n + 1) if u % 10)
    np.testing.assert_array_equal(result.total, closed_form_total(result.included, WORDS))


def test_workers_report_the_same_bytes_as_one_process() -> None:
    one, two = run(120, 1), run(120, 2)
    assert one.included == two.included
    assert one.bytes_sent == two.bytes_sent
    assert one.bytes_received == two.bytes_received


def test_a_protocol_error_in_a_worker_is_raised_here_as_itself() -> None:
    config = secagg.SessionConfig.create(range(1, 5), threshold=3, vector_length=10)
    setup = ClientSetup(config, closed_form_inputs(4, 10), {}, None, None)
    with ClientPool(setup, 2) as pool:
        replies = list(pool.run(secagg.Stage.ADVERTISE_KEYS, dict.fromkeys(range(1, 5))))
        assert sorted(r.client for r in replies) == [1, 2, 3, 4]
        with pytest.raises(secagg.InvalidMessageError):
            list(pool.run(secagg.Stage.SHARE_KEYS, {1: b"not a frame"}))


def test_workers_below_one_are_refused() -> None:
    with pytest.raises(secagg.ConfigurationError, match="workers"):
        secagg.simulate(closed_form_inputs(4, 10), threshold=3, workers=0)


def test_thousands_of_clients_use_every_core() -> None:
    assert default_workers(100) == 1
    assert default_workers(10_000) == min(os.cpu_count() or 1, 8)


@pytest.mark.slow
def test_ten_thousand_clients_sum_exactly() -> None:
    n = 10_000
    result = run(n, None)
    assert len(result.included) == n - len([u for u, s in dropouts(n).items() if s == secagg.Stage.MASKED_INPUT])
    np.testing.assert_array_equal(result.total, closed_form_total(result.included, WORDS))
