"""Every example's --quick mode runs on the active backend and writes only to its output directory."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from tests.support.scripts import ROOT, run_script, run_script_here

# distributed.py needs two devices set up per engine: tests/test_distributed.py runs it.
EXAMPLES = sorted(
    f
    for f in os.listdir(os.path.join(ROOT, "examples"))
    if f.endswith(".py") and f[0] != "_" and f != "distributed.py"
)


def run_quick_mode(script, directory, fresh_process=False):
    """Runs `script --quick` in `directory` with the default outputs; returns its result.

    In this process (the import of the backend would take as long as the
    run), or with `fresh_process` in a new Python.
    """
    run = run_script if fresh_process else run_script_here
    run(os.path.join("examples", script), ["--quick"], cwd=directory)
    return check_outputs(directory)


# The examples whose results the docs show on all three backends
# (docs/regenerate.py); the others are documented on JAX. An example's own code
# (arguments, outputs, the loops it writes) is the same Python on every backend,
# and what it calls in keras and keras_hsru is tested on all three by the other
# test files, so the smoke run of a JAX-documented example runs on JAX alone,
# which keeps CI's time down.
EVERY_BACKEND = ("quickstart_parity.py", "temporal_parity.py", "streaming.py", "edge.py")
documented_on_jax = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="an example documented on JAX: its smoke run runs there",
)


@pytest.mark.parametrize(
    "script",
    [s if s in EVERY_BACKEND else pytest.param(s, marks=documented_on_jax) for s in EXAMPLES],
)
def test_example_quick_mode_writes_to_outputs(script, tmp_path):
    run_quick_mode(script, tmp_path)


def check_outputs(tmp_path):
    # No output arguments: the defaults, relative to the working directory.
    assert os.listdir(tmp_path) == ["outputs"]
    written = sorted(os.listdir(tmp_path / "outputs"))
    results = [name for name in written if name.endswith(".json")]
    assert len(results) == 1, written
    result = json.loads((tmp_path / "outputs" / results[0]).read_text())
    assert result["backend"] == os.environ.get("KERAS_BACKEND", result["backend"])
    if "figure" in result:
        figure = tmp_path / result["figure"]  # relative to the example's working directory
        assert figure.parent == tmp_path / "outputs", result["figure"]
        with open(figure, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    return result


@documented_on_jax
def test_regular_languages_trains_a_curriculum_of_fixed_lengths(tmp_path):
    out = tmp_path / "result.json"
    arguments = ["--quick", "--tasks", "parity_check", "--models", "hsru", "--json", str(out)]
    run_script_here(
        os.path.join("examples", "regular_languages.py"),
        [*arguments, "--train-lengths", "4", "6", "8"],
    )
    result = json.loads(out.read_text())
    assert result["curriculum"] == [4, 6, 8] and result["train_lengths"] is None
    assert result["runs"][0]["epoch_lengths"] == [4, 6, 8]  # --quick: an epoch of 2 steps a stage
    run_script_here(os.path.join("examples", "regular_languages.py"), arguments)
    drawn = json.loads(out.read_text())
    assert drawn["curriculum"] is None and drawn["train_lengths"] == [1, 6]
    assert drawn["runs"][0]["epoch_lengths"] is None


@documented_on_jax
def test_regular_languages_trains_each_tasks_recipe_and_saves_each_model(tmp_path):
    # Without --models each task runs its documented recipe: the reset cascade
    # (its k per layer) beside the LSTM.
    out, saved = tmp_path / "result.json", tmp_path / "models"
    arguments = ["--quick", "--tasks", "word_problem_s3", "modular_arithmetic", "--seeds", "1"]
    run_script_here(
        os.path.join("examples", "regular_languages.py"),
        [*arguments, "--save-dir", str(saved), "--json", str(out)],
    )
    runs = json.loads(out.read_text())["runs"]
    assert [(r["task"], r["model"], r["reset_states"]) for r in runs] == [
        ("word_problem_s3", "hsru_reset", [2, 3]),
        ("word_problem_s3", "lstm", None),
        ("modular_arithmetic", "hsru_reset", [4, 4, 5]),
        ("modular_arithmetic", "lstm", None),
    ]
    assert sorted(os.listdir(saved)) == [
        "modular_arithmetic-hsru_reset-seed0.keras",
        "modular_arithmetic-lstm-seed0.keras",
        "word_problem_s3-hsru_reset-seed0.keras",
        "word_problem_s3-lstm-seed0.keras",
    ]
    for run in runs:
        model = keras.saving.load_model(run["saved"])
        # S3's six elements (Modular Arithmetic's five residues) out.
        assert model.output_shape[-1] == (6 if run["task"] == "word_problem_s3" else 5)
        assert model.count_params() == run["parameters"]
        cells = [layer.cell for layer in model.layers if hasattr(layer, "cell")]
        if run["model"] == "hsru_reset":
            assert [cell.memory_states for cell in cells] == run["reset_states"]
            assert all(cell.memory == "reset" for cell in cells)


def dtw_distance(a, b):
    """Dynamic time warping with a full window and squared differences, step by step."""
    cost = np.full((len(a) + 1, len(b) + 1), np.inf)
    cost[0, 0] = 0.0
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            step = np.sum((a[i - 1] - b[j - 1]) ** 2)
            cost[i, j] = step + min(cost[i - 1, j], cost[i, j - 1], cost[i - 1, j - 1])
    return cost[-1, -1]


@documented_on_jax
def test_time_series_classification_measures_nearest_neighbour_dtw(tmp_path):
    from aeon.datasets import load_classification

    out = tmp_path / "result.json"
    run_script_here(
        os.path.join("examples", "time_series_classification.py"),
        ["--quick", "--models", "dtw", "--json", str(out)],
    )
    [run] = json.loads(out.read_text())["runs"]
    assert (run["dataset"], run["model"]) == ("ItalyPowerDemand", "dtw")
    # --quick keeps the first 16 cases of each split. The example z-scores the one
    # channel with the same mean and deviation for every series, which keeps each
    # series' nearest neighbour: the raw series give the same accuracy.
    (train, train_labels), (test, test_labels) = (
        (data[:16, 0], labels[:16])
        for data, labels in (
            load_classification("ItalyPowerDemand", split=split) for split in ("train", "test")
        )
    )
    nearest = [
        train_labels[np.argmin([dtw_distance(case, other) for other in train])] for case in test
    ]
    assert run["test_accuracy"] == np.mean(np.array(nearest) == test_labels)
    assert 0.5 < run["test_accuracy"] < 1.0  # the subset is neither trivial nor chance


@documented_on_jax
def test_regular_languages_rejects_steps_that_do_not_split_into_stages(tmp_path):
    # The check comes before any training.
    arguments = ["--train-lengths", "10", "30", "60", "--steps", "1000"]
    with pytest.raises(ValueError, match="--steps must split into 3 stages") as raised:
        run_script_here(
            os.path.join("examples", "regular_languages.py"),
            [*arguments, "--json", str(tmp_path / "r.json")],
        )
    assert "Received: --steps 1000" in str(raised.value)
    assert not (tmp_path / "r.json").exists()


@documented_on_jax  # the argument's handling is the same Python on every backend
def test_example_json_argument_overrides_the_default_path(tmp_path):
    out = tmp_path / "elsewhere.json"
    run_script_here(
        os.path.join("examples", "quickstart_parity.py"),
        ["--quick", "--json", str(out), "--output-dir", str(tmp_path / "unused")],
    )
    assert json.loads(out.read_text())["test_sequences"] == 2000


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in ("train_seconds",)}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


# The example's backup plumbing is the same Python on every backend, and
# tests/test_resume.py kills runs on all three; one backend (the fastest to
# start a process here) keeps CI's time down.
@pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="the example's resume runs on torch; the mechanism is tested on every backend",
)
def test_temporal_parity_killed_mid_run_resumes_from_its_backup_to_the_same_results(tmp_path):
    script = os.path.join(ROOT, "examples", "temporal_parity.py")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT}

    def command(name):
        return [
            sys.executable,
            script,
            "--quick",
            "--backup-dir",
            str(tmp_path / f"{name}-backup"),
            "--json",
            str(tmp_path / f"{name}.json"),
            "--output-dir",
            str(tmp_path / "figures"),
        ]

    # The uninterrupted run: quick mode with the default outputs, no backup.
    (tmp_path / "uninterrupted").mkdir()
    uninterrupted = run_quick_mode(
        "temporal_parity.py", tmp_path / "uninterrupted", fresh_process=True
    )

    # Killed once a run has finished and the next one has backed up an epoch.
    process = subprocess.Popen(command("killed"), env=env, stdout=subprocess.DEVNULL)
    backup = tmp_path / "killed-backup"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        finished = list(backup.glob("*.json")) if backup.exists() else []
        started = [d for d in backup.glob("*") if (d / "history.json").exists()]
        if finished and started:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    assert process.wait(timeout=60) == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (tmp_path / "killed.json").exists()

    subprocess.run(command("killed"), env=env, check=True, capture_output=True, timeout=600)
    resumed = json.loads((tmp_path / "killed.json").read_text())
    for result in (resumed, uninterrupted):
        del result["figure"]
    assert _without_timings(resumed) == _without_timings(uninterrupted)
