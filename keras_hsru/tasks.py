"""The paper's tasks, the regular-language tasks of Delétang et al. (ICLR 2023) and group
word problems (Merrill et al., ICML 2024), as `keras.utils.PyDataset`s that draw fresh
sequences for every batch.

Each batch is generated from `(seed, epoch, batch index)`, so a run is
reproducible, no batch repeats across epochs, and the sequence length can be
changed between epochs (see `keras_hsru.callbacks.Curriculum`). A run resumed
by `keras.callbacks.BackupAndRestore` draws the batches an uninterrupted run
would when the tasks follow the training epoch (`SequenceTask.set_epoch`,
which `Curriculum` and `keras_hsru.callbacks.EpochSync` call).
"""

import itertools
import re

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

    Delétang et al.'s protocol (ICLR 2023) trains on a length drawn for every
    batch: pass `length=(low, high)` and each batch draws its length uniformly
    from `low` to `high` (inclusive), from the batch's own seed, so that it is
    reproducible too. Such a task has `variable_length` set.

    Args:
        length: Positive integer, the number of time steps of each sequence,
            or a `(low, high)` pair of them, the range each batch draws its
            length from. Settable while training (`task.length = 30`).
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
        self.variable_length = False
        self.length = length
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.steps_per_epoch = check_positive_int("steps_per_epoch", steps_per_epoch)
        self.seed = _check_seed(seed)
        self.epoch = 0
        self._within_epoch = False
        self._samples_drawn = 0

    @property
    def length(self) -> int | tuple:
        """The number of time steps of each sequence, or the `(low, high)` range
        each batch draws it from; settable."""
        return self._length

    @length.setter
    def length(self, value):
        if isinstance(value, (tuple, list)):
            ok = len(value) == 2 and all(is_integer(v) and v > 0 for v in value)
            if not ok or value[0] > value[1]:
                raise ValueError(
                    "`length` must be a positive integer or a (low, high) pair of them with "
                    f"low <= high. Received: length={value!r}"
                )
            self._length = (int(value[0]), int(value[1]))
            self.variable_length = True
        else:
            self._length = check_positive_int("length", value)

    def _draw_length(self, rng):
        if isinstance(self._length, tuple):
            low, high = self._length
            return int(rng.integers(low, high + 1))
        return self._length

    def __len__(self):
        return self.steps_per_epoch

    def __getitem__(self, index):
        if not is_integer(index):
            raise ValueError(f"`index` must be an integer. Received: index={index!r}")
        if not 0 <= index < self.steps_per_epoch:
            raise IndexError(f"index {index} out of range for {self.steps_per_epoch} batches")
        rng = np.random.default_rng((self.seed, _TRAIN_STREAM, self.epoch, int(index)))
        length = self._draw_length(rng)
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
            length: Positive integer; defaults to the task's current length
                (for a range, one length drawn from it for all `count`).
            seed: Optional non-negative integer. Without it, each call draws
                new sequences from the task's seed, distinct from training
                batches.
        """
        count = check_positive_int("count", count)
        if length is not None:
            length = check_positive_int("length", length)
        if seed is None:
            key = (self.seed, _SAMPLE_STREAM, self._samples_drawn)
            self._samples_drawn += 1
        else:
            key = (_check_seed(seed), _SAMPLE_STREAM)
        rng = np.random.default_rng(key)
        return self.generate(rng, count, self._draw_length(rng) if length is None else length)

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
            length: Positive integer; defaults to the task's current length
                (for a range, each chunk draws one from it).
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


def _one_hot(tokens, size):
    return np.eye(size, dtype="float32")[tokens]


class ParityCheck(SequenceTask):
    """Parity Check (Delétang et al., 2023, a regular language): is the number of 1s odd?

    Tokens are 0/1, one-hot, shape `(batch, length, 2)`; the label `(batch,)`
    is the class, 1 where the string holds an odd number of 1s (int32, for
    `sparse_categorical_crossentropy`). `TemporalParity` is the same language
    with the bits as one feature and a 0/1 float label.

    Args:
        length, batch_size, steps_per_epoch, seed, **kwargs: As in
            `SequenceTask` (`length=(1, 40)` for Delétang et al.'s training).

    Examples:
        >>> task = keras_hsru.tasks.ParityCheck(length=(1, 40), batch_size=128, seed=0)
        >>> x, y = task[0]
        >>> x.shape[0], x.shape[2], y.shape, task.classes
        (128, 2, (128,), 2)
    """

    classes = 2
    tokens = 2

    def generate(self, rng, count, length):
        bits = rng.integers(0, 2, size=(count, length))
        return _one_hot(bits, 2), (bits.sum(axis=1) % 2).astype("int32")


class EvenPairs(SequenceTask):
    """Even Pairs (Delétang et al., 2023, regular): is the number of `01` and `10` pairs odd?

    Tokens are 0/1, one-hot, shape `(batch, length, 2)`; the label `(batch,)`
    is 1 where the string holds an odd number of unequal neighbours (which is
    where its first and last tokens differ), else 0.

    Args:
        length, batch_size, steps_per_epoch, seed, **kwargs: As in
            `SequenceTask`.

    Examples:
        >>> task = keras_hsru.tasks.EvenPairs(length=12, batch_size=4, seed=0)
        >>> x, y = task[0]
        >>> x.shape, y.shape
        ((4, 12, 2), (4,))
    """

    classes = 2
    tokens = 2

    def generate(self, rng, count, length):
        bits = rng.integers(0, 2, size=(count, length))
        unequal = (bits[:, 1:] != bits[:, :-1]).sum(axis=1)
        return _one_hot(bits, 2), (unequal % 2).astype("int32")


class CycleNavigation(SequenceTask):
    """Cycle Navigation (Delétang et al., 2023, regular): where does a walk on a cycle end?

    Each token is a move on a cycle of `cycle_length` positions, one-hot,
    shape `(batch, length, 3)`: token 0 moves one position left, 1 stays, 2
    moves one right. The walk starts at position 0; the label `(batch,)` is
    the final position, the sum of the moves modulo `cycle_length`.

    Args:
        length, batch_size, steps_per_epoch, seed, **kwargs: As in
            `SequenceTask`.
        cycle_length: Integer of at least 2, the positions on the cycle
            (Delétang et al.: 5).

    Examples:
        >>> task = keras_hsru.tasks.CycleNavigation(length=10, batch_size=4, seed=0)
        >>> x, y = task[0]
        >>> x.shape, y.shape, task.classes
        ((4, 10, 3), (4,), 5)
    """

    tokens = 3

    def __init__(self, length, cycle_length: int = 5, **kwargs):
        if not is_integer(cycle_length) or cycle_length < 2:
            raise ValueError(
                "`cycle_length` must be an integer of at least 2. "
                f"Received: cycle_length={cycle_length!r}"
            )
        super().__init__(length, **kwargs)
        self.cycle_length = int(cycle_length)

    @property
    def classes(self) -> int:
        return self.cycle_length

    def generate(self, rng, count, length):
        actions = rng.integers(0, 3, size=(count, length))
        final = (actions - 1).sum(axis=1) % self.cycle_length
        return _one_hot(actions, 3), final.astype("int32")


_OPERATORS = ("+", "-", "*")


class ModularArithmetic(SequenceTask):
    """Modular Arithmetic (Simple) (Delétang et al., 2023, regular): an expression's value.

    A sequence is an expression `n0 op1 n1 op2 n2 ...` of numbers in
    `0 .. modulus - 1` and operators from `operators`, of odd length (an even
    `length` gives `length - 1` steps); multiplication binds tighter than
    addition and subtraction, and there are no brackets. Tokens are one-hot
    over `modulus + 4` symbols: the numbers, then `+`, `-`, `*`, and a blank
    that is never drawn (Delétang et al.'s vocabulary). The label `(batch,)`
    is the expression's value modulo `modulus`.

    Args:
        length, batch_size, steps_per_epoch, seed, **kwargs: As in
            `SequenceTask`.
        modulus: Integer of at least 2 (Delétang et al.: 5).
        operators: A non-empty string or sequence of operators among `+`,
            `-`, `*` (default: all three).

    Examples:
        >>> task = keras_hsru.tasks.ModularArithmetic(length=9, batch_size=4, seed=0)
        >>> x, y = task[0]
        >>> x.shape, y.shape, task.classes
        ((4, 9, 9), (4,), 5)
    """

    def __init__(self, length, modulus: int = 5, operators="+-*", **kwargs):
        if not is_integer(modulus) or modulus < 2:
            raise ValueError(
                f"`modulus` must be an integer of at least 2. Received: modulus={modulus!r}"
            )
        chosen = tuple(operators) if isinstance(operators, (str, list, tuple)) else ()
        if not chosen or any(op not in _OPERATORS for op in chosen):
            raise ValueError(
                f"`operators` must be a non-empty selection of {_OPERATORS}. "
                f"Received: operators={operators!r}"
            )
        super().__init__(length, **kwargs)
        self.modulus = int(modulus)
        self.operators = tuple(dict.fromkeys(chosen))

    @property
    def classes(self) -> int:
        return self.modulus

    @property
    def tokens(self) -> int:
        return self.modulus + len(_OPERATORS) + 1

    def generate(self, rng, count, length):
        modulus = self.modulus
        length -= 1 - length % 2  # odd
        numbers = rng.integers(0, modulus, size=(count, length // 2 + 1))
        codes = np.array([_OPERATORS.index(op) for op in self.operators])
        operators = codes[rng.integers(0, len(codes), size=(count, length // 2))]
        expression = np.empty((count, length), dtype="int64")
        expression[:, ::2] = numbers
        expression[:, 1::2] = modulus + operators
        # Left to right: `term` is the product since the last + or -, `sign` its sign.
        total = np.zeros(count, dtype="int64")
        term, sign = numbers[:, 0] % modulus, np.ones(count, dtype="int64")
        for i in range(length // 2):
            op, number = operators[:, i], numbers[:, i + 1]
            times = op == _OPERATORS.index("*")
            total = np.where(times, total, (total + sign * term) % modulus)
            sign = np.where(times, sign, np.where(op == _OPERATORS.index("-"), -1, 1))
            term = np.where(times, term * number % modulus, number)
        value = (total + sign * term) % modulus
        return _one_hot(expression, self.tokens), value.astype("int32")


def _group_elements(group):
    """The elements of `group` as permutations of its points, sorted (the identity first)."""
    match = re.fullmatch(r"([ZDSA])(\d+)", group) if isinstance(group, str) else None
    family, n = (match[1], int(match[2])) if match else (None, 0)
    points = range(n)
    if family == "Z" and 2 <= n <= 120:
        elements = [tuple((i + k) % n for i in points) for k in points]
    elif family == "D" and 3 <= n <= 60:
        rotations = [tuple((i + k) % n for i in points) for k in points]
        elements = rotations + [tuple((k - i) % n for i in points) for k in points]
    elif family in ("S", "A") and 3 <= n <= 5:
        elements = list(itertools.permutations(points))
        if family == "A":
            elements = [p for p in elements if _is_even(p)]
    else:
        raise ValueError(
            "`group` must be 'Z<n>' (2 <= n <= 120, cyclic), 'D<n>' (3 <= n <= 60, the "
            "dihedral group of an n-gon), 'S<n>' or 'A<n>' (3 <= n <= 5, symmetric or "
            f"alternating). Received: group={group!r}"
        )
    return np.array(sorted(elements), dtype="int64")


def _is_even(permutation):
    inversions = sum(a > b for i, a in enumerate(permutation) for b in permutation[i + 1 :])
    return inversions % 2 == 0


class WordProblem(SequenceTask):
    """A finite group's word problem (Merrill et al., ICML 2024): the product of a word.

    Each token is an element of `group`, one-hot over the group's elements,
    shape `(batch, length, order)`; the label `(batch,)` is the element the
    whole word multiplies to, `g_1 g_2 ... g_length` (apply `g_1` first). An
    automaton that follows it needs the group itself as its states: a
    cyclic group `Z<n>` is a counter modulo n moved by up to n - 1 counts a
    step; `S3` and `D4` (the square's symmetries) are solvable and not
    abelian; `A5` is the smallest group that is not solvable.

    The elements are permutations of the group's points (`elements`), sorted,
    so that element 0 is the identity; `table[a, b]` is the index of `a`
    followed by `b`.

    Args:
        length, batch_size, steps_per_epoch, seed, **kwargs: As in
            `SequenceTask`.
        group: `"Z<n>"` (cyclic, 2 <= n <= 120), `"D<n>"` (dihedral, of
            order 2n, 3 <= n <= 60), `"S<n>"` or `"A<n>"` (symmetric or
            alternating, 3 <= n <= 5): at most 120 elements. Default: `"S3"`.

    Examples:
        >>> task = keras_hsru.tasks.WordProblem(length=10, group="D4", batch_size=4, seed=0)
        >>> x, y = task[0]
        >>> x.shape, y.shape, task.classes
        ((4, 10, 8), (4,), 8)
    """

    def __init__(self, length, group: str = "S3", **kwargs):
        self.elements = _group_elements(group)
        super().__init__(length, **kwargs)
        self.group = group
        index = {p.tobytes(): i for i, p in enumerate(self.elements)}
        # composed[a, b] = b after a: (b[a[0]], b[a[1]], ...).
        composed = self.elements[np.arange(self.classes)[None, :, None], self.elements[:, None, :]]
        self.table = np.array(
            [index[p.tobytes()] for p in composed.reshape(-1, composed.shape[-1])], dtype="int64"
        ).reshape(self.classes, self.classes)

    @property
    def classes(self) -> int:
        return len(self.elements)

    @property
    def tokens(self) -> int:
        return len(self.elements)

    def product(self, words):
        """The index of the product of each row of `words` (element indices), in
        log2(length) vectorised rounds of pairwise products."""
        words = np.asarray(words, dtype="int64")
        while words.shape[1] > 1:
            if words.shape[1] % 2:
                words = np.pad(words, ((0, 0), (0, 1)))  # times the identity
            words = self.table[words[:, 0::2], words[:, 1::2]]
        return words[:, 0]

    def generate(self, rng, count, length):
        words = rng.integers(0, self.classes, size=(count, length))
        return _one_hot(words, self.classes), self.product(words).astype("int32")


__all__ = [
    "SequenceTask",
    "DelayedEcho",
    "TemporalParity",
    "EmbeddedParity",
    "ParityCheck",
    "EvenPairs",
    "CycleNavigation",
    "ModularArithmetic",
    "WordProblem",
]
