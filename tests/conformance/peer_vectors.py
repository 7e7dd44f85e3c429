"""Known-answer values copied from the DP peers' own test suites, with where each comes from.

Only numbers the peers assert in their tests are copied here; nothing is measured with our code.
Each constant names the file, the test and the commit it was read at.
"""

from __future__ import annotations

import math

# Google's dp_accounting, python/dp_accounting/dp_accounting/rdp/rdp_privacy_accountant_test.py
# at commit 0b109e959470c43e9f177d5411603b70a56cdc7a.
DPA_RDP_TEST = (
    "google/differential-privacy@0b109e95 python/dp_accounting/dp_accounting/rdp/rdp_privacy_accountant_test.py"
)

#: test_compute_rdp_poisson_sampled_gaussian: 50 steps of the Poisson-sampled Gaussian, q = 0.01,
#: noise multiplier 2.5; RDP at each order, asserted with rtol 1e-4.
DPA_SAMPLED_GAUSSIAN = {
    "sample_rate": 0.01,
    "noise_multiplier": 2.5,
    "count": 50,
    "rtol": 1e-4,
    "rdp": {
        1.5: 6.70579741e-04,
        2.5: 1.08548710e-03,
        5.0: 2.18075656e-03,
        50.0: 2.38460375e-02,
        100.0: 1.67416308e02,
        math.inf: math.inf,
    },
}

#: test_compute_epsilon_delta_pure_dp: RDP 1.1 at every order 2..32 (pure DP), delta 1e-5
#: -> epsilon 1.32783806176 at order 32 ("computed by hand"), and back.
DPA_PURE_DP = {"orders": tuple(range(2, 33)), "rdp": 1.1, "delta": 1e-5, "epsilon": 1.32783806176, "order": 32}

#: test_compute_epsilon_delta_gaussian: "noise multiplier is chosen to obtain exactly (1, 1e-6)-DP"
#: for one unsampled Gaussian over the orders 1.001..99.999 (step 0.001).
DPA_GAUSSIAN_ONE_EPSILON = {"noise_multiplier": 4.530877117, "delta": 1e-6, "epsilon": 1.0}

#: test_compute_log_a_equals_mp: (q, sigma, order) cases where dp_accounting checks its log A_alpha
#: against its own mpmath integration; we check ours against an independent mpmath oracle.
DPA_LOG_A_CASES = (
    (1e-7, 0.1, 1.01),
    (1e-6, 0.1, 256.0),
    (1e-5, 0.1, 256.1),
    (1e-6, 1.0, 27.0),
    (1e-4, 1.0, 1.5),
    (1e-3, 1.0, 2.0),
    (0.01, 10.0, 20.0),
    (0.1, 100.0, 20.5),
    (0.99, 0.1, 256.0),
    (0.999, 100.0, 256.1),
)

# dp_accounting, python/dp_accounting/dp_accounting/pld/pld_privacy_accountant_test.py
# at commit 0c0e3fd403a235e171e17827e0ae70bec9942bcc.
DPA_PLD_TEST = (
    "google/differential-privacy@0c0e3fd4 python/dp_accounting/dp_accounting/pld/pld_privacy_accountant_test.py"
)

#: test_gaussian_basic: Gaussian(sqrt 3) composed 3 times: delta 0.126936 at epsilon 1 (tolerance 1e-3).
DPA_PLD_GAUSSIAN = {"noise_multiplier": math.sqrt(3), "count": 3, "epsilon": 1.0, "delta": 0.126936, "tol": 1e-3}

#: test_poisson_subsampled_gaussian: Poisson(0.2)-sampled Gaussian(0.5) 3 times: delta 0.15594 at
#: epsilon 1 (tolerance 1e-3).
DPA_PLD_SAMPLED_GAUSSIAN = {
    "sample_rate": 0.2,
    "noise_multiplier": 0.5,
    "count": 3,
    "epsilon": 1.0,
    "delta": 0.15594,
    "tol": 1e-3,
}

#: test_laplace_basic: Laplace(1) 3 times and Laplace(2) twice: pure epsilon 4 (their delta 1e-14
#: "is not 0 due to truncation").
DPA_PLD_LAPLACE = {"scales": ((1.0, 3), (2.0, 2)), "epsilon": 4.0}

#: test_poisson_subsampled_laplace: Poisson(0.2)-sampled Laplace(0.5) 3 times: epsilon 2.46964 at
#: delta 1e-14 (tolerance 1e-3).
DPA_PLD_SAMPLED_LAPLACE = {"sample_rate": 0.2, "scale": 0.5, "count": 3, "epsilon": 2.46964, "delta": 1e-14}

# Opacus, opacus/tests/accountants_test.py at commit 030b723fb89aabf3cde663018bb63e5bb95f197a.
OPACUS_TEST = "pytorch/opacus@030b723f opacus/tests/accountants_test.py"

#: test_rdp_accountant: noise 1.5, q 0.04, int(90 / 0.04) = 2250 steps -> epsilon 7.32911117143 at
#: delta 1e-5 (assertAlmostEqual: 7 places).
OPACUS_RDP_EPSILON = {
    "noise_multiplier": 1.5,
    "sample_rate": 0.04,
    "steps": 2250,
    "delta": 1e-5,
    "epsilon": 7.32911117143,
}

#: test_get_noise_multiplier_rdp_epochs / _steps: the noise for epsilon 8 at delta 1e-5, q 0.04,
#: 90 epochs (2250 steps) -> 1.416 and 2000 steps -> 1.3562 (4 places). Opacus searches to an
#: epsilon tolerance of 0.01, so its answer may sit slightly above the smallest noise.
OPACUS_NOISE_FOR_EPSILON = (
    {"epsilon": 8.0, "delta": 1e-5, "sample_rate": 0.04, "steps": 2250, "noise_multiplier": 1.416},
    {"epsilon": 8.0, "delta": 1e-5, "sample_rate": 0.04, "steps": 2000, "noise_multiplier": 1.3562},
)

#: test_gdp_accountant: the same 2250 steps under Opacus' Gaussian-DP (CLT) approximation:
#: 6.59 < epsilon < 6.6. An approximation, not an upper bound (we offer no such accountant).
OPACUS_GDP_EPSILON = {"low": 6.59, "high": 6.6}
