"""Curriculum advances by epochs and by a monitored metric, logs its stage, and resumes."""

import os

import keras
import pytest

from keras_hsru import tasks
from keras_hsru.callbacks import Curriculum, EpochSync
from keras_hsru.models import HSRURNN


class RecordingParity(tasks.TemporalParity):
    """Records the lengths of the batches drawn in each of fit's epochs.

    `EpochTag` says which epoch fit is in; batches drawn outside (keras peeks
    at one before training starts) are not recorded.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lengths_by_epoch = {}
        self.fit_epoch = None

    def generate(self, rng, count, length):
        if self.fit_epoch is not None:
            self.lengths_by_epoch.setdefault(self.fit_epoch, set()).add(length)
        return super().generate(rng, count, length)

    def lengths_seen(self):
        """One length per epoch (failing if an epoch mixed lengths)."""
        (lengths,) = zip(*(self.lengths_by_epoch[e] for e in sorted(self.lengths_by_epoch)))
        return list(lengths)


class EpochTag(keras.callbacks.Callback):
    def __init__(self, datasets):
        super().__init__()
        self.datasets = datasets

    def on_epoch_begin(self, epoch, logs=None):
        for dataset in self.datasets:
            dataset.fit_epoch = epoch


def make_model():
    model = HSRURNN(4)
    model.compile(keras.optimizers.AdamW(1e-2, global_clipnorm=1.0), "binary_crossentropy")
    model.build((None, None, 1))
    return model


def test_advances_every_epochs_per_stage_and_logs_the_stage():
    train = RecordingParity(3, batch_size=8, steps_per_epoch=2, seed=0)
    val = RecordingParity(3, batch_size=8, steps_per_epoch=2, seed=1)
    curriculum = Curriculum([train, val], lengths=[3, 5, 7], epochs_per_stage=2)
    history = make_model().fit(
        train,
        validation_data=val,
        epochs=6,
        callbacks=[curriculum, EpochTag([train, val])],
        verbose=0,
    )
    assert history.history["sequence_length"] == [3, 3, 5, 5, 7, 7]
    assert history.history["curriculum_stage"] == [0, 0, 1, 1, 2, 2]
    # Training and validation batches had the stage's length (the last stage stays).
    assert train.lengths_seen() == [3, 3, 5, 5, 7, 7]
    assert val.lengths_seen() == [3, 3, 5, 5, 7, 7]


def test_advances_when_the_monitored_metric_reaches_the_threshold():
    train = RecordingParity(4, batch_size=8, steps_per_epoch=2, seed=0)
    # Loss is always below 1e9 ("min" mode from the name): a stage ends after
    # min_epochs_per_stage epochs.
    reached = Curriculum(
        train, lengths=[4, 6], monitor="loss", threshold=1e9, min_epochs_per_stage=2
    )
    history = make_model().fit(train, epochs=4, callbacks=[reached], verbose=0)
    assert history.history["sequence_length"] == [4, 4, 6, 6]
    never = Curriculum(train, lengths=[4, 6], monitor="loss", threshold=-1.0)
    history = make_model().fit(train, epochs=3, callbacks=[never], verbose=0)
    assert history.history["sequence_length"] == [4, 4, 4]


def test_warns_when_the_monitored_metric_is_missing():
    train = RecordingParity(4, batch_size=8, steps_per_epoch=2, seed=0)
    curriculum = Curriculum(train, lengths=[4, 6], monitor="val_accuracy", threshold=0.9)
    with pytest.warns(UserWarning, match="val_accuracy"):
        make_model().fit(train, epochs=1, callbacks=[curriculum], verbose=0)


class Interrupt(keras.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise RuntimeError("interrupted")


def test_a_run_resumed_by_backup_and_restore_continues_in_its_stage(tmp_path):
    backup_dir = str(tmp_path / "backup")

    def run(epochs, extra_callbacks):
        train = RecordingParity(3, batch_size=8, steps_per_epoch=2, seed=0)
        curriculum = Curriculum(train, lengths=[3, 5, 7], epochs_per_stage=2, backup_dir=backup_dir)
        callbacks = [curriculum, EpochTag([train]), *extra_callbacks]
        callbacks.append(keras.callbacks.BackupAndRestore(backup_dir))
        history = make_model().fit(train, epochs=epochs, callbacks=callbacks, verbose=0)
        return train, history

    # Epochs 0-2 train at 3, 3, 5; the run dies at the end of epoch 3 (length 5),
    # before BackupAndRestore saves it.
    with pytest.raises(RuntimeError, match="interrupted"):
        run(6, [Interrupt(at_epoch=3)])
    assert os.path.exists(os.path.join(backup_dir, "curriculum.json"))
    # A fresh process would rebuild model and callbacks: resume from epoch 3.
    train, history = run(6, [])
    assert history.history["sequence_length"] == [5, 7, 7]
    assert train.lengths_seen() == [5, 7, 7]
    assert not os.path.exists(backup_dir)  # removed with the backup when training completed


def test_a_backup_saved_after_the_curriculum_state_was_lost_fails_clearly(tmp_path):
    backup_dir = str(tmp_path / "backup")

    def run(extra_callbacks):
        train = RecordingParity(3, batch_size=8, steps_per_epoch=2, seed=0)
        curriculum = Curriculum(train, lengths=[3, 5], epochs_per_stage=1, backup_dir=backup_dir)
        # The wrong order: the backup of an epoch is saved before the
        # curriculum records its state for the next one.
        callbacks = [keras.callbacks.BackupAndRestore(backup_dir), *extra_callbacks, curriculum]
        return make_model().fit(train, epochs=4, callbacks=callbacks, verbose=0)

    # The run dies between the backup of epoch 1 and the curriculum's record.
    with pytest.raises(RuntimeError, match="interrupted"):
        run([Interrupt(at_epoch=1)])
    with pytest.raises(ValueError, match="List Curriculum before BackupAndRestore"):
        run([])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lengths": []}, r"lengths=\[\]"),
        ({"lengths": [10, 0]}, r"lengths=\[10, 0\]"),
        ({"lengths": "10"}, "lengths='10'"),
        ({"epochs_per_stage": None, "threshold": None}, "epochs_per_stage=None, threshold=None"),
        ({"epochs_per_stage": 0}, "epochs_per_stage=0"),
        ({"threshold": "high"}, "threshold='high'"),
        ({"mode": "up", "threshold": 1.0}, "mode='up'"),
        ({"min_epochs_per_stage": 0, "threshold": 1.0}, "min_epochs_per_stage=0"),
        ({"monitor": "", "threshold": 1.0}, "monitor=''"),
        ({"backup_dir": 3, "epochs_per_stage": 1}, "backup_dir=3"),
    ],
)
def test_invalid_arguments_raise_value_errors_naming_the_value(kwargs, message):
    arguments = {"epochs_per_stage": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        Curriculum(tasks.TemporalParity(10), **arguments)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="a TensorFlow limit")
def test_tensorflow_needs_two_batches_per_epoch_to_change_the_length():
    train = tasks.TemporalParity(3, batch_size=8, steps_per_epoch=1)
    curriculum = Curriculum(train, lengths=[3, 5], epochs_per_stage=1)
    with pytest.raises(ValueError, match="at least 2 batches"):
        make_model().fit(train, epochs=2, callbacks=[curriculum], verbose=0)


def test_datasets_need_a_length():
    with pytest.raises(ValueError, match="settable `length`"):
        Curriculum([object()], epochs_per_stage=1)


def test_epoch_sync_sets_the_epoch_of_its_tasks_at_every_epoch_of_fit():
    train = RecordingParity(3, batch_size=8, steps_per_epoch=2, seed=0)
    val = RecordingParity(3, batch_size=8, steps_per_epoch=2, seed=1)
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append((train.epoch, val.epoch))

    make_model().fit(
        train,
        validation_data=val,
        epochs=4,
        initial_epoch=2,
        callbacks=[EpochSync([train, val]), Record()],
        verbose=0,
    )
    assert seen == [(2, 2), (2, 2), (3, 3), (3, 3)]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: EpochSync([object()]), "set_epoch"),
        (lambda: EpochSync(tasks.TemporalParity(3), backup_dir=3), "backup_dir=3"),
    ],
)
def test_epoch_sync_validates_its_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()
