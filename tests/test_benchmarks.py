"""The benchmark scripts run on the active backend at a tiny size and write their JSON.

They time nothing here (timings are benchmarks, not tests: docs/performance.md);
this only keeps the scripts that produce the published tables working.
"""

import json
import re

import pytest

from tests.conftest import BACKEND
from tests.support.scripts import run_script, run_script_here

TINY = ["--batch", "2", "--features", "3", "--units", "4"]


def run_benchmark(script, arguments, out, fresh_process=False):
    """Runs `script arguments --json out` and returns what it wrote: in this
    process (a fresh Python's import of the backend takes longer than a tiny
    benchmark), or with `fresh_process` in a new Python."""
    run = run_script if fresh_process else run_script_here
    run(f"benchmarks/{script}", [*arguments, "--json", str(out)])
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
    from tests.support.backend_utils import fused_kernels_run_here

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


def test_fused_scan_benchmark_compares_both_paths_or_says_why_not(tmp_path):
    from tests.support.backend_utils import fused_kernels_run_here

    arguments = [*TINY, "--lengths", "8", "--repeats", "1", "--rounds", "1"]
    if not fused_kernels_run_here():
        result = run_script("benchmarks/fused_scan.py", arguments, check=False, capture=True)
        assert result.returncode != 0
        assert "No fused path here" in result.stderr and "Received: device=" in result.stderr
        return
    result = run_benchmark("fused_scan.py", arguments, tmp_path / "fused.json")
    assert {r["path"] for r in result["rows"]} == {"composed", "fused"}
    assert result["ratios"]["8"]["train"] > 0


@pytest.mark.parametrize(
    "script, argument",
    [
        ("speed.py", "--lengths"),
        ("speed.py", "--batch"),
        ("fused_scan.py", "--rounds"),
        ("profile_step.py", "--length"),
        ("readout.py", "--units"),
        ("time_chunks.py", "--chunks"),
    ],
)
def test_benchmarks_reject_a_non_positive_size(script, argument):
    # The check comes before any model is built.
    name = argument.lstrip("-")
    message = f"--{name} must be a positive integer. Received: {name}="
    with pytest.raises(ValueError, match=re.escape(message)):
        run_script_here(f"benchmarks/{script}", [argument, "0"])


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


def test_readout_benchmark_times_both_forms_and_checks_they_agree(tmp_path):
    result = run_benchmark(
        "readout.py",
        ["--batch", "2", "--units", "4", "--lengths", "8", "--repeats", "1", "--rounds", "2"],
        tmp_path / "readout.json",
    )
    (row,) = result["results"]
    assert row["keras ops_ms"] > 0 and row["tanh_dense_ms"] > 0, row
    assert len(row["rounds_ms"]["tanh_dense"]) == 2 and row["max_abs_difference"] < 1e-5, row


def test_time_chunks_benchmark_times_every_chunk_length_and_checks_it(tmp_path):
    result = run_benchmark(
        "time_chunks.py",
        ["--batch", "2", "--units", "4", "--lengths", "40", "--chunks", "8", "64"]
        + ["--repeats", "1", "--rounds", "1"],
        tmp_path / "chunks.json",
    )
    # A chunk as long as the sequence is the whole sequence: not timed twice.
    assert [row["chunk"] for row in result["results"]] == [None, 8]
    for row in result["results"]:
        assert row["ms"] > 0 and row["v_max_abs_difference"] < 1e-5, row


def test_memory_benchmark_measures_each_length_in_its_own_process_and_finds_the_longest(tmp_path):
    result = run_benchmark(
        "memory.py",
        [*TINY, "--layers", "HSRU", "--lengths", "8", "--steps", "2", "--longest"]
        + ["--max-length", "16"],
        tmp_path / "memory.json",
    )
    assert [(row["layer"], row["length"]) for row in result["results"]] == [
        ("HSRU", 8),
        ("HSRU", 16),
    ]
    for row in result["results"]:
        assert "failed" not in row and row["peak_memory_bytes"] > 0 and row["step_s"] > 0, row
    assert result["longest_length"] == {"HSRU": 16}


def test_the_gpu_session_script_parses_and_names_its_parts():
    import subprocess

    assert subprocess.run(["bash", "-n", "benchmarks/gpu_session.sh"]).returncode == 0
    done = subprocess.run(
        ["bash", "benchmarks/gpu_session.sh", "everything"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "(received: everything)" in done.stderr
    assert "one of: tests torch-float32 torch-mixed_bfloat16 jax-float32" in done.stderr


def test_speed_benchmark_trains_under_a_mixed_policy(tmp_path):
    result = run_benchmark(
        "speed.py",
        [*TINY, "--lengths", "8", "--repeats", "1", "--layers", "HSRU", "LSTM"]
        + ["--dtype-policy", "mixed_bfloat16"],
        tmp_path / "speed.json",
    )
    assert result["dtype_policy"] == "mixed_bfloat16"
    assert all(row["train_s"] > 0 for row in result["results"]), result["results"]


def test_masking_benchmark_times_each_padding_against_the_unmasked_batch(tmp_path):
    result = run_benchmark(
        "masking.py",
        [*TINY, "--lengths", "8", "--repeats", "1", "--layers", "HSRU"],
        tmp_path / "masking.json",
    )
    rows = result["results"]
    assert [(r["layer"], r["padding"]) for r in rows] == [
        ("HSRU", padding) for padding in ("unmasked", "right", "left")
    ]
    for row in rows:
        assert row["train_s"] > 0 and 2 <= row["mean_length"] <= 8, row
        if row["padding"] == "unmasked":
            assert row["x_unmasked"] == 1.0, row
