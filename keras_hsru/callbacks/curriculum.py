"""`Curriculum`: short sequences first, then longer ones, inside one `model.fit`."""

import warnings

import keras

from keras_hsru._validation import check_choice, check_positive_int, is_integer, is_real
from keras_hsru.callbacks.resume import (
    _STATE_FILE,
    _as_list,
    _check_backup_dir,
    _EpochStates,
    _set_epoch,
)


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
