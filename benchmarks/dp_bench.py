"""Benchmark of the DP accountants and samplers (issue 4): ours against Opacus and dp-accounting,
same process, same cases.

Epsilon queries (delta = 1e-5) over q in {1, 0.1, 0.01, 0.001}, sigma in {0.5, 1, 2, 5},
steps in {1, 100, 10000}: Opacus' RDP, dp-accounting's RDP and PLD (discretization 1e-4; its
time includes building the PLD, which happens in ``compose``), ours RDP and PLD (upper bound,
plus the lower bound of its error interval). Calibration: the noise multiplier for a target
epsilon with Opacus (RDP), dp-accounting (PLD, ``calibrate_dp_mechanism``) and ours.
Samplers: our exact CSPRNG discrete Gaussian against numpy's float Gaussian, and our exact CSPRNG
Skellam (first call, which builds the cdf table for that variance, and a second, cached call)
against numpy's Poisson difference (neither is private; speed references only). One JSON line
per case on stdout, progress on stderr; a final "summary" line gives medians of the ratios.

    python benchmarks/dp_bench.py            # full run (a few minutes, mostly the peers)
    python benchmarks/dp_bench.py --quick    # seconds-long smoke run
    python benchmarks/dp_bench.py --epsilon-only  # the 48 epsilon queries only
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import dp_accounting as dpa
import numpy as np
from dp_accounting.pld import PLDAccountant
from opacus.accountants.analysis import rdp as opacus_rdp
from opacus.accountants.rdp import RDPAccountant as OpacusRdp
from opacus.accountants.utils import get_noise_multiplier

import dp

DELTA = 1e-5


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


def opacus_epsilon(q: float, sigma: float, steps: int) -> float:
    orders = OpacusRdp.DEFAULT_ALPHAS
    rdp = opacus_rdp.compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=orders)
    return float(opacus_rdp.get_privacy_spent(orders=orders, rdp=rdp, delta=DELTA)[0])


def dpa_event(q: float, sigma: float) -> Any:
    return dpa.PoissonSampledDpEvent(q, dpa.GaussianDpEvent(sigma))


def epsilon_case(q: float, sigma: float, steps: int) -> dict[str, Any]:
    op_eps, op_t = timed(lambda: opacus_epsilon(q, sigma, steps))
    dr_eps, dr_t = timed(lambda: dpa.rdp.RdpAccountant().compose(dpa_event(q, sigma), steps).get_epsilon(DELTA))
    dp_eps, dp_t = timed(
        lambda: PLDAccountant(value_discretization_interval=1e-4).compose(dpa_event(q, sigma), steps).get_epsilon(DELTA)
    )
    or_eps, or_t = timed(lambda: dp.dpsgd_epsilon(sigma, q, steps, DELTA, "rdp"))
    op_acc = dp.PldAccountant().compose(dp.dpsgd_event(sigma, q), steps)
    pld_eps, pld_t = timed(lambda: op_acc.epsilon(DELTA))
    lower = op_acc.epsilon_bounds(DELTA)[0]
    return {
        "case": "epsilon",
        "q": q,
        "sigma": sigma,
        "steps": steps,
        "delta": DELTA,
        "ours": {"rdp_eps": or_eps, "rdp_s": or_t, "pld_eps": pld_eps, "pld_lower_eps": lower, "pld_s": pld_t},
        "peers": {
            "opacus_rdp_eps": op_eps,
            "opacus_rdp_s": op_t,
            "dpa_rdp_eps": dr_eps,
            "dpa_rdp_s": dr_t,
            "dpa_pld_eps": dp_eps,
            "dpa_pld_s": dp_t,
        },
        "vs_peer": {
            "rdp_speedup_vs_opacus": op_t / or_t,
            "pld_speedup_vs_dpa_pld": dp_t / pld_t,
            "pld_rel_diff_vs_dpa_pld": pld_eps / dp_eps - 1,
            "rdp_eps_ratio_opacus_over_ours": op_eps / or_eps,
            "rdp_over_pld": or_eps / pld_eps,
        },
    }


def calibration_case(target: float, q: float, steps: int) -> dict[str, Any]:
    op_sigma, op_t = timed(
        lambda: get_noise_multiplier(
            target_epsilon=target, target_delta=DELTA, sample_rate=q, steps=steps, accountant="rdp"
        )
    )
    dpa_sigma, dpa_t = timed(
        lambda: dpa.calibrate_dp_mechanism(
            lambda: PLDAccountant(value_discretization_interval=1e-4),
            lambda s: dpa.SelfComposedDpEvent(dpa_event(q, s), steps),
            target,
            DELTA,
        )
    )
    rdp_sigma, rdp_t = timed(lambda: dp.calibrate(target, DELTA, q, steps, "rdp"))
    pld_sigma, pld_t = timed(lambda: dp.calibrate(target, DELTA, q, steps, "pld"))
    return {
        "case": "calibration",
        "target_epsilon": target,
        "q": q,
        "steps": steps,
        "delta": DELTA,
        "ours": {
            "rdp_sigma": rdp_sigma,
            "rdp_s": rdp_t,
            "pld_sigma": pld_sigma,
            "pld_s": pld_t,
            "pld_eps_at_sigma": dp.dpsgd_epsilon(pld_sigma, q, steps, DELTA, "pld"),
        },
        "peers": {"opacus_rdp_sigma": op_sigma, "opacus_rdp_s": op_t, "dpa_pld_sigma": dpa_sigma, "dpa_pld_s": dpa_t},
        "vs_peer": {
            "rdp_speedup_vs_opacus": op_t / rdp_t,
            "pld_speedup_vs_dpa_pld": dpa_t / pld_t,
            "pld_sigma_ratio_vs_dpa": pld_sigma / dpa_sigma,
        },
    }


def sampler_case(n: int, sigma: float) -> dict[str, Any]:
    src = dp.CsprngSource()
    _, ours_t = timed(lambda: dp.discrete_gaussian(src, Fraction(sigma**2).limit_denominator(1 << 16), n))
    rng = np.random.default_rng()
    _, np_t = timed(lambda: rng.normal(0, sigma, n))
    mech = dp.DistributedDiscreteGaussian(1.0, 1.0, 20, n, 15, b"benchmark-rotation-seed")
    x = rng.normal(size=n) * 1e-3
    _, enc_t = timed(lambda: mech.encode(x))
    skellam = dp.DistributedSkellam(1.0, 1.0, 20, n, 15, b"benchmark-rotation-seed")
    skellam.encode(x)  # the first call builds the sampler's table for this variance
    _, sk_enc_t = timed(lambda: skellam.encode(x))
    return {
        "case": "sampler",
        "n": n,
        "sigma": sigma,
        "ours": {"discrete_gaussian_s": ours_t, "ddg_encode_s": enc_t, "skellam_encode_s": sk_enc_t},
        "peers": {"numpy_float_gaussian_s": np_t},
        "vs_peer": {"slowdown_vs_numpy_float": ours_t / np_t},
    }


def skellam_case(n: int, variance: int) -> dict[str, Any]:
    src = dp.CsprngSource()
    _, first_t = timed(lambda: dp.skellam(src, variance, n))
    _, cached_t = timed(lambda: dp.skellam(src, variance, n))
    _, dg_t = timed(lambda: dp.discrete_gaussian(src, Fraction(variance), n))
    rng = np.random.default_rng()
    _, np_t = timed(lambda: rng.poisson(variance / 2, n) - rng.poisson(variance / 2, n))
    return {
        "case": "skellam_sampler",
        "n": n,
        "variance": variance,
        "ours": {"skellam_first_s": first_t, "skellam_cached_s": cached_t, "discrete_gaussian_s": dg_t},
        "peers": {"numpy_poisson_difference_s": np_t},
        "vs_peer": {
            "cached_slowdown_vs_numpy": cached_t / np_t,
            "cached_speedup_vs_discrete_gaussian": dg_t / cached_t,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few cheap cases (smoke run)")
    parser.add_argument(
        "--epsilon-only", action="store_true", help="only the epsilon queries (no calibration, no samplers)"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.quick:
        eps_cases = [(0.1, 2.0, 10), (0.01, 1.0, 100)]
        cal_cases = [(2.0, 1.0, 1)]
        sampler = [(10000, 100.0)]
        skellam = [(10000, 1000)]
    else:
        eps_cases = [(q, s, k) for q in (1.0, 0.1, 0.01, 0.001) for s in (0.5, 1.0, 2.0, 5.0) for k in (1, 100, 10000)]
        cal_cases = [(t, q, k) for t in (1.0, 8.0) for q, k in ((0.01, 1000), (0.1, 100), (0.001, 10000))]
        sampler = [(100000, 1000.0), (100000, 1e7)]
        skellam = [(100000, v) for v in (1, 1000, 10**6, 10**8)]
    if args.epsilon_only:
        cal_cases, sampler, skellam = [], [], []
    records = []
    for q, s, k in eps_cases:
        print(f"epsilon q={q} sigma={s} steps={k}", file=sys.stderr, flush=True)
        records.append(epsilon_case(q, s, k))
        emit(records[-1])
    for t, q, k in cal_cases:
        print(f"calibration eps={t} q={q} steps={k}", file=sys.stderr, flush=True)
        records.append(calibration_case(t, q, k))
        emit(records[-1])
    for n, s in sampler:
        print(f"sampler n={n} sigma={s}", file=sys.stderr, flush=True)
        emit(sampler_case(n, s))
    for n, v in skellam:
        print(f"skellam sampler n={n} variance={v}", file=sys.stderr, flush=True)
        emit(skellam_case(n, v))
    eps_r = [r["vs_peer"] for r in records if r["case"] == "epsilon"]
    cal = [r for r in records if r["case"] == "calibration"]
    emit(
        {
            "case": "summary",
            "epsilon_median_rdp_speedup_vs_opacus": statistics.median(v["rdp_speedup_vs_opacus"] for v in eps_r),
            "epsilon_median_pld_speedup_vs_dpa_pld": statistics.median(v["pld_speedup_vs_dpa_pld"] for v in eps_r),
            "epsilon_min_pld_speedup_vs_dpa_pld": min(v["pld_speedup_vs_dpa_pld"] for v in eps_r),
            "epsilon_max_abs_pld_rel_diff_vs_dpa_pld": max(abs(v["pld_rel_diff_vs_dpa_pld"]) for v in eps_r),
            "epsilon_max_opacus_over_ours_rdp": max(v["rdp_eps_ratio_opacus_over_ours"] for v in eps_r),
            "epsilon_pld_cases_at_least_10x_vs_dpa_pld": sum(v["pld_speedup_vs_dpa_pld"] >= 10 for v in eps_r),
            "epsilon_median_ours_pld_s": statistics.median(
                r["ours"]["pld_s"] for r in records if r["case"] == "epsilon"
            ),
            "epsilon_max_ours_pld_s": max(r["ours"]["pld_s"] for r in records if r["case"] == "epsilon"),
            **(
                {
                    "calibration_max_ours_rdp_s": max(r["ours"]["rdp_s"] for r in cal),
                    "calibration_max_ours_pld_s": max(r["ours"]["pld_s"] for r in cal),
                    "calibration_median_pld_speedup_vs_dpa": statistics.median(
                        r["vs_peer"]["pld_speedup_vs_dpa_pld"] for r in cal
                    ),
                }
                if cal
                else {}
            ),
        }
    )


if __name__ == "__main__":
    main()
