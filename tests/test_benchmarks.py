"""The benchmark scripts run on the active backend at a tiny size and write their JSON.

They time nothing here (timings are not tested, see README "Speed"); this only
keeps the scripts that produce the published tables working.
"""

import json

import pytest

from tests.conftest import BACKEND
from tests.scripts import run_script

TINY = ["--batch", "2", "--features", "3", "--units", "4"]


def run_benchmark(script, arguments, out):
    run_script(f"benchmarks/{script}", [*arguments, "--json", str(out)])
    return json.loads(out.read_text())


def test_speed_benchmark_times_every_layer(tmp_path):
    result = run_benchmark(
        "speed.py",
        [*TINY, "--lengths", "8", "16", "--repeats", "1", "--rounds", "2"],
        tmp_path / "speed.json",
    )
    rows = result["results"]
    layers = ("HSRU", "RNN(HSRUCell)", "LSTM", "GRU", "Dense")
    assert {(r["layer"], r["length"]) for r in rows} == {
        (layer, length) for layer in layers for length in (8, 16)
    }
    for row in rows:
        assert len(row["train_rounds_s"]) == 2 and len(row["forward_rounds_s"]) == 2, row
        assert row["train_s"] > 0 and row["forward_s"] > 0, row
        # One count of page faults per timed step (1 repeat x 2 rounds).
        assert len(row["train_page_faults"]) == 2 and len(row["forward_page_faults"]) == 2, row
        assert row["train_page_faults_per_step"] >= 0, row


def test_speed_benchmark_times_a_forced_implementation_or_says_why_not(tmp_path):
    from tests.backend_utils import fused_kernels_run_here

    result = run_benchmark(
        "speed.py",
        [*TINY, "--lengths", "8", "--repeats", "1", "--layers", "HSRU(fused)", "HSRU(scan)"],
        tmp_path / "speed.json",
    )
    fused, scan = result["results"]
    assert scan["layer"] == "HSRU(scan)" and scan["train_s"] > 0, scan
    if fused_kernels_run_here():
        assert fused["train_s"] > 0, fused
    else:  # torch on a CPU: the layer's ValueError, and the rest still timed
        assert fused["skipped"].startswith("failed: ValueError:"), fused
        assert "Received: device=" in fused["skipped"], fused


def test_projection_layout_benchmark_times_both_layouts(tmp_path):
    result = run_benchmark(
        "projection_layout.py",
        [*TINY, "--length", "8", "--repeats", "1", "--rounds", "1"],
        tmp_path / "layout.json",
    )
    assert {r["layout"] for r in result["rows"]} == {"rank3", "flattened"}
    assert all(r["train_ms"] > 0 and r["forward_ms"] > 0 for r in result["rows"])
    assert result["ratios"]["train_ms"] > 0


def test_fused_scan_benchmark_compares_both_paths_or_says_why_not(tmp_path):
    from tests.backend_utils import fused_kernels_run_here

    arguments = [*TINY, "--lengths", "8", "--repeats", "1", "--rounds", "1"]
    if not fused_kernels_run_here():
        result = run_script("benchmarks/fused_scan.py", arguments, check=False, capture=True)
        assert result.returncode != 0
        assert "No fused path here" in result.stderr and "Received: device=" in result.stderr
        return
    result = run_benchmark("fused_scan.py", arguments, tmp_path / "fused.json")
    assert {r["path"] for r in result["rows"]} == {"composed", "fused"}
    assert result["ratios"]["8"]["train"] > 0


@pytest.mark.skipif(BACKEND != "jax", reason="JAX's scan algorithms")
def test_jax_scan_algorithms_benchmark_checks_and_times_every_candidate(tmp_path):
    result = run_benchmark(
        "jax_scan_algorithms.py",
        ["--batch", "2", "--units", "4", "--lengths", "37", "--repeats", "1", "--rounds", "1"],
        tmp_path / "scans.json",
    )
    summary = result["summary"]
    algorithms = {"package", "sequential", "associative", "odd-even", "chunked"}
    assert {(s["length"], s["scan"], s["algorithm"]) for s in summary} == {
        (37, scan, name) for scan in ("V", "count") for name in algorithms
    }
    for row in summary:
        # Each candidate equals the float64 recurrence, forward and reverse, at L=300.
        assert row["max_relative_error"] < 1e-5, row
        assert row["forward_ms"] > 0 and row["forward_and_reverse_ms"] > 0, row


@pytest.mark.parametrize(
    "script, argument",
    [
        ("speed.py", "--lengths"),
        ("projection_layout.py", "--length"),
        ("speed.py", "--batch"),
        ("jax_scan_algorithms.py", "--rounds"),
    ],
)
def test_benchmarks_reject_a_non_positive_size(script, argument):
    finished = run_script(f"benchmarks/{script}", [argument, "0"], check=False, capture=True)
    assert finished.returncode != 0
    name = argument.lstrip("-")
    assert f"ValueError: --{name} must be a positive integer" in finished.stderr
    assert f"Received: {name}=" in finished.stderr


@pytest.mark.skipif(BACKEND != "jax", reason="JAX's Pallas kernels")
def test_pallas_kernel_benchmark_checks_and_times_every_setting(tmp_path):
    result = run_benchmark(
        "pallas_kernel.py",
        ["--interpret", "--batch", "2", "--units", "8", "--lengths", "5"]
        + ["--unrolls", "2", "4", "--blocks", "4", "--repeats", "1", "--rounds", "1"],
        tmp_path / "pallas.json",
    )
    summary = {s["path"]: s for s in result["summary"]}
    assert set(summary) == {"composed", "unroll 2, block 4", "unroll 4, block 4"}
    for row in summary.values():
        assert row["v_error"] < 1e-5 and row["d_agree"] == 1.0, row
        assert row["forward_ms"] > 0 and row["forward_and_backward_ms"] > 0, row


def test_chunked_inference_benchmark_times_each_chunk_length(tmp_path):
    result = run_benchmark(
        "chunked_inference.py",
        [*TINY, "--lengths", "9", "--chunk-lengths", "4", "whole", "--repeats", "1"],
        tmp_path / "chunked.json",
    )
    rows = result["rows"]
    assert {(r["chunk_length"], r["round"]) for r in rows} == {
        (chunk_length, round_) for chunk_length in (None, 4) for round_ in (1, 2, 3)
    }
    assert all(r["forward_ms"] > 0 and r["page_faults"] >= 0 for r in rows)
    assert set(result["whole_over_chunked"]) == {"9/whole", "9/4"}
    assert result["whole_over_chunked"]["9/whole"] == 1.0


def test_chunked_inference_benchmark_rejects_a_bad_chunk_length():
    result = run_script(
        "benchmarks/chunked_inference.py", ["--chunk-lengths", "0"], check=False, capture=True
    )
    assert result.returncode != 0 and "Received: '0'" in result.stderr
