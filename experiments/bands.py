"""The band drawn and printed around the mean over seeds, shared by the run summary, the
figures and the validation report."""

from __future__ import annotations

#: From this many seeds on, bands are the 5-95% range over seeds; below it, min-max.
QUANTILE_BAND_MIN_SEEDS = 20


def band_quantiles(n_seeds: int) -> tuple[float, float, str]:
    """(low quantile, high quantile, label) of the band drawn and printed over seeds."""
    if n_seeds >= QUANTILE_BAND_MIN_SEEDS:
        return 0.05, 0.95, "5-95%"
    return 0.0, 1.0, "min-max"
