"""A curriculum run killed with SIGKILL at any point and restarted with the same command ends
exactly where an uninterrupted run does: weights, history, stage, checkpoint.

Each run is a fresh process (tests/support/resume_run.py: three epochs, one
per curriculum stage, four batches each), as after a crash.
"""

import json
import signal

import keras
import numpy as np
import pytest

from tests.support.scripts import run_script

SCRIPT = "tests/support/resume_run.py"


def run(directory, out=None, arguments=()):
    arguments = ["--dir", str(directory), *arguments]
    if out is not None:
        arguments += ["--out", str(out)]
    return run_script(SCRIPT, arguments, check=False, capture=True)


def completed(directory, arguments=()):
    out = directory / "result.json"
    process = run(directory, out, arguments)
    assert process.returncode == 0, process.stderr[-3000:]
    with open(out) as f:
        return json.load(f)


def killed(directory, arguments):
    process = run(directory, arguments=arguments)
    assert process.returncode == -signal.SIGKILL, (process.returncode, process.stderr[-3000:])


def mid_epoch(epoch, batch):
    return ["--kill-epoch", str(epoch), "--kill-batch", str(batch)]


def in_backup(where, number):
    return ["--kill-in-save", where, "--kill-save", str(number)]


def assert_same_weights(got, want):
    for a, b in zip(got["weights"], want["weights"]):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    return completed(tmp_path_factory.mktemp("uninterrupted"))


# Where a kill falls in the backup's writes is file handling, the same on every
# backend; what a resume restores (weights, optimizer, seeds, the curriculum's
# stage) is the backend's. So every backend resumes from a kill in the last
# stage, and one backend (the fastest to start a process here) also from the
# kills that fall in a backup's writes.
EVERY_BACKUP_WRITE = keras.backend.backend() == "torch"


# Both tests that compare with the uninterrupted run share one worker under
# pytest-xdist (`--dist loadgroup`), so that it is trained once.
@pytest.mark.xdist_group("uninterrupted")
def test_a_run_killed_again_and_again_resumes_to_the_uninterrupted_result(uninterrupted, tmp_path):
    # Each process is killed at another point; the next one starts with the
    # same command and resumes from whatever the last one left.
    if EVERY_BACKUP_WRITE:
        killed(tmp_path, mid_epoch(0, 1))  # before the first backup: starts again
        killed(tmp_path, in_backup("weights", 1))  # the first backup half written
        killed(tmp_path, in_backup("renames", 2))  # epoch 1's backup between its renames
    killed(tmp_path, mid_epoch(2, 1))  # in the last stage
    if EVERY_BACKUP_WRITE:
        killed(tmp_path, in_backup("between", 1))  # epoch 2's weights written, not renamed
    resumed = completed(tmp_path)

    assert_same_weights(resumed, uninterrupted)
    assert resumed["iterations"] == uninterrupted["iterations"] == 3 * 4
    assert resumed["stage"] == uninterrupted["stage"] == 2
    # The last process trained epoch 2 only; its History is that epoch of the
    # uninterrupted run's, and the CSV log appended across processes is all of it.
    # An epoch logged and then killed in its backup was trained and logged again,
    # with the same values.
    assert resumed["epochs_run"] == [2]
    for name, values in resumed["history"].items():
        assert values == uninterrupted["history"][name][2:], name
    rows = {}
    for row in resumed["csv_history"]:
        assert rows.setdefault(row["epoch"], row) == row
    assert list(rows.values()) == uninterrupted["csv_history"]
    assert [row["sequence_length"] for row in rows.values()] == ["5", "9", "13"]
    assert resumed["checkpoint_matches"] and uninterrupted["checkpoint_matches"]
    # The tasks followed the training epoch: the last process drew epoch 2's
    # batches (and counted its end), not its own first epoch's.
    assert resumed["train_epoch"] == uninterrupted["train_epoch"] == 3


def test_without_a_curriculum_epoch_sync_makes_the_resume_exact(tmp_path):
    uninterrupted = completed(tmp_path / "a", ["--epoch-sync"])
    killed(tmp_path / "b", ["--epoch-sync", *mid_epoch(1, 0)])
    resumed = completed(tmp_path / "b", ["--epoch-sync"])
    assert_same_weights(resumed, uninterrupted)
    assert resumed["epochs_run"] == [1, 2]
    assert resumed["csv_history"] == uninterrupted["csv_history"]


# keras' own backup writes its files in keras' Python, the same on every
# backend: the control runs where a process starts fastest.
@pytest.mark.skipif(
    not EVERY_BACKUP_WRITE, reason="keras' file handling, the same on every backend: on torch"
)
@pytest.mark.xdist_group("uninterrupted")
def test_keras_own_backup_killed_between_its_writes_trains_an_epoch_twice(uninterrupted, tmp_path):
    # The control, keras' BackupAndRestore: killed after it wrote epoch 1's
    # weights and before the epoch they belong to, the restart trains epoch 1
    # again from epoch 1's weights, and ends elsewhere without a word.
    killed(tmp_path, ["--keras-backup", *in_backup("between", 2)])
    twice = completed(tmp_path, ["--keras-backup"])
    assert twice["iterations"] == uninterrupted["iterations"] + 4  # epoch 1's batches again
    assert any(
        not np.array_equal(np.asarray(a), np.asarray(b))
        for a, b in zip(twice["weights"], uninterrupted["weights"])
    )
