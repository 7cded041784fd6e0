"""Latency figures the examples report (`streaming.py`, `edge.py`), one definition for
every table of the Deploy page."""

import statistics


def percentiles_ms(seconds):
    """`(median, 99th percentile)` of call times in milliseconds, the 99th by nearest rank."""
    ms = sorted(1e3 * t for t in seconds)
    return statistics.median(ms), ms[min(len(ms) - 1, int(0.99 * len(ms)))]
