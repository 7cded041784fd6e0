"""Exact resume: `EpochSync` (the tasks follow the training epoch) and
`BackupAndRestore` (keras' callback, with a backup written whole or not at
all), and the epoch state they and `Curriculum` keep in a backup directory."""

import json
import os
import random
import shutil

import keras

_STATE_FILE = "curriculum.json"
_SYNC_FILE = "epoch_sync.json"


def _check_backup_dir(backup_dir):
    if backup_dir is not None and (
        not isinstance(backup_dir, (str, os.PathLike)) or not str(backup_dir)
    ):
        raise ValueError(
            f"`backup_dir` must be a directory path or None. Received: backup_dir={backup_dir!r}"
        )
    return None if backup_dir is None else os.fspath(backup_dir)


class _EpochStates:
    """A callback's state at the start of each epoch, kept in `backup_dir/name` for
    a run that `keras.callbacks.BackupAndRestore` resumes.

    Each record also holds the state of Python's `random` at the start of the
    epoch: keras shuffles the batch order of a `PyDataset` with it (fit's
    default `shuffle=True`), and BackupAndRestore does not restore it, so a
    resumed run would train its epochs' batches in another order.
    """

    # The resumed epoch is the last or the one before (a kill between the
    # callback's record and the backup); older random states are dropped.
    _random_states_kept = 2

    def __init__(self, backup_dir, name):
        self.path = None if backup_dir is None else os.path.join(backup_dir, name)
        self.states, self.random_states = {}, {}

    def load(self):
        self.states, self.random_states = {}, {}
        if self.path is not None and os.path.exists(self.path):
            with open(self.path) as f:
                saved = json.load(f)
            self.states = {int(k): v for k, v in saved["states"].items()}
            self.random_states = {int(k): v for k, v in saved["random"].items()}

    def record(self, epoch, state):
        """Records the state at the start of `epoch` (with `random`'s, as of now)."""
        self.states[epoch] = state
        version, internal, gauss = random.getstate()
        self.random_states[epoch] = [version, list(internal), gauss]
        for old in sorted(self.random_states)[: -self._random_states_kept]:
            del self.random_states[old]
        if self.path is None:
            return
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        # Written whole or not at all: a process killed while writing leaves
        # the previous record, never a truncated file.
        partial = self.path + ".partial"
        with open(partial, "w") as f:
            json.dump({"states": self.states, "random": self.random_states}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, self.path)

    def resume(self, epoch):
        """Restores `random` as it was at the start of `epoch`, where it was
        recorded; returns the state recorded for `epoch`, or None."""
        if epoch in self.random_states:
            version, internal, gauss = self.random_states[epoch]
            random.setstate((version, tuple(internal), gauss))
        return self.states.get(epoch)


def _as_list(datasets):
    return list(datasets) if isinstance(datasets, (list, tuple)) else [datasets]


def _set_epoch(datasets, epoch):
    for dataset in datasets:
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)


class EpochSync(keras.callbacks.Callback):
    """Keeps the epoch of each task equal to the training epoch of `fit`.

    The tasks draw every batch from `(seed, epoch, index)` and count epochs
    themselves, from 0 in every new process. A run that
    `keras.callbacks.BackupAndRestore` resumes at epoch `e` would then be fed
    epoch 0's batches again; with this callback it is fed epoch `e`'s, so that
    it ends with the weights of an uninterrupted run. At the start of every
    epoch it calls `set_epoch(epoch)` on each of its `datasets` (pass the
    training and the validation task). `Curriculum` does the same for its own
    datasets, so a run with a curriculum needs no `EpochSync`.

    keras shuffles the order of a `PyDataset`'s batches in each epoch (fit's
    default `shuffle=True`) with Python's `random`, whose state
    BackupAndRestore does not restore. With `backup_dir` (BackupAndRestore's
    directory) the callback keeps that state at the start of every epoch in
    `backup_dir/epoch_sync.json` and restores it when a run resumes, so the
    resumed epochs see their batches in the uninterrupted run's order.

    Args:
        datasets: A task or a list of tasks (objects with `set_epoch`).
        backup_dir: Optional directory to keep the state in (see above).

    Examples:
        >>> train = keras_hsru.tasks.TemporalParity(10, batch_size=8, steps_per_epoch=2, seed=0)
        >>> model = keras_hsru.models.HSRURNN(4)
        >>> model.compile("adamw", "binary_crossentropy")
        >>> sync = keras_hsru.callbacks.EpochSync(train)
        >>> _ = model.fit(train, epochs=2, initial_epoch=1, callbacks=[sync], verbose=0)
        >>> train.epoch  # epoch 1 was drawn as epoch 1, and the task counted its end
        2
    """

    def __init__(self, datasets, backup_dir: str | None = None):
        super().__init__()
        datasets = _as_list(datasets)
        for dataset in datasets:
            if not callable(getattr(dataset, "set_epoch", None)):
                raise ValueError(
                    "Every dataset given to EpochSync needs a `set_epoch(epoch)` method, "
                    f"like the tasks of keras_hsru.tasks. Received: {dataset!r}"
                )
        self.datasets = datasets
        self.backup_dir = _check_backup_dir(backup_dir)
        self._states = _EpochStates(self.backup_dir, _SYNC_FILE)
        self._resumed = False

    def on_train_begin(self, logs=None):
        self._states.load()
        self._resumed = False

    def on_epoch_begin(self, epoch, logs=None):
        if not self._resumed:
            self._resumed = True
            self._states.resume(epoch)
        _set_epoch(self.datasets, epoch)

    def on_epoch_end(self, epoch, logs=None):
        self._states.record(epoch + 1, None)


class BackupAndRestore(keras.callbacks.BackupAndRestore):
    """keras' `BackupAndRestore`, whose backup is written whole or not at all.

    keras' callback writes the weights, then the epoch they belong to, over
    the previous backup. A process killed while it writes the weights leaves a
    file that cannot be read (the restart fails); killed between the two
    writes, it leaves new weights beside the old epoch, and the restart trains
    that epoch a second time without a word. This one writes both to
    temporary files, then renames them into place, weights first; a restart
    finishes or discards an interrupted rename, so every restart resumes from
    the last complete backup. Arguments, files and behaviour are otherwise
    keras' (a local `backup_dir`; other file systems get keras' own writes).

    Args:
        backup_dir: A directory for the backup (shared with `Curriculum` and
            `EpochSync` through their `backup_dir`).
        save_freq: As in keras: `"epoch"` (default; the one to use for an
            exact resume), or every `save_freq` batches.
        double_checkpoint: As in keras.
        delete_checkpoint: As in keras: remove the backup when training
            completes. Default: `True`.

    Examples:
        >>> import tempfile
        >>> train = keras_hsru.tasks.TemporalParity(10, batch_size=8, steps_per_epoch=2, seed=0)
        >>> model = keras_hsru.models.HSRURNN(4)
        >>> model.compile("adamw", "binary_crossentropy")
        >>> backup = keras_hsru.callbacks.BackupAndRestore(tempfile.mkdtemp())
        >>> _ = model.fit(train, epochs=2, callbacks=[backup], verbose=0)
    """

    def _local(self):
        return "://" not in str(self.backup_dir)

    def _partial(self, path):
        # keras' save_weights needs a name that ends in ".weights.h5".
        if path.endswith(".weights.h5"):
            return path[: -len(".weights.h5")] + ".partial.weights.h5"
        return path + ".partial"

    def _finish_interrupted_save(self):
        """Completes or discards a save that a killed process left half done."""
        weights_partial = self._partial(self._weights_path)
        metadata_partial = self._partial(self._training_metadata_path)
        if os.path.exists(weights_partial):
            # Killed before the weights were renamed: the previous backup stands.
            os.remove(weights_partial)
            if os.path.exists(metadata_partial):
                os.remove(metadata_partial)
        elif os.path.exists(metadata_partial):
            # Killed between the renames: the new weights are in place, the
            # metadata that belongs to them is complete beside them.
            os.replace(metadata_partial, self._training_metadata_path)

    def on_train_begin(self, logs=None):
        if self._local() and os.path.isdir(self.backup_dir):
            self._finish_interrupted_save()
        super().on_train_begin(logs)

    def _save_model(self):
        if not self._local():
            return super()._save_model()
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._weights_path):
            # keras' previous pair, kept for its own fallback.
            for path, previous in (
                (self._weights_path, self._prev_weights_path),
                (self._training_metadata_path, self._prev_training_metadata_path),
            ):
                if os.path.exists(path):
                    shutil.copyfile(path, previous)
        weights_partial = self._partial(self._weights_path)
        metadata_partial = self._partial(self._training_metadata_path)
        self.model.save_weights(filepath=weights_partial, overwrite=True)
        with open(metadata_partial, "w") as f:
            json.dump({"epoch": self._current_epoch, "batch": self._last_batch_seen}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(weights_partial, self._weights_path)
        os.replace(metadata_partial, self._training_metadata_path)
