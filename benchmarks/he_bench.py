"""Benchmark of homomorphic aggregation (issue 3): ours against the peers, same run.

CKKS: our aggregation presets (clients pre-weight in plaintext, server only
adds) against TenSEAL's tutorial parameters (N = 8192, primes [60, 40, 40, 60],
scale 2^40; the setting NVIDIA FLARE ships), run with raw TenSEAL and the
server weighting by plaintext multiplication as those setups do.

Paillier: packed ciphertexts (standard and DJN fast encryption) against plain
per-value ``phe`` encryption, timed on a slice and scaled to the full model.
Threshold Paillier (``he.ThresholdPaillierScheme``, k = 5 holders, t = 3): the
cost per holder of a partial decryption of the same m-parameter aggregate and
the combine (proof checks and Lagrange combination), against the single-holder
decryption of the packed case measured in the same run.

Workload: m parameters, n clients, values uniform in [-1, 1], unequal
sample-count weights; the error is the max abs error of the decrypted
weighted mean. One JSON line per case on stdout, progress on stderr.

The machine is shared, so wall-clock totals of long runs carry other
processes' load. Paillier encryption speed-ups are therefore also measured
*paired*: ours and the peer's encryption alternate for a few rounds in the
same process and the fastest round of each is compared
(``vs_peer.encrypt_speedup``); the ratio of the long runs' totals is kept as
``vs_peer.encrypt_speedup_wall``.

    python benchmarks/he_bench.py            # full run (m = 1e5 and 1e6, n = 10)
    python benchmarks/he_bench.py --quick    # seconds-long smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import tenseal as ts
from phe import paillier as phe

import he
from he.ckks_presets import PRESETS

_CKKS_OURS = ("compact", "standard", "wide")
_CKKS_TARGET = {"bytes_per_param_max": 24.0, "max_abs_error_max": 1e-5}
_PAILLIER_TARGET = {"encrypt_speedup_min": 100.0, "bytes_ratio_min": 100.0, "fast_encrypt_speedup_min": 1000.0}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record, sort_keys=True), flush=True)


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``fn(*args, **kwargs)`` and the seconds it took."""
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def workload(m: int, clients: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, size=(clients, m)), rng.integers(50, 500, size=clients)


def ckks_ours(preset: str, values: np.ndarray, counts: np.ndarray) -> dict[str, Any]:
    """Our CKKS path: clients pre-weight with count / total, server adds."""
    holder = he.CKKSScheme.generate(preset=preset)
    public = holder.public()
    server = he.CKKSScheme.load_public(public.serialize())
    weights = counts / counts.sum()
    enc = ser = load = combine = 0.0
    nbytes = 0
    aggregate = None
    for vector, weight in zip(values, weights, strict=True):  # streamed: one client in memory at a time
        ct, t = timed(public.encrypt, vector, weight=float(weight))
        enc += t
        data, t = timed(ct.serialize)
        ser += t
        nbytes += len(data)
        received, t = timed(server.load_ciphertext, data)
        load += t
        if aggregate is None:
            aggregate = received
        else:
            aggregate, t = timed(server.aggregate, [aggregate, received])
            combine += t
    result, dec = timed(holder.decrypt, aggregate)
    mean = result / aggregate.weight
    return _ckks_record(preset, values, counts, mean, enc, ser, load, combine, dec, nbytes, len(public.serialize()))


def ckks_tutorial_peer(values: np.ndarray, counts: np.ndarray) -> dict[str, Any]:
    """Peer: raw TenSEAL at the tutorial parameters, weights applied by the server."""
    p = PRESETS["tutorial"]
    context = ts.context(ts.SCHEME_TYPE.CKKS, p.poly_modulus_degree, coeff_mod_bit_sizes=list(p.coeff_mod_bit_sizes))
    context.global_scale = 2.0**p.scale_bits
    public_ctx = ts.context_from(context.serialize(save_secret_key=False, save_galois_keys=False))
    slots = p.slots
    weights = counts / counts.sum()
    enc = ser = load = combine = 0.0
    nbytes = 0
    sums: list[ts.CKKSVector] | None = None
    for vector, weight in zip(values, weights, strict=True):
        chunks, t = timed(_encrypt_chunks, public_ctx, vector, slots)
        enc += t
        blobs, t = timed(lambda cts: [c.serialize() for c in cts], chunks)
        ser += t
        nbytes += sum(len(b) for b in blobs)
        received, t = timed(lambda raw: [ts.ckks_vector_from(public_ctx, b) for b in raw], blobs)
        load += t
        start = time.perf_counter()
        scaled = [c * float(weight) for c in received]
        sums = scaled if sums is None else [a + b for a, b in zip(sums, scaled, strict=True)]
        combine += time.perf_counter() - start
    start = time.perf_counter()
    parts = [np.asarray(c.decrypt(context.secret_key())) for c in sums or []]
    mean = np.concatenate(parts) if parts else np.zeros(0)
    dec = time.perf_counter() - start
    public_bytes = len(
        public_ctx.serialize(save_public_key=True, save_secret_key=False, save_galois_keys=False, save_relin_keys=True)
    )
    return _ckks_record("tutorial", values, counts, mean, enc, ser, load, combine, dec, nbytes, public_bytes)


def _encrypt_chunks(context: ts.Context, vector: np.ndarray, slots: int) -> list[ts.CKKSVector]:
    """Chunk to the slot count ourselves: TenSEAL's own split prints a warning to stdout."""
    return [ts.ckks_vector(context, vector[i : i + slots].tolist()) for i in range(0, vector.size, slots)]


def _ckks_record(
    case: str,
    values: np.ndarray,
    counts: np.ndarray,
    mean: np.ndarray,
    enc: float,
    ser: float,
    load: float,
    combine: float,
    dec: float,
    nbytes: int,
    public_bytes: int,
) -> dict[str, Any]:
    clients, m = values.shape
    expected = (counts[:, None] * values).sum(axis=0) / counts.sum()
    preset = PRESETS[case]
    return {
        "bench": "he",
        "scheme": "ckks",
        "case": case,
        "peer": case == "tutorial",
        "m": m,
        "clients": clients,
        "params": {
            "N": preset.poly_modulus_degree,
            "primes": list(preset.coeff_mod_bit_sizes),
            "scale_bits": preset.scale_bits,
        },
        "encrypt_s_per_client": enc / clients,
        "serialize_s_per_client": ser / clients,
        "load_s_per_client": load / clients,
        "combine_s": combine,
        "decrypt_s": dec,
        "bytes_per_param": nbytes / clients / m,
        "public_context_bytes": public_bytes,
        "max_abs_error": float(np.max(np.abs(mean - expected))) if m else 0.0,
    }


def paired_encrypt_rates(
    public: he.PaillierPublic, peer_key: phe.PaillierPublicKey, rounds: int, peer_values: int
) -> tuple[float, float]:
    """Fastest-of-``rounds`` seconds per value for ours and for plain phe, timed alternately."""
    block = np.linspace(-1.0, 1.0, 4 * public.layout.per_plaintext)
    peer_block = [float(x) for x in block[:peer_values]]
    ours, peer = float("inf"), float("inf")
    for _ in range(rounds):
        ours = min(ours, timed(lambda: public.encrypt(block))[1] / block.size)
        peer = min(peer, timed(lambda: [peer_key.encrypt(x) for x in peer_block])[1] / len(peer_block))
    return ours, peer


def paillier_cases(
    values: np.ndarray, counts: np.ndarray, key_bits: int, phe_slice: int, rounds: int
) -> list[dict[str, Any]]:
    """Packed (standard, fast) against plain per-value phe on a slice, scaled."""
    clients, m = values.shape
    weights = [int(w) for w in counts]
    expected = (counts[:, None] * values).sum(axis=0) / counts.sum()
    peer_key, _ = phe.generate_paillier_keypair(n_length=key_bits)
    records = []
    holder = he.PaillierScheme.generate(key_bits=key_bits, bits=12, max_total_weight=64)
    for fast in (False, True):
        if fast:
            holder = he.PaillierScheme.generate(key_bits=key_bits, bits=12, max_total_weight=64, fast_encryption=True)
        public = holder.public()
        server = he.PaillierScheme.load_public(public.serialize())
        _, table = timed(public.encrypt, np.zeros(1))  # one-time fixed-base table (fast path)
        received, enc, nbytes = [], 0.0, 0
        for vector in values:
            ct, t = timed(public.encrypt, vector)
            enc += t
            data = ct.serialize()
            nbytes += len(data)
            received.append(server.load_ciphertext(data))
        aggregate, combine = timed(server.aggregate, received, weights)
        result, dec = timed(holder.decrypt, aggregate)
        layout = public.layout
        ours_rate, peer_rate = paired_encrypt_rates(public, peer_key, rounds, max(2, phe_slice // 5))
        records.append(
            {
                "bench": "he",
                "scheme": "paillier",
                "case": "packed_fast" if fast else "packed",
                "peer": False,
                "m": m,
                "clients": clients,
                "key_bits": key_bits,
                "params": {
                    "bits": layout.bits,
                    "slot_bits": layout.slot_bits,
                    "values_per_ciphertext": layout.per_plaintext,
                    "max_total_weight": layout.max_total_weight,
                },
                "encrypt_s_per_param": enc / clients / m,
                "encrypt_s_per_client": enc / clients,
                "one_time_setup_s": table,
                "combine_s": combine,
                "decrypt_s": dec,
                "bytes_per_param": nbytes / clients / m,
                "max_abs_error": float(np.max(np.abs(result / aggregate.weight - expected))),
                "error_bound": layout.error_bound(int(aggregate.weight)) / aggregate.weight,
                "paired": {"rounds": rounds, "encrypt_s_per_param": ours_rate, "peer_encrypt_s_per_param": peer_rate},
            }
        )
    records.append(phe_plain_peer(values, counts, key_bits, phe_slice))
    return records


def threshold_case(
    values: np.ndarray, counts: np.ndarray, key_bits: int, single: dict[str, Any], holders: int = 5, threshold: int = 3
) -> dict[str, Any]:
    """Partial decryption per holder and combine for a t-of-k key, beside ``single``'s decryption."""
    clients, m = values.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", he.WeakKeyWarning)  # --quick deals a 1024-bit key to stay quick
        dealing, keygen = timed(
            he.ThresholdPaillierScheme.generate,
            holders=holders,
            threshold=threshold,
            key_bits=key_bits,
            bits=12,
            max_total_weight=64,
            fast_encryption=True,  # encryption is not what this case measures
        )
    public = dealing.public()
    server = he.ThresholdPaillierScheme.load_public(public.serialize())
    weights = [int(w) for w in counts]
    received = [server.load_ciphertext(public.encrypt(vector).serialize()) for vector in values]
    aggregate = server.aggregate(received, weights)
    data = aggregate.serialize()
    partials, per_holder, partial_bytes = [], [], 0
    for holder in dealing.holders[:threshold]:
        own = holder.public().load_ciphertext(data)
        partial, seconds = timed(holder.partial_decrypt, own)
        per_holder.append(seconds)
        blob = partial.serialize()
        partial_bytes = len(blob)
        partials.append(server.load_partial(blob))
    result, combine = timed(server.combine, aggregate, partials)
    expected = (counts[:, None] * values).sum(axis=0) / counts.sum()
    slowest = max(per_holder)
    return {
        "bench": "he",
        "scheme": "paillier",
        "case": "threshold",
        "peer": False,
        "m": m,
        "clients": clients,
        "key_bits": key_bits,
        "params": {"holders": holders, "threshold": threshold, "values_per_ciphertext": public.layout.per_plaintext},
        "keygen_s": keygen,
        "partial_decrypt_s_per_holder": statistics.mean(per_holder),
        "partial_bytes_per_holder": partial_bytes,
        "combine_s": combine,
        "decrypt_s": slowest + combine,  # holders decrypt in parallel, then the combiner
        "single_holder_decrypt_s": single["decrypt_s"],
        "single_holder_key_bits": single["key_bits"],
        "vs_single_holder": {
            "partial_per_holder": statistics.mean(per_holder) / single["decrypt_s"],
            "combine": combine / single["decrypt_s"],
            "total": (slowest + combine) / single["decrypt_s"],
        },
        "bytes_per_param": len(received[0].serialize()) / m,
        "max_abs_error": float(np.max(np.abs(result / aggregate.weight - expected))),
    }


def phe_plain_peer(values: np.ndarray, counts: np.ndarray, key_bits: int, width: int) -> dict[str, Any]:
    """Peer: one phe ciphertext per value, float encoding, integer-weighted sum; slice scaled to m."""
    clients, m = values.shape
    width = min(width, m)
    public_key, private_key = phe.generate_paillier_keypair(n_length=key_bits)
    encrypted, enc = timed(lambda: [[public_key.encrypt(float(x)) for x in vector[:width]] for vector in values])
    nsq_bytes = (public_key.nsquare.bit_length() + 7) // 8
    weights = [int(w) for w in counts]
    columns = list(zip(*encrypted, strict=True))  # per parameter: one ciphertext per client
    sums, combine = timed(lambda: [sum(w * c for w, c in zip(weights, column, strict=True)) for column in columns])
    result, dec = timed(lambda: np.array([private_key.decrypt(s) for s in sums]))
    expected = (counts[:, None] * values[:, :width]).sum(axis=0)
    scale = m / width
    return {
        "bench": "he",
        "scheme": "paillier",
        "case": "phe_plain",
        "peer": True,
        "m": m,
        "clients": clients,
        "key_bits": key_bits,
        "timed_slice": width,
        "encrypt_s_per_param": enc / clients / width,
        "encrypt_s_per_client": enc / clients * scale,
        "combine_s": combine * scale,
        "decrypt_s": dec * scale,
        # One ciphertext per value; counted at its minimal fixed-width size (phe's own JSON is larger).
        "bytes_per_param": float(nsq_bytes),
        "max_abs_error": float(np.max(np.abs(result - expected) / counts.sum())) if width else 0.0,
    }


def add_ckks_ratios(record: dict[str, Any], peer: dict[str, Any]) -> None:
    record["vs_peer"] = {
        "peer": "tutorial",
        "bytes_ratio": peer["bytes_per_param"] / record["bytes_per_param"],
        "encrypt_speedup": peer["encrypt_s_per_client"] / record["encrypt_s_per_client"],
        "combine_speedup": peer["combine_s"] / max(record["combine_s"], 1e-12),
        "decrypt_speedup": peer["decrypt_s"] / max(record["decrypt_s"], 1e-12),
    }
    record["target"] = _CKKS_TARGET
    record["meets_target"] = (
        record["bytes_per_param"] <= _CKKS_TARGET["bytes_per_param_max"]
        and record["max_abs_error"] <= _CKKS_TARGET["max_abs_error_max"]
    )


def add_paillier_ratios(record: dict[str, Any], peer: dict[str, Any]) -> None:
    paired = record["paired"]
    speedup = paired["peer_encrypt_s_per_param"] / paired["encrypt_s_per_param"]
    bytes_ratio = peer["bytes_per_param"] / record["bytes_per_param"]
    record["vs_peer"] = {
        "peer": "phe_plain",
        "encrypt_speedup": speedup,
        "bytes_ratio": bytes_ratio,
        "encrypt_speedup_wall": peer["encrypt_s_per_param"] / record["encrypt_s_per_param"],
        "combine_speedup": peer["combine_s"] / max(record["combine_s"], 1e-12),
        "decrypt_speedup": peer["decrypt_s"] / max(record["decrypt_s"], 1e-12),
    }
    record["target"] = _PAILLIER_TARGET
    needed = _PAILLIER_TARGET["fast_encrypt_speedup_min" if record["case"] == "packed_fast" else "encrypt_speedup_min"]
    record["meets_target"] = speedup >= needed and bytes_ratio >= _PAILLIER_TARGET["bytes_ratio_min"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small smoke run (seconds)")
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=["ckks", "paillier"], default=None)
    args = parser.parse_args(argv)
    clients = args.clients or (3 if args.quick else 10)
    ckks_sizes = [3000] if args.quick else [100_000, 1_000_000]
    paillier_m, phe_slice, rounds = (300, 5, 1) if args.quick else (100_000, 100, 7)
    if args.only in (None, "ckks"):
        for m in ckks_sizes:
            values, counts = workload(m, clients, args.seed)
            log(f"ckks m={m}: tutorial peer")
            peer = ckks_tutorial_peer(values, counts)
            emit(peer)
            for preset in _CKKS_OURS:
                log(f"ckks m={m}: preset {preset}")
                record = ckks_ours(preset, values, counts)
                add_ckks_ratios(record, peer)
                emit(record)
    if args.only in (None, "paillier"):
        values, counts = workload(paillier_m, clients, args.seed)
        counts = np.arange(1, clients + 1)  # unequal sample counts in coarse units: total 55 <= 64
        log(f"paillier m={paillier_m}: packed, packed_fast, phe_plain on {phe_slice} values")
        *ours, peer = paillier_cases(values, counts, 2048, phe_slice, rounds)
        emit(peer)
        for record in ours:
            add_paillier_ratios(record, peer)
            emit(record)
        threshold_bits = 1024 if args.quick else 2048
        log(f"paillier m={paillier_m}: threshold 3-of-5, {threshold_bits}-bit key")
        emit(threshold_case(values, counts, threshold_bits, ours[0]))


if __name__ == "__main__":
    main()
