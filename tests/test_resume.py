"""A curriculum run killed with SIGKILL mid-epoch and restarted with the same command ends
exactly where an uninterrupted run does: weights, history, stage, checkpoint.

Each run is a fresh process (tests/support/resume_run.py), as after a crash.
"""

import json
import signal

import numpy as np
import pytest

from tests.support.scripts import run_script

SCRIPT = "tests/support/resume_run.py"


def run(directory, out=None, kill=None, epoch_sync=False):
    arguments = ["--dir", str(directory)] + (["--epoch-sync"] if epoch_sync else [])
    if out is not None:
        arguments += ["--out", str(out)]
    if kill is not None:
        arguments += ["--kill-epoch", str(kill[0]), "--kill-batch", str(kill[1])]
    return run_script(SCRIPT, arguments, check=False, capture=True)


def completed(directory, out, **kwargs):
    process = run(directory, out, **kwargs)
    assert process.returncode == 0, process.stderr[-3000:]
    with open(out) as f:
        return json.load(f)


def killed(directory, kill, **kwargs):
    process = run(directory, kill=kill, **kwargs)
    assert process.returncode == -signal.SIGKILL, (process.returncode, process.stderr[-3000:])


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    directory = tmp_path_factory.mktemp("uninterrupted")
    return completed(directory, directory / "result.json")


def test_a_run_killed_twice_mid_epoch_resumes_to_the_uninterrupted_result(uninterrupted, tmp_path):
    # Killed in epoch 2 (the first of stage 1, after one stage change) and again
    # in epoch 5 (the last stage), each time after a batch of the epoch trained.
    killed(tmp_path, kill=(2, 1))
    killed(tmp_path, kill=(5, 2))
    resumed = completed(tmp_path, tmp_path / "result.json")

    for got, want in zip(resumed["weights"], uninterrupted["weights"]):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    assert resumed["iterations"] == uninterrupted["iterations"] == 6 * 4
    assert resumed["stage"] == uninterrupted["stage"] == 2
    # The last process trained epoch 5 only; its History is that epoch of the
    # uninterrupted run's, and the CSV log appended across processes is all of it.
    assert resumed["epochs_run"] == [5]
    for name, values in resumed["history"].items():
        assert values == uninterrupted["history"][name][5:], name
    assert resumed["csv_history"] == uninterrupted["csv_history"]
    assert [row["sequence_length"] for row in resumed["csv_history"]] == [
        "5", "5", "9", "9", "13", "13"
    ]  # fmt: skip
    assert resumed["checkpoint_matches"] and uninterrupted["checkpoint_matches"]
    # The tasks followed the training epoch: the last process drew epoch 5's
    # batches (and counted its end), not its own first epoch's.
    assert resumed["train_epoch"] == uninterrupted["train_epoch"] == 6


def test_a_run_killed_before_its_first_backup_starts_again_from_scratch(uninterrupted, tmp_path):
    killed(tmp_path, kill=(0, 2))
    resumed = completed(tmp_path, tmp_path / "result.json")
    for got, want in zip(resumed["weights"], uninterrupted["weights"]):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    assert resumed["epochs_run"] == list(range(6))


def test_without_a_curriculum_epoch_sync_makes_the_resume_exact(tmp_path):
    uninterrupted = completed(tmp_path / "a", tmp_path / "a.json", epoch_sync=True)
    killed(tmp_path / "b", kill=(3, 0), epoch_sync=True)
    resumed = completed(tmp_path / "b", tmp_path / "b.json", epoch_sync=True)
    for got, want in zip(resumed["weights"], uninterrupted["weights"]):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    assert resumed["epochs_run"] == [3, 4, 5]
    assert resumed["csv_history"] == uninterrupted["csv_history"]
