"""The load benchmark's figures: its percentiles and growth ratios are computed right (bench/load.py)."""

from __future__ import annotations

import random
import statistics

from bench.load import growth, percentile, summarise


def test_percentiles_agree_with_the_standard_librarys_inclusive_quantiles():
    rng = random.Random(7)
    for size in (2, 3, 10, 101, 997):
        values = [rng.lognormvariate(3, 1) for _ in range(size)]
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        ordered = sorted(values)
        for q in (50, 95, 99):
            assert abs(percentile(ordered, q / 100) - cuts[q - 1]) < 1e-9 * cuts[q - 1]


def test_percentile_ends_and_no_samples():
    assert percentile([], 0.95) is None
    assert percentile([4.0], 0.99) == 4.0
    assert (percentile([1.0, 2.0, 9.0], 0.0), percentile([1.0, 2.0, 9.0], 1.0)) == (1.0, 9.0)


def test_summary_counts_throughput_and_tail():
    figures = summarise([30.0, 10.0, 20.0, 1000.0], errors=1, window_s=2.0)
    assert (figures["requests"], figures["errors"], figures["throughput_rps"], figures["max_ms"]) == (4, 1, 2.0, 1000.0)
    assert figures["p50_ms"] == 25.0
    assert summarise([], errors=0, window_s=1.0)["p95_ms"] is None


def test_growth_is_each_p95_over_the_ten_worker_p95():
    levels = [{"workers": 10, "p95_ms": 40.0}, {"workers": 50, "p95_ms": 60.0}, {"workers": 200, "p95_ms": None}]
    growth(levels)
    assert [level["p95_ratio_to_10"] for level in levels] == [1.0, 1.5, None]
    alone = [{"workers": 50, "p95_ms": 60.0}]
    growth(alone)
    assert alone[0]["p95_ratio_to_10"] is None
