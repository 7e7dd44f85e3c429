"""Flower's SecAgg+ (flwr 1.42) run in-process: the peer that ``secagg_bench.py`` compares against.

Every cryptographic and arithmetic step is Flower's own code:

* clients: the four stage functions of ``flwr.client.mod.secure_aggregation.secaggplus_mod``
  (``_setup``, ``_share_keys``, ``_collect_masked_vectors``, ``_unmask``) behind the same
  ``check_configs`` validation, called directly with Flower ``ConfigRecord`` inputs;
* server: ``SecAggPlusWorkflow`` validates the configuration; its stage methods need a live
  grid, so the work they do inline (share-count/threshold rounding, the shuffled-ring
  neighbour graph, summing the masked vectors, the unmask loop) is replayed here statement
  for statement with Flower's functions (``combine_shares``, ``generate_shared_key``,
  ``pseudo_rand_gen``, ``parameters_*``, ``dequantize``).

No grid, messages or simulation engine run, so the timings hold the per-client and server
work only. The protocol is Bonawitz et al., CCS 2017, Sec. 4 (advertise keys, share keys,
masked input, unmasking) over the sparse graph of Bell et al., CCS 2020, Sec. 3, which
Flower builds as a shuffled ring with an odd number of shares.

Run as a script to print one JSON line: ``python benchmarks/flower_peer.py --n 20 --m 1000``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

try:  # flwr is an optional benchmark dependency
    import flwr
    from flwr.app import ConfigRecord
    from flwr.common import bytes_to_ndarray, ndarrays_to_parameters
    from flwr.common.secure_aggregation.crypto.shamir import combine_shares, create_shares
    from flwr.common.secure_aggregation.crypto.symmetric_encryption import (
        encrypt,
        generate_shared_key,
    )
    from flwr.common.secure_aggregation.ndarrays_arithmetic import (
        factor_extract,
        parameters_addition,
        parameters_mod,
        parameters_subtraction,
    )
    from flwr.common.secure_aggregation.quantization import dequantize
    from flwr.common.secure_aggregation.secaggplus_constants import Key, Stage
    from flwr.common.secure_aggregation.secaggplus_utils import (
        pseudo_rand_gen,
        share_keys_plaintext_concat,
    )
    from flwr.server.workflow import SecAggPlusWorkflow
    from flwr.supercore.primitives.asymmetric import bytes_to_private_key, bytes_to_public_key

    # the package re-exports the mod function under the module's name, hence import_module
    fl_client = importlib.import_module("flwr.client.mod.secure_aggregation.secaggplus_mod")
except ImportError:
    flwr = None

#: ``SecAggPlusWorkflow``'s default ``max_weight``. Every client reports this many examples,
#: so Flower's weight ratio is 1 and its quantizer sees the raw update (clip 8, 2^22 levels).
MAX_WEIGHT = 1000.0
NUM_EXAMPLES = 1000
PILOT_CLIENTS = 3
PILOT_SECRETS = 2
PILOT_NOTE = (
    "extrapolated: all clients advertised keys; 3 surviving clients ran share keys and masking "
    "for real (neighbours' ciphertexts built with Flower's encrypt); server sum, combine_shares "
    "and mask removal timed on 2-3 items of each kind and scaled linearly by their count"
)


class FlowerAbort(RuntimeError):
    """Flower's workflow would halt the round (``_check_threshold`` failed)."""


@dataclass(frozen=True)
class _Plan:
    """What Flower's ``setup_stage`` fixes for one round, plus who drops after share keys."""

    node_ids: list[int]
    num_shares: int
    threshold: int
    neighbours: dict[int, frozenset[int]]
    dropped: frozenset[int]
    setup_config: dict[str, Any]

    @property
    def active(self) -> list[int]:
        return [nid for nid in self.node_ids if nid not in self.dropped]


def flower_version() -> str | None:
    """Installed flwr version, or None when flwr is not importable."""
    return None if flwr is None else str(flwr.__version__)


def _plan(
    n: int,
    degree: int | None,
    threshold: int | float | None,
    dropout_fraction: float,
    workflow_kwargs: dict[str, Any],
    rng: np.random.Generator,
) -> _Plan:
    """Replay ``SecAggPlusWorkflow.setup_stage``'s share count, threshold and ring graph.

    ``degree=None`` is Flower's ``num_shares=1.0`` (complete graph). An integer degree is
    ``num_shares=degree``; Flower bumps an even count below n to the next odd number. For
    an integer ``num_shares`` flwr 1.42 sends clients the count from before that bump, so an
    even degree makes ``_share_keys`` fail with IndexError; the bumped count is sent here,
    as Flower's float ``num_shares`` path does.
    ``threshold=None`` takes a majority of the shares (Bonawitz et al., Sec. 4, t > n/2);
    a float is a fraction of the shares rounded as Flower does. The ring is shuffled with
    ``rng`` instead of Flower's unseeded ``random.shuffle``, for reproducibility.
    """
    if n < 3:
        raise ValueError(f"n must be at least 3, got {n}")
    if degree is not None and not 2 < degree < n:
        raise ValueError(f"degree must be in (2, n) or None for the complete graph, got {degree}")
    if not 0.0 <= dropout_fraction < 1.0:
        raise ValueError(f"dropout_fraction must be in [0, 1), got {dropout_fraction}")
    share_arg: int | float = 1.0 if degree is None else degree
    guessed = (share_arg if isinstance(share_arg, int) else n) // 2 + 1
    workflow = SecAggPlusWorkflow(
        share_arg, guessed if threshold is None else threshold, **workflow_kwargs
    )  # runs Flower's own _check_init_params
    if isinstance(workflow.num_shares, float):
        num_shares = round(workflow.num_shares * n)
        if num_shares < n and num_shares & 1 == 0:
            num_shares += 1
        if num_shares <= 2:
            num_shares = n
    else:
        num_shares = workflow.num_shares
    if num_shares != n and num_shares & 1 == 0:
        num_shares += 1
    if threshold is None:
        thr = num_shares // 2 + 1
    elif isinstance(workflow.reconstruction_threshold, float):
        thr = max(round(workflow.reconstruction_threshold * num_shares), 2)
    else:
        thr = workflow.reconstruction_threshold
    if not 2 <= thr <= num_shares:
        raise ValueError(f"threshold {thr} must be in [2, num_shares={num_shares}]")
    node_ids = list(range(1, n + 1))
    ring = [int(v) for v in rng.permutation(node_ids)]
    half = num_shares >> 1
    neighbours = {
        nid: frozenset(ring[(idx + off) % n] for off in range(-half, half + 1)) for idx, nid in enumerate(ring)
    }
    dropped = frozenset(int(v) for v in rng.choice(node_ids, round(dropout_fraction * n), False))
    setup_config = {
        Key.SAMPLE_NUMBER: n,
        Key.SHARE_NUMBER: num_shares,
        Key.THRESHOLD: thr,
        Key.CLIPPING_RANGE: float(workflow.clipping_range),
        Key.TARGET_RANGE: workflow.quantization_range,
        Key.MOD_RANGE: workflow.modulus_range,
        Key.MAX_WEIGHT: workflow.max_weight,
    }
    return _Plan(node_ids, num_shares, thr, neighbours, dropped, setup_config)


def _check_threshold(plan: _Plan, active: set[int]) -> None:
    """``SecAggPlusWorkflow._check_threshold``: every node keeps t live neighbours."""
    for nid in plan.node_ids:
        if len(plan.neighbours[nid] & active) < plan.threshold:
            raise FlowerAbort(
                f"node {nid} has {len(plan.neighbours[nid] & active)} live neighbours, "
                f"threshold is {plan.threshold}: Flower halts the round"
            )


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _client_stage(stage: str, state: Any, configs: dict[str, Any], *extra: Any) -> tuple[Any, float]:
    """One client stage as ``secaggplus_mod`` runs it: validate configs, then the stage body."""
    record = ConfigRecord(configs)
    body = {
        Stage.SETUP: fl_client._setup,
        Stage.SHARE_KEYS: fl_client._share_keys,
        Stage.COLLECT_MASKED_VECTORS: fl_client._collect_masked_vectors,
        Stage.UNMASK: fl_client._unmask,
    }[stage]

    def run() -> Any:
        fl_client.check_configs(stage, record)
        return body(state, record, *extra)

    return _timed(run)


def _advertise(plan: _Plan) -> tuple[dict[int, Any], float]:
    """Stage 0 for every node; returns the states and the summed client time."""
    states, total = {}, 0.0
    for nid in plan.node_ids:
        state = fl_client.SecAggPlusState()
        state.nid = nid
        _, dt = _client_stage(Stage.SETUP, state, dict(plan.setup_config))
        states[nid], total = state, total + dt
    return states, total


def _share_keys(plan: _Plan, states: dict[int, Any], nid: int) -> tuple[dict[str, Any], float]:
    """Stage 1: Shamir-share the self-mask seed and sk1, encrypt one share per neighbour."""
    keys = {str(v): [states[v].pk1, states[v].pk2] for v in plan.neighbours[nid]}
    res: dict[str, Any]
    res, dt = _client_stage(Stage.SHARE_KEYS, states[nid], keys)
    return res, dt


def _mask(state: Any, srcs: list[int], ctxts: list[bytes], update: np.ndarray) -> tuple[list[bytes], float]:
    """Stage 2: decrypt the forwarded shares, quantize, add self and pairwise masks."""
    configs = {Key.CIPHERTEXT_LIST: ctxts, Key.SOURCE_LIST: srcs}
    params = ndarrays_to_parameters([update])
    res, dt = _client_stage(Stage.COLLECT_MASKED_VECTORS, state, configs, NUM_EXAMPLES, params)
    return list(res[Key.MASKED_PARAMETERS]), dt


def _add_masked(acc: list[np.ndarray] | None, blobs: list[bytes]) -> list[np.ndarray]:
    """Server, stage 2: parse one client's masked arrays and add them to the running sum."""
    vec = [bytes_to_ndarray(b) for b in blobs]
    return vec if acc is None else parameters_addition(acc, vec)


def _remove_self_mask(masked: list[np.ndarray], seed: bytes, mod: int) -> list[np.ndarray]:
    """Subtract a surviving node's self mask regenerated from its seed (``unmask_stage``)."""
    shapes = [a.shape for a in masked]
    return parameters_subtraction(masked, pseudo_rand_gen(seed, mod, shapes))


def _remove_pair_mask(
    masked: list[np.ndarray], sk1: bytes, nid: int, peer: int, peer_pk1: bytes, mod: int
) -> list[np.ndarray]:
    """Cancel the pairwise mask between a dropped node and one neighbour (``unmask_stage``)."""
    shared = generate_shared_key(bytes_to_private_key(sk1), bytes_to_public_key(peer_pk1))
    mask = pseudo_rand_gen(shared, mod, [a.shape for a in masked])
    return parameters_addition(masked, mask) if nid > peer else parameters_subtraction(masked, mask)


def _dequantize(plan: _Plan, masked: list[np.ndarray], n_active: int) -> np.ndarray:
    """The tail of ``unmask_stage``: mod, split off the weight, dequantize, average."""
    cfg = plan.setup_config
    recon = parameters_mod(masked, cfg[Key.MOD_RANGE])
    q_total, recon = factor_extract(recon)
    (vec,) = dequantize(recon, cfg[Key.CLIPPING_RANGE], cfg[Key.TARGET_RANGE])
    vec += -(n_active - 1) * cfg[Key.CLIPPING_RANGE]
    vec *= cfg[Key.TARGET_RANGE] / q_total
    return np.asarray(vec)


def _full_run(plan: _Plan, m: int, rng: np.random.Generator) -> dict[str, Any]:
    """Every client and the whole server side, exactly as one Flower round does them."""
    mod = plan.setup_config[Key.MOD_RANGE]
    states, t_setup = _advertise(plan)
    print(f"flower_peer: keys advertised by {len(states)} clients", file=sys.stderr)
    fwd: dict[int, tuple[list[int], list[bytes]]] = {nid: ([], []) for nid in plan.node_ids}
    for nid in plan.node_ids:
        res, dt = _share_keys(plan, states, nid)
        t_setup += dt
        for dst, ctxt in zip(res[Key.DESTINATION_LIST], res[Key.CIPHERTEXT_LIST], strict=True):
            fwd[dst][0].append(nid)
            fwd[dst][1].append(ctxt)
    print("flower_peer: key shares exchanged", file=sys.stderr)
    _check_threshold(plan, set(plan.node_ids))
    active = set(plan.active)
    masked: list[np.ndarray] | None = None
    plain = np.zeros(m)
    t_mask = t_sum = 0.0
    upload = 0
    for nid in plan.node_ids:
        update = rng.uniform(-1.0, 1.0, m)  # drawn for dropped clients too: same stream
        if nid not in active:
            continue
        blobs, dt = _mask(states[nid], *fwd[nid], update)
        t_mask += dt
        upload = sum(len(b) for b in blobs)
        plain += update
        masked, dt = _timed(lambda b=blobs, acc=masked: _add_masked(acc, b))
        t_sum += dt
    print(f"flower_peer: {len(active)} masked vectors collected", file=sys.stderr)
    if masked is None:
        raise FlowerAbort("every client dropped before sending a masked vector")
    masked, dt = _timed(lambda acc=masked: parameters_mod(acc, mod))
    t_sum += dt
    _check_threshold(plan, active)
    dead = set(plan.node_ids) - active
    shares: dict[int, list[bytes]] = {nid: [] for nid in plan.node_ids}
    for nid in sorted(active):
        request = {
            Key.ACTIVE_NODE_ID_LIST: sorted(plan.neighbours[nid] & active),
            Key.DEAD_NODE_ID_LIST: sorted(plan.neighbours[nid] & dead),
        }
        res, _ = _client_stage(Stage.UNMASK, states[nid], request)
        for owner, share in zip(res[Key.NODE_ID_LIST], res[Key.SHARE_LIST], strict=True):
            shares[owner].append(share)
    t_shamir = t_remove = 0.0
    for nid, share_list in shares.items():
        if len(share_list) < plan.threshold:
            raise FlowerAbort(f"{len(share_list)} shares of node {nid}, need {plan.threshold}")
        secret, dt = _timed(lambda s=share_list: combine_shares(s))
        t_shamir += dt
        t0 = time.perf_counter()
        if nid in active:
            masked = _remove_self_mask(masked, secret, mod)
        else:
            for peer in plan.neighbours[nid] - {nid}:
                masked = _remove_pair_mask(masked, secret, nid, peer, states[peer].pk1, mod)
        t_remove += time.perf_counter() - t0
    average, t_deq = _timed(lambda: _dequantize(plan, masked, len(active)))
    print("flower_peer: unmasked", file=sys.stderr)
    return {
        "client_setup_s": t_setup / len(plan.node_ids),
        "client_mask_s": t_mask / len(active),
        "server_sum_s": t_sum,
        "server_shamir_s": t_shamir,
        "server_mask_s": t_remove + t_deq,
        "upload_bytes_per_client": upload,
        "average": average,
        "plain_sum": plain,
    }


def _pilot(plan: _Plan, m: int, rng: np.random.Generator) -> dict[str, Any]:
    """Estimate a full run from a few clients, secrets and masks, scaled linearly by count.

    All clients advertise keys (cheap). ``PILOT_CLIENTS`` surviving clients run share keys and
    masking for real; their neighbours' forwarded ciphertexts are made with Flower's
    ``encrypt`` around share stand-ins of the right length. The server sum, ``combine_shares``
    (with the share count the server would hold) and mask removal are timed on
    ``PILOT_SECRETS`` items of each kind and multiplied by how many a full run has.
    """
    mod = plan.setup_config[Key.MOD_RANGE]
    active, dead = plan.active, sorted(set(plan.node_ids) - set(plan.active))
    states, t_keys = _advertise(plan)
    sample = active[:PILOT_CLIENTS]
    setup_times, mask_times, sum_times = [], [], []
    masked: list[np.ndarray] | None = None
    upload = 0
    for nid in sample:
        _, dt = _share_keys(plan, states, nid)
        setup_times.append(dt)
        state = states[nid]
        stand_in = (state.rd_seed_share_dict[nid], state.sk1_share_dict[nid])
        srcs = sorted(plan.neighbours[nid] - {nid})
        pk2 = bytes_to_public_key(state.pk2)
        ctxts = [
            encrypt(
                generate_shared_key(bytes_to_private_key(states[src].sk2), pk2),
                share_keys_plaintext_concat(src, nid, *stand_in),
            )
            for src in srcs
        ]
        blobs, dt = _mask(state, srcs, ctxts, rng.uniform(-1.0, 1.0, m))
        mask_times.append(dt)
        upload = sum(len(b) for b in blobs)
        masked, dt = _timed(lambda b=blobs, acc=masked: _add_masked(acc, b))
        sum_times.append(dt)
    if masked is None:
        raise FlowerAbort("every client dropped before sending a masked vector")
    live = set(active)

    def combine_time(secret: bytes, owner: int) -> float:
        shares = create_shares(secret, plan.threshold, plan.num_shares)
        held = shares[: len(plan.neighbours[owner] & live)]  # what the server collects
        return _timed(lambda: combine_shares(held))[1]

    seed_times = [combine_time(states[nid].rd_seed, nid) for nid in sample[:PILOT_SECRETS]]
    self_times = [
        _timed(lambda s=states[nid].rd_seed: _remove_self_mask(masked, s, mod))[1] for nid in sample[:PILOT_SECRETS]
    ]
    shamir = np.mean(seed_times) * len(active)
    remove = np.mean(self_times) * len(active)
    if dead:
        probe = dead[:PILOT_SECRETS]
        sk_times = [combine_time(states[d].sk1, d) for d in probe]
        pair_times = [
            _timed(lambda d=d, p=p: _remove_pair_mask(masked, states[d].sk1, d, p, states[p].pk1, mod))[1]
            for d in probe
            for p in sorted(plan.neighbours[d] - {d})[:PILOT_SECRETS]
        ]
        shamir += np.mean(sk_times) * len(dead)
        remove += np.mean(pair_times) * sum(len(plan.neighbours[d]) - 1 for d in dead)
    _, t_deq = _timed(lambda: _dequantize(plan, masked, len(sample)))
    return {
        "client_setup_s": t_keys / len(plan.node_ids) + float(np.mean(setup_times)),
        "client_mask_s": float(np.mean(mask_times)),
        "server_sum_s": float(np.mean(sum_times)) * len(active),
        "server_shamir_s": float(shamir),
        "server_mask_s": float(remove) + t_deq,
        "upload_bytes_per_client": upload,
    }


def run_flower_secaggplus(
    n: int,
    m: int,
    *,
    degree: int | None,
    dropout_fraction: float,
    modulus_bits: int = 32,
    clip: float = 8.0,
    seed: int = 0,
    time_budget_s: float | None = None,
    threshold: int | float | None = None,
    quantization_range: int = 1 << 22,
) -> dict[str, Any]:
    """Run one Flower SecAgg+ round of n clients with float updates of length m; see module doc.

    Updates are ``default_rng(seed).uniform(-1, 1, m)`` per client in id order;
    ``round(dropout_fraction * n)`` clients (drawn from the same generator) drop after share
    keys. With ``time_budget_s`` a pilot (``_pilot``) runs first; if its estimate of the full
    run fits the remaining budget the full run follows, otherwise the estimate is returned
    with ``extrapolated: True`` and ``correct: None``. Raises ``FlowerAbort`` when Flower
    would halt the round and ``ValueError`` for a configuration Flower (or this harness)
    rejects.
    """
    if flwr is None:
        raise ImportError("flwr is not installed: it is an optional benchmark dependency")
    if m < 1:
        raise ValueError(f"m must be positive, got {m}")
    if not 1 <= modulus_bits <= 62:  # Flower itself requires 2^bits > quantization_range
        raise ValueError(f"modulus_bits must be in [1, 62], got {modulus_bits}")
    workflow_kwargs = {
        "max_weight": MAX_WEIGHT,
        "clipping_range": float(clip),
        "quantization_range": quantization_range,
        "modulus_range": 1 << modulus_bits,
    }
    rng = np.random.default_rng(seed)
    plan = _plan(n, degree, threshold, dropout_fraction, workflow_kwargs, rng)
    t0 = time.perf_counter()
    out: dict[str, Any] = {
        "impl": "flwr-secaggplus",
        "flwr_version": flower_version(),
        "n": n,
        "m": m,
        "degree": degree,
        "num_shares": plan.num_shares,
        "threshold": plan.threshold,
        "dropout_fraction": dropout_fraction,
        "dropped": len(plan.dropped),
        "modulus_bits": modulus_bits,
        "clip": float(clip),
        "quantization_range": quantization_range,
    }
    if time_budget_s is not None:
        est = _pilot(plan, m, np.random.default_rng(seed))
        server = est["server_sum_s"] + est["server_shamir_s"] + est["server_mask_s"]
        full = n * est["client_setup_s"] + len(plan.active) * est["client_mask_s"] + server
        out["estimated_full_run_s"] = full
        _check_threshold(plan, set(plan.active))
        if full > time_budget_s - (time.perf_counter() - t0):
            return (
                out
                | est
                | {
                    "server_unmask_s": server,
                    "upload_bytes_per_parameter": est["upload_bytes_per_client"] / m,
                    "correct": None,
                    "extrapolated": True,
                    "note": PILOT_NOTE,
                }
            )
    res = _full_run(plan, m, rng)
    n_active = len(plan.active)
    error = float(np.max(np.abs(res.pop("average") * n_active - res.pop("plain_sum"))))
    bound = n_active * 2.0 * clip / quantization_range  # stochastic rounding: < 1 step each
    return (
        out
        | res
        | {
            "server_unmask_s": res["server_sum_s"] + res["server_shamir_s"] + res["server_mask_s"],
            "upload_bytes_per_parameter": res["upload_bytes_per_client"] / m,
            "correct": error <= bound * (1 + 1e-6),
            "max_abs_error": error,
            "error_bound": bound,
            "extrapolated": False,
            "wall_s": time.perf_counter() - t0,
        }
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: print one JSON line for the given case."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--m", type=int, required=True)
    p.add_argument("--degree", type=int, default=None, help="omit for the complete graph")
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--modulus-bits", type=int, default=32)
    p.add_argument("--clip", type=float, default=8.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--time-budget", type=float, default=None)
    args = p.parse_args(argv)
    result = run_flower_secaggplus(
        args.n,
        args.m,
        degree=args.degree,
        dropout_fraction=args.dropout,
        modulus_bits=args.modulus_bits,
        clip=args.clip,
        seed=args.seed,
        time_budget_s=args.time_budget,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
