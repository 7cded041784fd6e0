"""Callbacks: `Curriculum` (short sequences first, then longer ones, inside one
`model.fit`), `EpochSync` (the tasks follow the training epoch), `BackupAndRestore`
(keras' callback, with a backup written whole or not at all), `SpikeMonitor` (how
often the units fire and what the memory holds, in the epoch's logs) and
`SurrogateSlopeSchedule` (the surrogate's slope as a function of the epoch)."""

import json
import math
import os
import random
import shutil
import warnings

import keras

from keras_hsru._validation import check_choice, check_positive_int, is_integer, is_real
from keras_hsru.layers import HSRU, HSRUCell

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


def _check_lengths(lengths):
    is_list = not isinstance(lengths, (str, bytes)) and hasattr(lengths, "__len__")
    if not is_list or len(lengths) == 0 or not all(is_integer(n) and n > 0 for n in lengths):
        raise ValueError(
            f"`lengths` must be a non-empty list of positive integers. Received: lengths={lengths!r}"
        )
    return [int(length) for length in lengths]


class Curriculum(keras.callbacks.Callback):
    """Moves sequence tasks through stages of increasing length during `fit`.

    At the start of every epoch the callback sets `length` on each of its
    `datasets` (any object with a settable `length`, such as the tasks of
    `keras_hsru.tasks`; pass the training and the validation task), and calls
    `set_epoch(epoch)` on those that have it, as `EpochSync` does. A stage
    ends after `epochs_per_stage` epochs, or as soon as the monitored metric
    reaches `threshold`, whichever comes first; the last stage lasts until
    training ends. Each epoch's logs, and so the `History`, get
    `curriculum_stage` (0-based) and `sequence_length`, the values the epoch
    trained with.

    On TensorFlow each dataset needs at least 2 batches per epoch: keras fixes
    a dataset's shapes from its first two batches, and the tasks keep their
    time axis variable through the second.

    With `backup_dir` the callback keeps its state (stage and epochs spent in
    it, per epoch) in `backup_dir/curriculum.json`. Give it the directory of
    `keras.callbacks.BackupAndRestore`: a run resumed from a backup at epoch
    `e` continues in the stage it was in at epoch `e`, is fed epoch `e`'s
    batches, and ends as an uninterrupted run would; the file goes away with
    the backup when training completes. The file also keeps the state of
    Python's `random`, with which keras shuffles the batches' order (see
    `EpochSync`). List the curriculum before `BackupAndRestore` in
    `callbacks`, so that its state of an epoch is written before the backup
    of that epoch.

    Args:
        datasets: A task or a list of tasks whose `length` the callback sets.
        lengths: List of positive integers, the sequence length of each stage.
            Default: the paper's `[10, 30, 60]`.
        epochs_per_stage: Optional positive integer, epochs after which a
            stage ends.
        monitor: Metric name to watch, e.g. `"val_accuracy"`.
        threshold: Optional float; a stage ends at the end of the first epoch
            whose monitored value reaches it. At least one of
            `epochs_per_stage` and `threshold` is required.
        mode: `"max"` (reach means `>=`), `"min"` (`<=`) or `"auto"` (default:
            `"min"` when `monitor` ends in `"loss"`, else `"max"`).
        min_epochs_per_stage: Positive integer, epochs a stage lasts at least
            before the threshold can end it. Default: `1`.
        backup_dir: Optional directory to keep the state in (see above).

    Examples:
        >>> train = keras_hsru.tasks.TemporalParity(10, batch_size=8, steps_per_epoch=2, seed=0)
        >>> val = keras_hsru.tasks.TemporalParity(10, batch_size=8, steps_per_epoch=2, seed=1)
        >>> curriculum = keras_hsru.callbacks.Curriculum(
        ...     [train, val], lengths=[10, 30], epochs_per_stage=2,
        ...     monitor="val_accuracy", threshold=1.0)
        >>> model = keras_hsru.models.HSRURNN(4)
        >>> model.compile("adamw", "binary_crossentropy", metrics=["accuracy"])
        >>> history = model.fit(
        ...     train, validation_data=val, epochs=3, callbacks=[curriculum], verbose=0)
        >>> history.history["sequence_length"][-1]  # the last epoch trained at L=30
        30
    """

    def __init__(
        self,
        datasets,
        lengths=(10, 30, 60),
        epochs_per_stage: int | None = None,
        monitor: str = "val_accuracy",
        threshold: float | None = None,
        mode: str = "auto",
        min_epochs_per_stage: int = 1,
        backup_dir: str | None = None,
    ):
        super().__init__()
        datasets = _as_list(datasets)
        for dataset in datasets:
            if not hasattr(dataset, "length"):
                raise ValueError(
                    "Every dataset given to Curriculum needs a settable `length`. "
                    f"Received: {dataset!r}"
                )
        for dataset in datasets:
            if hasattr(dataset, "variable_length"):
                dataset.variable_length = True  # see SequenceTask
        self.datasets = datasets
        self.lengths = _check_lengths(lengths)
        if epochs_per_stage is None and threshold is None:
            raise ValueError(
                "Curriculum needs `epochs_per_stage`, `threshold` or both. "
                "Received: epochs_per_stage=None, threshold=None"
            )
        if epochs_per_stage is not None:
            epochs_per_stage = check_positive_int("epochs_per_stage", epochs_per_stage)
        if threshold is not None and not is_real(threshold):
            raise ValueError(
                f"`threshold` must be a number or None. Received: threshold={threshold!r}"
            )
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"`monitor` must be a metric name. Received: monitor={monitor!r}")
        check_choice("mode", mode, ("auto", "min", "max"))
        min_epochs_per_stage = check_positive_int("min_epochs_per_stage", min_epochs_per_stage)
        self.backup_dir = _check_backup_dir(backup_dir)
        self.epochs_per_stage = epochs_per_stage
        self.monitor = monitor
        self.threshold = None if threshold is None else float(threshold)
        if mode == "auto":
            mode = "min" if monitor.endswith("loss") else "max"
        self.mode = mode
        self.min_epochs_per_stage = int(min_epochs_per_stage)
        self.stage = 0
        self.epochs_in_stage = 0
        # State at the start of each epoch, for resuming: {epoch: [stage, epochs_in_stage]}.
        self._states = _EpochStates(self.backup_dir, _STATE_FILE)
        self._resumed = False

    @property
    def length(self) -> int:
        """The sequence length of the current stage."""
        return self.lengths[self.stage]

    def on_train_begin(self, logs=None):
        if keras.backend.backend() == "tensorflow" and len(set(self.lengths)) > 1:
            for dataset in self.datasets:
                if hasattr(dataset, "__len__") and len(dataset) < 2:
                    # keras' TensorFlow trainer fixes the shapes of a PyDataset
                    # from its first two batches; the tasks of keras_hsru.tasks
                    # keep the time axis variable through the second one.
                    raise ValueError(
                        "On the TensorFlow backend, every dataset whose length "
                        "Curriculum changes needs at least 2 batches per epoch. "
                        f"Received: a dataset of {len(dataset)} batch: {dataset!r}"
                    )
        self._resumed = False
        self._states.load()

    def on_epoch_begin(self, epoch, logs=None):
        if not self._resumed:
            # The first epoch of this `fit`: at 0 for a new run, later when
            # BackupAndRestore resumed one; take the stage it was in then.
            self._resumed = True
            saved = self._states.states
            if saved and epoch > max(saved):
                raise ValueError(
                    f"Curriculum resumes at epoch {epoch}, but {self._states.path} holds "
                    f"its state up to epoch {max(saved)} only: the backup was saved "
                    "after the curriculum's state, and the run stopped in between. "
                    "List Curriculum before BackupAndRestore in `callbacks`; to go on, "
                    "delete the backup directory and start again."
                )
            state = self._states.resume(epoch)
            if state is not None:
                self.stage, self.epochs_in_stage = state
        self._set_length()
        _set_epoch(self.datasets, epoch)

    def _set_length(self):
        for dataset in self.datasets:
            dataset.length = self.length

    def _reached(self, value):
        if self.mode == "max":
            return value >= self.threshold
        return value <= self.threshold

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["curriculum_stage"] = self.stage
        logs["sequence_length"] = self.length
        self.epochs_in_stage += 1
        advance = (
            self.epochs_per_stage is not None and self.epochs_in_stage >= self.epochs_per_stage
        )
        if self.threshold is not None and self.epochs_in_stage >= self.min_epochs_per_stage:
            value = logs.get(self.monitor)
            if value is None:
                warnings.warn(
                    f"Curriculum monitors `{self.monitor}`, which is not in this epoch's logs "
                    f"(available: {sorted(logs)}); the stage does not end by threshold.",
                    stacklevel=2,
                )
            elif self._reached(float(value)):
                advance = True
        if advance and self.stage + 1 < len(self.lengths):
            self.stage += 1
            self.epochs_in_stage = 0
        self._states.record(epoch + 1, [self.stage, self.epochs_in_stage])


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


def hsru_layers(model) -> list:
    """The HSRU-family layers in `model`, nested ones included: `HSRU`,
    `AttentiveHSRU`, and `keras.layers.RNN` over an `HSRUCell` (or its subclasses)."""
    found = []
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, HSRU) or (
            isinstance(layer, keras.layers.RNN) and isinstance(layer.cell, HSRUCell)
        ):
            found.append(layer)
    return found


def _activity(layer, sequences, initial_state, mask):
    if isinstance(layer, HSRU):
        return layer.spike_activity(sequences, initial_state=initial_state, mask=mask)
    if initial_state is None and layer.stateful and layer.states is not None:
        initial_state = list(layer.states)
    return layer.cell.spike_activity(
        sequences, initial_state=initial_state, mask=mask, go_backwards=layer.go_backwards
    )


def _rates(activity, mask, go_backwards):
    """(spike rate, memory rate): fractions of the unit-steps that are not masked."""
    ops = keras.ops
    spikes, memory = activity["spikes"], activity["memory"]
    units = spikes.shape[-1]
    if mask is None:
        count = ops.cast(ops.size(spikes), "float32")
        valid = 1.0
    else:
        mask = ops.convert_to_tensor(mask)
        mask = ops.flip(mask, axis=1) if go_backwards else mask
        valid = ops.expand_dims(ops.cast(mask, "float32"), -1)
        count = ops.sum(valid) * units
    spike_rate = ops.sum(spikes * valid) / ops.maximum(count, 1.0)
    memory_rate = ops.sum(ops.cast(memory != 0, "float32") * valid) / ops.maximum(count, 1.0)
    return float(ops.convert_to_numpy(spike_rate)), float(ops.convert_to_numpy(memory_rate))


class SpikeMonitor(keras.callbacks.Callback):
    """Logs how often the units fire and how often the memory is set, for every HSRU layer.

    At the end of every `every` epochs the callback runs the model on `data`
    (without training) and adds, for each HSRU-family layer of the model
    (`HSRU`, `AttentiveHSRU`, `keras.layers.RNN` over an `HSRUCell`, nested
    and stacked ones included), to that epoch's logs:

    - `<layer name>/spike_rate`: the fraction of unit-steps with a spike.
      With the XOR memory it is also the rate at which `D` flips; with a
      k-state memory (`memory_states=k`) up and down spikes both count.
    - `<layer name>/memory_rate`: the fraction of unit-steps where `D` (for
      a k-state memory, the count) is not 0.

    Masked steps do not count. The values then appear in the `History`, the
    progress bar, and TensorBoard through `keras.callbacks.TensorBoard`
    (list the monitor before it). Each layer's values are computed from the
    input the layer receives in the model, by `HSRUCell.spike_activity`;
    stateful layers start from their states and keep them. Training itself
    is unchanged: the monitor adds one forward pass on `data` per logged
    epoch, and nothing when it is not used.

    Args:
        data: Inputs to run the model on: an array or tensor, or a tuple
            `(inputs, targets)` whose inputs are taken (a batch of a task).
        every: Positive integer; logs at the end of every `every` epochs
            (epochs in between have no such entries). Default: `1`.
        mask: Optional boolean `(batch, time)` mask passed to the model as
            its `mask` argument, for models whose `call` takes one.

    Examples:
        >>> task = keras_hsru.tasks.TemporalParity(10, batch_size=8, steps_per_epoch=2, seed=0)
        >>> model = keras_hsru.models.HSRURNN(4)
        >>> model.compile("adamw", "binary_crossentropy")
        >>> monitor = keras_hsru.callbacks.SpikeMonitor(task[0])
        >>> history = model.fit(task, epochs=2, callbacks=[monitor], verbose=0)
        >>> sorted(name for name in history.history if "/" in name)
        ['recurrent_0/memory_rate', 'recurrent_0/spike_rate']
    """

    def __init__(self, data, every: int = 1, mask=None):
        super().__init__()
        if isinstance(data, (list, tuple)):
            if not data:
                raise ValueError(
                    f"`data` must be inputs or an (inputs, targets) batch. Received: data={data!r}"
                )
            data = data[0]
        if not hasattr(data, "shape") or len(data.shape) < 2:
            raise ValueError(
                "`data` must be an array or tensor of inputs, or an (inputs, targets) batch. "
                f"Received: data of type {type(data).__name__}"
            )
        self.data = data
        self.every = check_positive_int("every", every)
        self.mask = mask

    def spike_statistics(self) -> dict:
        """`{"<layer name>/spike_rate": ..., "<layer name>/memory_rate": ...}` on `data` now."""
        layers = hsru_layers(self.model)
        if not layers:
            raise ValueError(
                "SpikeMonitor found no HSRU layer (HSRU, AttentiveHSRU, or RNN over an "
                f"HSRUCell) in the model. Received: model {self.model.name!r}"
            )
        statistics, originals = {}, {}

        def recording(layer, call):
            def call_and_record(sequences, initial_state=None, mask=None, training=False):
                activity = _activity(layer, sequences, initial_state, mask)
                spike_rate, memory_rate = _rates(activity, mask, layer.go_backwards)
                statistics[f"{layer.name}/spike_rate"] = spike_rate
                statistics[f"{layer.name}/memory_rate"] = memory_rate
                return call(sequences, initial_state=initial_state, mask=mask, training=training)

            return call_and_record

        stateful = [layer for layer in layers if layer.stateful and layer.states is not None]
        saved_states = {
            id(layer): [keras.ops.copy(state.value) for state in layer.states] for layer in stateful
        }
        try:
            for layer in layers:
                originals[id(layer)] = layer.call
                layer.call = recording(layer, layer.call)
            arguments = {} if self.mask is None else {"mask": self.mask}
            self.model(self.data, training=False, **arguments)
        finally:
            for layer in layers:
                del layer.call  # the class's method again
            for layer in stateful:
                for state, value in zip(layer.states, saved_states[id(layer)]):
                    state.assign(value)
        return statistics

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0 and logs is not None:
            logs.update(self.spike_statistics())


class SurrogateSlopeSchedule(keras.callbacks.Callback):
    """Sets the surrogate slope `k` of every HSRU layer from the epoch.

    At the start of every epoch the callback computes `schedule(epoch)` (a
    callable of the epoch index from 0, or one of keras' schedule objects
    such as `keras.optimizers.schedules.ExponentialDecay`, which it calls
    with the epoch as the step) and gives the value to every HSRU-family
    layer of the model (`HSRU`, `AttentiveHSRU`, `keras.layers.RNN` over an
    `HSRUCell`, nested and stacked ones included) as its `surrogate_slope`.
    The value is logged as `surrogate_slope` in the epoch's logs, so it
    appears in the `History` and in TensorBoard.

    The slope shapes only the gradient (the forward pass is a step function),
    and the fused kernels take it as a compile-time constant. So on JAX and
    TensorFlow, which compile the train step, the train step is traced again
    at the start of an epoch whose slope differs from the last one's, and
    only then: a schedule that changes the slope every few epochs (for
    example per curriculum stage) retraces that many times. On torch,
    which runs eagerly, nothing is traced again. `retraces` counts the
    train functions remade for a new slope (one remade before the first
    step of a `fit` was not traced yet, and costs nothing). Predictions are
    unaffected. A saved model keeps
    the slope it had when saved, in its config.

    Args:
        schedule: A callable `epoch -> slope` or a
            `keras.optimizers.schedules.LearningRateSchedule`. Each value must
            be a positive finite number.
        verbose: `0` (quiet) or `1` (print the slope when it changes).

    Examples:
        >>> task = keras_hsru.tasks.TemporalParity(10, batch_size=8, steps_per_epoch=2, seed=0)
        >>> model = keras_hsru.models.HSRURNN(4)
        >>> model.compile("adamw", "binary_crossentropy")
        >>> anneal = keras_hsru.callbacks.SurrogateSlopeSchedule(lambda epoch: 2.0 * (epoch + 1))
        >>> history = model.fit(task, epochs=3, callbacks=[anneal], verbose=0)
        >>> history.history["surrogate_slope"]
        [2.0, 4.0, 6.0]
    """

    def __init__(self, schedule, verbose: int = 0):
        super().__init__()
        if not callable(schedule):
            raise ValueError(
                "`schedule` must be a callable `epoch -> slope` or a keras schedule object. "
                f"Received: schedule={schedule!r}"
            )
        self.schedule = schedule
        self.verbose = check_choice("verbose", verbose, (0, 1))
        self.slope = None
        self.retraces = 0

    def _slope_at(self, epoch):
        value = self.schedule(epoch)
        if hasattr(value, "shape") and tuple(value.shape) == ():
            # A tensor or NumPy scalar, as keras' schedule objects return.
            value = keras.ops.convert_to_numpy(value).item()
        if not is_real(value) or not math.isfinite(value) or value <= 0:
            raise ValueError(
                "The slope schedule must return a positive finite number. "
                f"Received: schedule({epoch})={value!r}"
            )
        return float(value)

    def on_epoch_begin(self, epoch, logs=None):
        layers = hsru_layers(self.model)
        if not layers:
            raise ValueError(
                "SurrogateSlopeSchedule found no HSRU layer (HSRU, AttentiveHSRU, or RNN over "
                f"an HSRUCell) in the model. Received: model {self.model.name!r}"
            )
        slope = self._slope_at(epoch)
        changed = False
        for layer in layers:
            if layer.cell.surrogate_slope != slope:
                layer.cell.surrogate_slope = slope
                changed = True
        self.slope = slope
        if changed:
            if self.verbose:
                print(
                    f"\nEpoch {epoch + 1}: SurrogateSlopeSchedule setting the slope to {slope}.",
                    flush=True,
                )
            # The compiled step holds the old slope as a constant.
            if getattr(self.model, "train_function", None) is not None:
                self.model.make_train_function(force=True)
                self.retraces += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.slope is not None:
            logs["surrogate_slope"] = self.slope


__all__ = [
    "BackupAndRestore",
    "Curriculum",
    "EpochSync",
    "SpikeMonitor",
    "SurrogateSlopeSchedule",
]
