"""Homomorphic aggregation on Flower's in-memory machinery: the ServerApp only adds ciphertexts,
one key holder node generates the key, keeps it in its own Context, and decrypts only the aggregate."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

flwr = pytest.importorskip("flwr")

import he  # noqa: E402
from protocols.aggregators.base import AggregationError  # noqa: E402
from protocols.flower import HEWorkflow, he_mod  # noqa: E402
from protocols.flower.he_node import RECORD  # noqa: E402
from protocols.flower.he_workflow import _Round  # noqa: E402

from flower_testing import MAX_WEIGHT, SHAPES, make_federation  # noqa: E402


def _expected(federation, updates, examples, nodes) -> np.ndarray:
    included = [federation.nodes.index(n) for n in nodes]
    weights = np.array([examples[i] / MAX_WEIGHT for i in included])
    return weights @ np.array([np.concatenate([a.ravel() for a in updates[i]]) for i in included]) / weights.sum()


def _run(federation, workflow: HEWorkflow, rounds: int) -> list[dict]:
    with federation:
        _, outcomes = federation.fit_rounds(workflow, [np.zeros(s) for s in SHAPES], rounds)
    return outcomes


def test_ckks_rounds_give_the_weighted_average_and_the_server_never_holds_a_secret() -> None:
    federation, updates, examples = make_federation(5, seed=11, mod=he_mod)
    holder_node = federation.nodes[0]
    workflow = HEWorkflow("ckks", key_holder=holder_node, max_clients=5, max_weight=MAX_WEIGHT)
    outcomes = _run(federation, workflow, 2)
    assert [o["exchanges"] for o in outcomes] == [3, 2]  # key generation once, then fit + decryption
    for outcome in outcomes:
        assert outcome["status"] == "completed", outcome
        got = np.concatenate([a.ravel() for a in outcome["global"]])
        np.testing.assert_allclose(got, _expected(federation, updates, examples, outcome["included"]), atol=1e-4)
    # The server's side is the public context alone: it cannot decrypt, and no reply carried a secret.
    assert isinstance(workflow.public, he.CKKSPublic)
    assert not workflow.public.context.has_secret_key() and not hasattr(workflow.public, "decrypt")
    secret = federation.contexts[holder_node].state.config_records["he.key_holder"]["secret"]
    restored = he.load_key_holder(secret)
    ciphertext = workflow.public.encrypt(np.array([0.5]))
    assert float(restored.decrypt(ciphertext)[0]) == pytest.approx(0.5, abs=1e-5)  # the node really holds it
    secret_key = restored._context.serialize(save_public_key=False, save_secret_key=True)
    for _, reply in federation.replies:
        record = reply.content.config_records.get(RECORD) if reply.has_content() else None
        for value in (record or {}).values():
            assert not (isinstance(value, bytes) and (secret in value or secret_key[-512:] in value))
    for node in federation.nodes[1:]:
        assert "he.key_holder" not in federation.contexts[node].state.config_records


def test_a_client_lost_at_fit_is_left_out_and_a_lost_key_holder_halts_cleanly() -> None:
    federation, updates, examples = make_federation(5, seed=12, mod=he_mod, offline={3: "encrypt"})
    workflow = HEWorkflow("ckks", key_holder=federation.nodes[0], max_clients=5, max_weight=MAX_WEIGHT)
    (outcome,) = _run(federation, workflow, 1)
    assert outcome["status"] == "completed" and federation.nodes[3] not in outcome["included"]
    got = np.concatenate([a.ravel() for a in outcome["global"]])
    np.testing.assert_allclose(got, _expected(federation, updates, examples, outcome["included"]), atol=1e-4)

    federation, _, _ = make_federation(4, seed=13, mod=he_mod, offline={0: "decrypt"})
    workflow = HEWorkflow("ckks", key_holder=federation.nodes[0], max_clients=4, max_weight=MAX_WEIGHT, timeout=5)
    (outcome,) = _run(federation, workflow, 1)
    assert outcome["status"] == "halted" and "key holder" in str(outcome["reason"])
    np.testing.assert_array_equal(np.concatenate([a.ravel() for a in outcome["global"]]), 0.0)


def test_the_key_holder_refuses_to_decrypt_a_single_clients_ciphertext() -> None:
    """A server that sends one client's ciphertext for decryption gets nothing back (the declared
    weight is below what min_clients clients carry)."""
    federation, _, _ = make_federation(3, seed=14, mod=he_mod)
    workflow = HEWorkflow("ckks", key_holder=federation.nodes[0], max_clients=3, min_clients=2, max_weight=MAX_WEIGHT)
    with federation:
        federation.fit_rounds(workflow, [np.zeros(s) for s in SHAPES], 1)
        single = workflow.public.encrypt(np.ones(11) * 0.1, weight=workflow.factor)
        with pytest.raises(AggregationError, match="not an aggregate"):
            workflow._decrypt(federation.grid, _Round(1), single.serialize(), 11)


def test_he_workflow_parameters_are_checked_up_front() -> None:
    for kwargs in ({"scheme": "rsa"}, {"max_clients": 0}, {"clip": float("inf")}, {"timeout": -1}):
        with pytest.raises(AggregationError):
            HEWorkflow(**{"key_holder": 1, **kwargs})


def test_packed_paillier_rounds_give_the_weighted_average() -> None:
    federation, updates, examples = make_federation(4, seed=15, mod=he_mod)
    workflow = HEWorkflow(
        "paillier", key_holder=federation.nodes[1], max_clients=4, max_weight=MAX_WEIGHT, key_bits=2048, bits=16
    )
    outcomes = _run(federation, workflow, 2)
    assert [o["exchanges"] for o in outcomes] == [3, 2]
    assert isinstance(workflow.public, he.PaillierPublic) and not hasattr(workflow.public, "decrypt")
    for outcome in outcomes:
        assert outcome["status"] == "completed", outcome
        got = np.concatenate([a.ravel() for a in outcome["global"]])
        np.testing.assert_allclose(got, _expected(federation, updates, examples, outcome["included"]), atol=1e-3)


def test_importing_both_client_mods_loads_no_heavy_module() -> None:
    """A ClientApp with ``he_mod`` (and ``secagg_mod``) starts without TenSEAL or the numerical stack: `he`
    loads when a stage needs it."""
    heavy = ("torch", "sklearn", "tenseal", "matplotlib", "scipy", "he", "protocols.fedavg")
    probe = (
        "import sys, protocols.flower; from protocols.flower import secagg_mod, he_mod; "
        f"print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert loaded.stdout.strip() == ""


THRESHOLD_KEY = dict(max_weight=MAX_WEIGHT, key_bits=1024, bits=16)  # 1024-bit: WeakKeyWarning, for speed


@pytest.mark.filterwarnings("ignore::he.WeakKeyWarning")
def test_threshold_paillier_two_of_three_holders_decrypt_and_no_node_or_server_holds_the_key() -> None:
    federation, updates, examples = make_federation(4, seed=16, mod=he_mod, offline={2: "partial"})
    holders = tuple(federation.nodes[:3])
    workflow = HEWorkflow(
        "threshold-paillier", key_holders=holders, decrypt_threshold=2, max_clients=4, **THRESHOLD_KEY
    )
    outcomes = _run(federation, workflow, 2)
    # Enroll, deal, accept once; then fit + partial decryption. Holder 3 is lost at its first partial:
    # two of three still decrypt, in both rounds.
    assert [o["exchanges"] for o in outcomes] == [5, 2]
    for outcome in outcomes:
        assert outcome["status"] == "completed", outcome
        got = np.concatenate([a.ravel() for a in outcome["global"]])
        np.testing.assert_allclose(got, _expected(federation, updates, examples, outcome["included"]), atol=1e-3)
    assert isinstance(workflow.public, he.ThresholdPaillierPublic) and not hasattr(workflow.public, "decrypt")
    shares = {}
    for node in federation.nodes:
        records = federation.contexts[node].state.config_records
        assert "he.key_holder" not in records and "he.enrollment" not in records
        if node in holders:
            shares[node] = records["he.threshold_holder"]["secret"]
        else:
            assert "he.threshold_holder" not in records
    assert len({he.load_key_holder(s).index for s in shares.values()}) == 3  # one distinct share each
    for _, reply in federation.replies:  # no share crossed the server in the clear
        record = reply.content.config_records.get(RECORD) if reply.has_content() else None
        for value in (record or {}).values():
            for item in value if isinstance(value, list) else [value]:
                assert not (isinstance(item, bytes) and any(s[-64:] in item for s in shares.values()))


@pytest.mark.filterwarnings("ignore::he.WeakKeyWarning")
def test_threshold_paillier_names_a_holder_whose_partial_is_forged_and_halts_below_the_threshold() -> None:
    federation, updates, examples = make_federation(3, seed=17, mod=he_mod)
    holders = tuple(federation.nodes)
    workflow = HEWorkflow(
        "threshold-paillier", key_holders=holders, decrypt_threshold=2, max_clients=3, **THRESHOLD_KEY
    )
    with federation:
        federation.fit_rounds(workflow, [np.zeros(s) for s in SHAPES], 1)
        public = workflow.public
        aggregate = public.aggregate([public.encrypt(np.full(11, 0.25)), public.encrypt(np.full(11, 0.5))])
        # Holder 1's saved share replaced by holder 2's: its partial carries index 2 from node 1.
        state = federation.contexts[holders[1]].state.config_records["he.threshold_holder"]
        federation.contexts[holders[0]].state.config_records["he.threshold_holder"] = state
        run = _Round(2)
        total = workflow._threshold_decrypt(federation.grid, run, public, aggregate)
        np.testing.assert_allclose(total[:11], 0.75, atol=1e-3)
        assert list(run.refused_holders) == [holders[0]]
        # Two of three forged: fewer than two valid partials is a clean halt.
        federation.contexts[holders[2]].state.config_records["he.threshold_holder"] = state
        with pytest.raises(AggregationError, match="threshold decryption"):
            workflow._threshold_decrypt(federation.grid, _Round(3), public, aggregate)


def test_threshold_paillier_parameters_are_checked_up_front() -> None:
    for kwargs in (
        {"key_holders": (1, 2, 3)},  # no threshold
        {"key_holders": (1, 2, 3), "decrypt_threshold": 4},
        {"key_holders": (1, 1, 2), "decrypt_threshold": 2},
        {"key_holders": (1, 2), "decrypt_threshold": 2, "key_holder": 1},
        {"key_holder": 1},
    ):
        with pytest.raises(AggregationError):
            HEWorkflow("threshold-paillier", **kwargs)
    with pytest.raises(AggregationError):
        HEWorkflow("paillier", key_holder=1, key_holders=(1, 2), decrypt_threshold=2)
