"""The paper's tasks as `keras.utils.PyDataset`s that draw fresh sequences for every batch.

Each batch is generated from `(seed, epoch, batch index)`, so a run is
reproducible, no batch repeats across epochs, and the sequence length can be
changed between epochs (see `keras_hsru.callbacks.Curriculum`). A run resumed
by `keras.callbacks.BackupAndRestore` draws the batches an uninterrupted run
would when the tasks follow the training epoch (`SequenceTask.set_epoch`,
which `Curriculum` and `keras_hsru.callbacks.EpochSync` call).
"""

import keras
import numpy as np

from keras_hsru._validation import check_positive_int, is_integer


def _check_seed(seed):
    if seed is None:
        # A fresh seed still makes every batch of the run distinct and reproducible
        # from `task.seed`.
        return int(np.random.SeedSequence().entropy % 2**32)
    if not is_integer(seed) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative integer or None. Received: seed={seed!r}")
    return int(seed)


# Stream tags keep training batches and `sample()` draws apart.
_TRAIN_STREAM = 0
_SAMPLE_STREAM = 1


class SequenceTask(keras.utils.PyDataset):
    """Base of the tasks: a `PyDataset` of `steps_per_epoch` fresh batches.

    Subclasses implement `generate(rng, count, length)` returning
    `(inputs, targets)` NumPy arrays.

    `variable_length` (default `False`; `Curriculum` sets it) says the length
    will change during a `fit`. On TensorFlow, keras fixes a dataset's shapes
    from the first two batches it peeks at before training; a task with
    `variable_length` answers the second peek (batch 1 asked outside an
    epoch) one step longer, so that the time axis stays variable.

    The task counts epochs itself (`task.epoch`, advanced at the end of each
    of its epochs), which a new process starts again at 0. A run that can be
    resumed from a backup sets it from the training epoch instead: pass the
    task to `keras_hsru.callbacks.Curriculum` or
    `keras_hsru.callbacks.EpochSync`, which call `set_epoch(epoch)` at the
    start of every epoch of `fit`.

    Args:
        length: Positive integer, the number of time steps of each sequence.
            Settable while training (`task.length = 30`).
        batch_size: Positive integer, sequences per batch.
        steps_per_epoch: Positive integer, batches per epoch (`len(task)`).
        seed: Non-negative integer or `None` (a random one, kept in
            `task.seed`).
        **kwargs: `PyDataset` arguments (`workers`, `use_multiprocessing`,
            `max_queue_size`).

    Examples:
        >>> class Sum(keras_hsru.tasks.SequenceTask):
        ...     def generate(self, rng, count, length):
        ...         x = rng.uniform(size=(count, length, 1)).astype("float32")
        ...         return x, x.sum(axis=1)
        >>> task = Sum(length=5, batch_size=4, steps_per_epoch=3, seed=0)
        >>> x, y = task[0]
        >>> len(task), x.shape, y.shape
        (3, (4, 5, 1), (4, 1))
    """

    def __init__(
        self,
        length: int,
        batch_size: int = 64,
        steps_per_epoch: int = 100,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.length = length
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.steps_per_epoch = check_positive_int("steps_per_epoch", steps_per_epoch)
        self.seed = _check_seed(seed)
        self.epoch = 0
        self.variable_length = False
        self._within_epoch = False
        self._samples_drawn = 0

    @property
    def length(self) -> int:
        """The number of time steps of each sequence; settable (a positive integer)."""
        return self._length

    @length.setter
    def length(self, value: int):
        self._length = check_positive_int("length", value)

    def __len__(self):
        return self.steps_per_epoch

    def __getitem__(self, index):
        if not is_integer(index):
            raise ValueError(f"`index` must be an integer. Received: index={index!r}")
        if not 0 <= index < self.steps_per_epoch:
            raise IndexError(f"index {index} out of range for {self.steps_per_epoch} batches")
        rng = np.random.default_rng((self.seed, _TRAIN_STREAM, self.epoch, int(index)))
        length = self.length
        if (
            self.variable_length
            and not self._within_epoch
            and index == 1
            and keras.backend.backend() == "tensorflow"
        ):
            # keras' TensorFlow trainer peeks at batches 0 and 1 before an epoch
            # starts and fixes every axis on which they agree (keras issue
            # #19124). The peeked batches are not trained on; making the second
            # one step longer keeps the time axis variable, so the length can
            # change while training.
            length += 1
        return self.generate(rng, self.batch_size, length)

    def set_epoch(self, epoch: int):
        """Draws the batches of training epoch `epoch` from now on (a non-negative integer).

        Like `torch.utils.data.DistributedSampler.set_epoch`: the batches of a
        run depend on the seed and the epoch only, so a run resumed at epoch
        `e` is fed what an uninterrupted run was fed at `e`.
        """
        if not is_integer(epoch) or epoch < 0:
            raise ValueError(f"`epoch` must be a non-negative integer. Received: epoch={epoch!r}")
        self.epoch = int(epoch)

    def on_epoch_begin(self):
        self._within_epoch = True

    def on_epoch_end(self):
        self._within_epoch = False
        self.epoch += 1

    def sample(self, count: int, length: int | None = None, seed: int | None = None):
        """Draws `count` fresh sequences, e.g. a test set: returns `(inputs, targets)`.

        Args:
            count: Positive integer, the number of sequences.
            length: Positive integer; defaults to the task's current length.
            seed: Optional non-negative integer. Without it, each call draws
                new sequences from the task's seed, distinct from training
                batches.
        """
        count = check_positive_int("count", count)
        length = self.length if length is None else check_positive_int("length", length)
        if seed is None:
            key = (self.seed, _SAMPLE_STREAM, self._samples_drawn)
            self._samples_drawn += 1
        else:
            key = (_check_seed(seed), _SAMPLE_STREAM)
        return self.generate(np.random.default_rng(key), count, length)

    def evaluate(
        self,
        model,
        count: int,
        length: int | None = None,
        chunk_size: int = 1000,
        seed: int | None = None,
    ) -> dict:
        """The compiled metrics of `model` on `count` fresh sequences, drawn `chunk_size` at a time.

        Long test sets (say 1,000 sequences of 100,000 steps) never sit in
        memory whole. Returns `{metric name: value}`, each the mean over all
        `count` sequences (chunks weighted by their size).

        Args:
            model: A compiled Keras model.
            count: Positive integer, the number of test sequences.
            length: Positive integer; defaults to the task's current length.
            chunk_size: Positive integer, sequences per chunk.
            seed: Optional non-negative integer, as in `sample`.
        """
        count = check_positive_int("count", count)
        chunk_size = check_positive_int("chunk_size", chunk_size)
        base_seed = None if seed is None else _check_seed(seed)
        totals, done = {}, 0
        while done < count:
            size = min(chunk_size, count - done)
            chunk_seed = None if base_seed is None else base_seed + done
            x, y = self.sample(size, length=length, seed=chunk_seed)
            results = model.evaluate(x, y, batch_size=size, verbose=0, return_dict=True)
            for name, value in results.items():
                totals[name] = totals.get(name, 0.0) + float(value) * size
            done += size
        return {name: total / count for name, total in totals.items()}

    def generate(self, rng, count, length):
        """Draws `count` sequences of `length` steps from the NumPy Generator `rng`.

        Subclasses implement it.

        Returns:
            `(inputs, targets)`, NumPy arrays with `count` rows.
        """
        raise NotImplementedError


def _bits(rng, shape):
    return rng.integers(0, 2, size=shape).astype("float32")


def _parity(bits):
    """1.0 where a sequence of 0/1 bits holds an odd number of ones, shape (count, 1)."""
    return (bits.sum(axis=1, dtype="int64") % 2).astype("float32").reshape(-1, 1)


class DelayedEcho(SequenceTask):
    """Delayed echo: repeat the previous input, `y_t = x_{t-1}` (and `y_0 = 0`).

    Inputs are i.i.d. uniform in [-1, 1], shape `(batch, length, 1)`; targets
    have the same shape. A model must store one step of a continuous signal.

    Args:
        length, batch_size, steps_per_epoch, seed, **kwargs: As in
            `SequenceTask`.

    Examples:
        >>> task = keras_hsru.tasks.DelayedEcho(length=50, batch_size=32, seed=0)
        >>> x, y = task[0]
        >>> x.shape, y.shape
        ((32, 50, 1), (32, 50, 1))
    """

    def generate(self, rng, count, length):
        signal = rng.uniform(-1.0, 1.0, size=(count, length, 1)).astype("float32")
        echo = np.zeros_like(signal)
        echo[:, 1:] = signal[:, :-1]
        return signal, echo


class TemporalParity(SequenceTask):
    """Temporal parity: a stream of random bits; the label is the parity of the whole stream.

    Inputs are 0/1 bits, shape `(batch, length, 1)`; targets are `(batch, 1)`,
    1.0 where the sequence holds an odd number of ones.

    Args:
        length, batch_size, steps_per_epoch, seed, **kwargs: As in
            `SequenceTask`.

    Examples:
        >>> task = keras_hsru.tasks.TemporalParity(length=10, batch_size=32, seed=0)
        >>> x, y = task[0]
        >>> x.shape, y.shape
        ((32, 10, 1), (32, 1))
    """

    def generate(self, rng, count, length):
        bits = _bits(rng, (count, length, 1))
        return bits, _parity(bits[:, :, 0])


class EmbeddedParity(SequenceTask):
    """Temporal parity of one feature among `distractors` random distractor features.

    Every feature is a stream of random 0/1 bits, shape
    `(batch, length, distractors + 1)`; the label `(batch, 1)` is the parity of
    feature `signal_feature` alone. The distractors look exactly like the
    signal, so a model must learn which feature to read.

    Args:
        length, batch_size, steps_per_epoch, seed, **kwargs: As in
            `SequenceTask`.
        distractors: Non-negative integer, the number of distractor features.
        signal_feature: Integer in `[0, distractors]`, the index of the
            feature whose parity is the label. Default: `0`.

    Examples:
        >>> task = keras_hsru.tasks.EmbeddedParity(length=10, distractors=4, seed=0)
        >>> x, y = task[0]
        >>> x.shape, y.shape
        ((64, 10, 5), (64, 1))
    """

    def __init__(self, length: int, distractors: int = 1, signal_feature: int = 0, **kwargs):
        if not is_integer(distractors) or distractors < 0:
            raise ValueError(
                f"`distractors` must be a non-negative integer. Received: distractors={distractors!r}"
            )
        if not is_integer(signal_feature) or not 0 <= signal_feature <= distractors:
            raise ValueError(
                f"`signal_feature` must be an integer in [0, distractors={distractors}]. "
                f"Received: signal_feature={signal_feature!r}"
            )
        super().__init__(length, **kwargs)
        self.distractors = int(distractors)
        self.signal_feature = int(signal_feature)

    @property
    def features(self) -> int:
        return self.distractors + 1

    def generate(self, rng, count, length):
        bits = _bits(rng, (count, length, self.features))
        return bits, _parity(bits[:, :, self.signal_feature])


__all__ = ["SequenceTask", "DelayedEcho", "TemporalParity", "EmbeddedParity"]
