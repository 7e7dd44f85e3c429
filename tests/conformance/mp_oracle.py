"""An independent high-precision oracle for the Renyi divergence of the Poisson-sampled Gaussian.

For sampling rate q and noise multiplier sigma, the RDP at order alpha (add/remove-one, the
dominating pair of Mironov, Talwar, Zhang 2019, Sec. 3) is log(A_alpha) / (alpha - 1) with

    A_alpha = integral over z of  mu0(z) * ((1 - q) + q * exp((2 z - 1) / (2 sigma^2)))^alpha,

mu0 the N(0, sigma^2) density. We integrate it with mpmath at 40 significant digits, splitting
the line where the integrand can peak (0, 1/2, 1 and alpha, the mode of the sampled term), so no
closed form or series of ours (or of the peers) is involved.
"""

from __future__ import annotations

import mpmath


def sampled_gaussian_rdp(q: float, sigma: float, alpha: float) -> float:
    """RDP of one Poisson-sampled Gaussian step at order ``alpha`` > 1, by numerical integration."""
    with mpmath.workdps(40):
        q_, s_, a_ = mpmath.mpf(q), mpmath.mpf(sigma), mpmath.mpf(alpha)

        def integrand(z: mpmath.mpf) -> mpmath.mpf:
            ratio = (1 - q_) + q_ * mpmath.exp((2 * z - 1) / (2 * s_**2))
            return mpmath.npdf(z, 0, s_) * ratio**a_

        cuts = sorted({mpmath.mpf(0), mpmath.mpf(1) / 2, mpmath.mpf(1), a_})
        area = mpmath.quad(integrand, [-mpmath.inf, *cuts, mpmath.inf])
        return float(mpmath.log(area) / (a_ - 1))


def gaussian_delta(sigma: float, epsilon: float) -> float:
    """Exact delta(epsilon) of one Gaussian release with sensitivity 1 (Balle and Wang, ICML 2018, Thm. 8)."""
    with mpmath.workdps(40):
        s, e = mpmath.mpf(sigma), mpmath.mpf(epsilon)
        return float(mpmath.ncdf(1 / (2 * s) - e * s) - mpmath.exp(e) * mpmath.ncdf(-1 / (2 * s) - e * s))
