"""The tasks' labels against a direct computation, fresh batches, settable length, validation."""

import numpy as np
import pytest

from keras_hsru import tasks


def test_temporal_parity_labels_are_the_parity_of_the_stream():
    task = tasks.TemporalParity(13, batch_size=50, seed=3)
    x, y = task[0]
    assert x.shape == (50, 13, 1) and y.shape == (50, 1)
    assert set(np.unique(x)) <= {0.0, 1.0}
    for row, label in zip(x[:, :, 0], y[:, 0]):
        ones = int(sum(int(bit) for bit in row))
        assert label == ones % 2
    assert 0.2 < y.mean() < 0.8  # both classes occur


def test_delayed_echo_targets_are_the_previous_input():
    x, y = tasks.DelayedEcho(20, batch_size=8, seed=0)[2]
    assert x.shape == y.shape == (8, 20, 1)
    np.testing.assert_array_equal(y[:, 1:], x[:, :-1])
    np.testing.assert_array_equal(y[:, 0], 0.0)
    assert x.min() >= -1.0 and x.max() <= 1.0 and x.std() > 0.4


@pytest.mark.parametrize("signal_feature", [0, 3])
def test_embedded_parity_labels_read_only_the_signal_feature(signal_feature):
    task = tasks.EmbeddedParity(9, distractors=4, signal_feature=signal_feature, seed=1)
    x, y = task[1]
    assert x.shape == (64, 9, 5) and task.features == 5
    np.testing.assert_array_equal(y[:, 0], x[:, :, signal_feature].sum(axis=1) % 2)
    # The distractors carry information independent of the label.
    other = (signal_feature + 1) % 5
    assert not np.array_equal(y[:, 0], x[:, :, other].sum(axis=1) % 2)


def test_batches_are_fresh_across_indices_and_epochs_and_reproducible():
    task = tasks.TemporalParity(30, batch_size=16, steps_per_epoch=3, seed=7)
    first = [task[i][0] for i in range(3)]
    assert not np.array_equal(first[0], first[1])
    task.on_epoch_begin()
    task.on_epoch_end()
    assert not np.array_equal(task[0][0], first[0])
    again = tasks.TemporalParity(30, batch_size=16, steps_per_epoch=3, seed=7)
    np.testing.assert_array_equal(again[0][0], first[0])
    assert len(task) == 3
    with pytest.raises(IndexError):
        task[3]


def test_set_epoch_draws_that_epochs_batches():
    counted = tasks.TemporalParity(12, batch_size=4, steps_per_epoch=2, seed=3)
    for _ in range(3):
        counted.on_epoch_begin()
        counted.on_epoch_end()
    told = tasks.TemporalParity(12, batch_size=4, steps_per_epoch=2, seed=3)
    told.set_epoch(3)
    assert told.epoch == counted.epoch == 3
    np.testing.assert_array_equal(told[1][0], counted[1][0])


def test_length_is_settable_and_sample_draws_fresh_test_sets():
    task = tasks.TemporalParity(10, seed=0)
    task.length = 25
    task.on_epoch_begin()  # inside an epoch, as during fit
    assert task[0][0].shape == (64, 25, 1)
    a, _ = task.sample(100)
    b, _ = task.sample(100)
    assert a.shape == (100, 25, 1) and not np.array_equal(a, b)
    c, _ = task.sample(5, length=1000, seed=4)
    d, _ = task.sample(5, length=1000, seed=4)
    assert c.shape == (5, 1000, 1)
    np.testing.assert_array_equal(c, d)
    assert tasks.TemporalParity(10).seed >= 0  # a random seed is kept


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: tasks.TemporalParity(0), "length=0"),
        (lambda: tasks.TemporalParity(10, batch_size=2.5), "batch_size=2.5"),
        (lambda: tasks.TemporalParity(10, steps_per_epoch=-1), "steps_per_epoch=-1"),
        (lambda: tasks.TemporalParity(10, seed=-3), "seed=-3"),
        (lambda: tasks.DelayedEcho(True), "length=True"),
        (lambda: tasks.EmbeddedParity(10, distractors=-1), "distractors=-1"),
        (lambda: tasks.EmbeddedParity(10, distractors=2, signal_feature=3), "signal_feature=3"),
        (lambda: setattr(tasks.TemporalParity(10), "length", 0.5), "length=0.5"),
        (lambda: tasks.TemporalParity(10).sample(0), "count=0"),
        (lambda: tasks.TemporalParity(10)["a"], "index='a'"),
        (lambda: tasks.TemporalParity(10).set_epoch(-1), "epoch=-1"),
        (lambda: tasks.TemporalParity(10).set_epoch(1.5), "epoch=1.5"),
    ],
)
def test_invalid_arguments_raise_value_errors_naming_the_value(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_evaluate_averages_the_compiled_metrics_over_chunks():
    import keras

    task = tasks.TemporalParity(6, seed=0)
    # A model that ignores its input and always says "odd": its accuracy is
    # the fraction of odd sequences.
    inputs = keras.Input((None, 1))
    outputs = keras.layers.Dense(
        1,
        activation="sigmoid",
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(5.0),
    )(keras.layers.GlobalAveragePooling1D()(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(loss="binary_crossentropy", metrics=["accuracy"])
    result = task.evaluate(model, count=250, chunk_size=100, seed=3)
    # The same sequences, drawn chunk by chunk as evaluate does.
    labels = np.concatenate(
        [task.sample(n, seed=3 + start)[1] for start, n in ((0, 100), (100, 100), (200, 50))]
    )
    assert result["accuracy"] == pytest.approx(labels.mean(), abs=1e-6)
    with pytest.raises(ValueError, match="chunk_size=0"):
        task.evaluate(model, count=10, chunk_size=0)


def test_only_a_variable_length_task_answers_the_tensorflow_peek_one_step_longer():
    import keras

    task = tasks.TemporalParity(10, seed=0)
    assert task[1][0].shape[1] == 10  # a plain task never changes its length
    task.variable_length = True
    expected = 11 if keras.backend.backend() == "tensorflow" else 10
    assert task[1][0].shape[1] == expected  # outside an epoch: keras' peek
    assert task[0][0].shape[1] == 10
    task.on_epoch_begin()
    assert task[1][0].shape[1] == 10  # inside an epoch: what fit trains on


# Delétang et al.'s regular tasks, each label from the decoded tokens by a direct computation.


def decoded(x):
    """Token indices of one-hot sequences."""
    assert x.dtype == np.float32 and np.all(x.sum(axis=-1) == 1.0)
    return x.argmax(axis=-1)


def test_parity_check_labels_count_the_ones():
    task = tasks.ParityCheck(17, batch_size=60, seed=1)
    x, y = task[0]
    assert x.shape == (60, 17, 2) and y.shape == (60,) and y.dtype == np.int32
    for tokens, label in zip(decoded(x), y):
        assert label == list(tokens).count(1) % 2
    assert 0.2 < y.mean() < 0.8


def test_even_pairs_labels_count_the_unequal_neighbours():
    task = tasks.EvenPairs(15, batch_size=60, seed=2)
    x, y = task[0]
    assert x.shape == (60, 15, 2) and y.dtype == np.int32
    for tokens, label in zip(decoded(x), y):
        text = "".join(map(str, tokens))
        pairs = sum(text[i : i + 2] in ("01", "10") for i in range(len(text) - 1))
        assert label == pairs % 2
    assert 0.2 < y.mean() < 0.8


@pytest.mark.parametrize("cycle_length", [5, 2, 7])
def test_cycle_navigation_labels_walk_the_cycle(cycle_length):
    task = tasks.CycleNavigation(20, cycle_length=cycle_length, batch_size=80, seed=3)
    x, y = task[0]
    assert x.shape == (80, 20, 3) and task.classes == cycle_length
    for tokens, label in zip(decoded(x), y):
        position = 0
        for token in tokens:
            position = (position + {0: -1, 1: 0, 2: 1}[int(token)]) % cycle_length
        assert label == position
    assert set(y) == set(range(cycle_length))


@pytest.mark.parametrize("length", [1, 2, 9, 30])
@pytest.mark.parametrize("operators", ["+-*", "+", "-*"])
def test_modular_arithmetic_labels_are_the_expressions_values(length, operators):
    modulus = 5
    task = tasks.ModularArithmetic(length, operators=operators, batch_size=40, seed=4)
    x, y = task[0]
    steps = length if length % 2 else length - 1
    assert x.shape == (40, steps, modulus + 4) and task.classes == modulus
    symbols = [str(n) for n in range(modulus)] + ["+", "-", "*", "_"]
    for tokens, label in zip(decoded(x), y):
        expression = " ".join(symbols[t] for t in tokens)
        assert all(symbols[t] in operators for t in tokens[1::2]), expression
        assert all(t < modulus for t in tokens[::2]), expression
        # Python's own precedence, and its % is non-negative for a positive modulus.
        assert label == eval(expression) % modulus, expression


def modular_arithmetic_automaton(modulus):
    """The minimal automaton of Modular Arithmetic's value, from the language's
    definition: `(step, states, start)`, where `step[symbol]` maps each state
    to the next (symbols: the numbers, then `+`, `-`, `*`) and a state's
    output is the value of the expression read so far (None between a
    number and an operator, or after a malformed prefix)."""
    symbols = [*range(modulus), "+", "-", "*"]

    # A prefix's configuration: after a number (total, signed term), after an
    # operator (total, signed term, operator), or malformed.
    def move(c, s):
        number = isinstance(s, int)
        if c == "start":
            return ("number", 0, s) if number else "malformed"
        if c == "malformed" or (c[0] == "number") == number:
            return "malformed"
        if c[0] == "number":
            return ("operator", *c[1:], s)
        _, total, term, op = c
        if op == "*":
            return ("number", total, term * s % modulus)
        return ("number", (total + term) % modulus, (s if op == "+" else -s) % modulus)

    def output(c):
        return (c[1] + c[2]) % modulus if isinstance(c, tuple) and c[0] == "number" else None

    reached, frontier = {"start"}, ["start"]
    while frontier:
        current = frontier.pop()
        for s in symbols:
            following = move(current, s)
            if following not in reached:
                reached.add(following)
                frontier.append(following)
    # Moore's refinement: configurations with the same outputs on every suffix merge.
    block = {c: output(c) for c in reached}
    while True:
        signature = {c: (block[c], *(block[move(c, s)] for s in symbols)) for c in reached}
        names = {}
        refined = {c: names.setdefault(signature[c], len(names)) for c in reached}
        if len(names) == len(set(block.values())):
            break
        block = refined
    representative = {b: c for c, b in sorted(refined.items(), key=str)}
    states = sorted(representative)
    step = {s: [refined[move(representative[b], s)] for b in states] for s in symbols}
    return step, states, refined["start"], lambda b: output(representative[b])


def test_modular_arithmetic_needs_a_reset_that_no_counter_has():
    # What the Regular languages page says of the task, computed from its definition.
    modulus = 5
    step, states, start, output = modular_arithmetic_automaton(modulus)
    task = tasks.ModularArithmetic(9, batch_size=50, seed=7)
    x, y = task[0]
    for tokens, label in zip(decoded(x), y):  # the automaton reads the task's labels
        state = start
        for token in tokens:
            state = step[int(token) if token < modulus else "+-*"[token - modulus]][state]
        assert output(state) == label
    assert len(states) == 51
    # Its transition monoid: every map a word makes of the states.
    identity = tuple(states)
    monoid, frontier = {identity}, [identity]
    while frontier:
        current = frontier.pop()
        for moves in step.values():
            following = tuple(moves[state] for state in current)
            if following not in monoid:
                monoid.add(following)
                frontier.append(following)
    assert len(monoid) == 518
    # `* 0` sends the states after "1" and after "2" to one state: a reset, a map no
    # permutation of a counter's states (the XOR bit, a count modulo k) makes.
    after = [step[n][start] for n in (1, 2)]
    reset = [step[0][step["*"][state]] for state in after]
    assert after[0] != after[1] and reset[0] == reset[1]


def derived_length(task):
    """The steps of the derived series G > [G, G] > ... to the trivial group, or None
    when it stops at a non-trivial group (G is not solvable)."""
    group, table, steps = set(range(task.classes)), task.table, 0
    inverse = {a: int(np.argmax(table[a] == 0)) for a in group}
    while len(group) > 1:
        commutators = {
            table[table[inverse[a], inverse[b]], table[a, b]] for a in group for b in group
        }
        subgroup = set(commutators)
        while True:  # the subgroup the commutators generate
            grown = subgroup | {table[a, b] for a in subgroup for b in subgroup}
            if grown == subgroup:
                break
            subgroup = grown
        if subgroup == group:
            return None
        group, steps = subgroup, steps + 1
    return steps


@pytest.mark.parametrize(
    "group, order, abelian, solvable",
    [("Z60", 60, True, True), ("S3", 6, False, True), ("D4", 8, False, True),
     ("A5", 60, False, False), ("S5", 120, False, False)],
)  # fmt: skip
def test_word_problem_groups_are_the_groups_named(group, order, abelian, solvable):
    task = tasks.WordProblem(5, group=group)
    table, elements = task.table, task.elements
    assert task.classes == task.tokens == order and elements.shape[0] == order
    assert list(elements[0]) == list(range(elements.shape[1]))  # element 0: the identity
    identity = np.arange(order)
    assert (table[0] == identity).all() and (table[:, 0] == identity).all()
    assert all(sorted(row) == list(identity) for row in table)  # each row a permutation
    # Associative, and each entry the composition of the permutations: b after a.
    for a in range(order):
        for b in range(order):
            assert list(elements[table[a, b]]) == list(elements[b][elements[a]])
    assert np.array_equal(table, table.T) == abelian
    assert (derived_length(task) is not None) == solvable


@pytest.mark.parametrize("group", ["Z60", "D4", "A5"])
@pytest.mark.parametrize("length", [1, 2, 7, 64])
def test_word_problem_labels_are_the_words_products(group, length):
    task = tasks.WordProblem(length, group=group, batch_size=32, seed=3)
    x, y = task[0]
    assert x.shape == (32, length, task.classes) and y.shape == (32,) and y.dtype == np.int32
    for tokens, label in zip(decoded(x), y):
        # The permutations applied one after the other, g_1 first.
        points = np.arange(task.elements.shape[1])
        for token in tokens:
            points = task.elements[token][points]
        assert list(task.elements[label]) == list(points)
    if group == "Z60":  # element k shifts by k: the product is the sum modulo 60
        assert (y == decoded(x).sum(axis=1) % 60).all()
    assert len(set(y)) > 1


def test_a_word_problem_of_a_non_abelian_group_depends_on_the_order():
    task = tasks.WordProblem(2, group="S3")
    words = np.array([[a, b] for a in range(6) for b in range(6)])
    swapped = task.product(words[:, ::-1])
    assert (task.product(words) != swapped).any()
    assert (task.product(words) == task.table[words[:, 0], words[:, 1]]).all()


def test_a_length_range_draws_each_batchs_length_reproducibly():
    task = tasks.ParityCheck((3, 9), batch_size=4, steps_per_epoch=40, seed=5)
    assert task.variable_length and task.length == (3, 9)
    task.on_epoch_begin()
    lengths = [task[i][0].shape[1] for i in range(40)]
    assert set(lengths) == set(range(3, 10))  # every length of the range, and only those
    again = tasks.ParityCheck((3, 9), batch_size=4, steps_per_epoch=40, seed=5)
    again.on_epoch_begin()
    assert [again[i][0].shape[1] for i in range(40)] == lengths
    assert 3 <= task.sample(5)[0].shape[1] <= 9
    assert task.sample(5, length=50)[0].shape[1] == 50
    task.length = 12  # a curriculum may fix it again
    assert task[0][0].shape[1] == 12


@pytest.mark.parametrize("task_class", [tasks.ParityCheck, tasks.CycleNavigation])
def test_a_model_trains_on_lengths_drawn_per_batch(task_class):
    import keras

    from keras_hsru.models import HSRURNN

    train = task_class((2, 12), batch_size=16, steps_per_epoch=4, seed=6)
    model = HSRURNN(6, output_units=train.classes, output_activation="softmax")
    model.compile("adamw", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    x, y = train.sample(8, length=40)  # far beyond the training lengths
    assert model.predict(x, verbose=0).shape == (8, train.classes)
    assert keras.backend.backend() in ("jax", "tensorflow", "torch")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: tasks.ParityCheck((5, 3)), r"length=\(5, 3\)"),
        (lambda: tasks.ParityCheck((0, 3)), r"length=\(0, 3\)"),
        (lambda: tasks.ParityCheck((1, 2, 3)), r"length=\(1, 2, 3\)"),
        (lambda: tasks.CycleNavigation(10, cycle_length=1), "cycle_length=1"),
        (lambda: tasks.ModularArithmetic(10, modulus=1), "modulus=1"),
        (lambda: tasks.ModularArithmetic(10, operators="/"), "operators='/'"),
        (lambda: tasks.ModularArithmetic(10, operators=""), "operators=''"),
        (lambda: tasks.WordProblem(10, group="Q8"), "group='Q8'"),
        (lambda: tasks.WordProblem(10, group="Z1"), "group='Z1'"),
        (lambda: tasks.WordProblem(10, group="S6"), "group='S6'"),
        (lambda: tasks.WordProblem(10, group="D121"), "group='D121'"),
        (lambda: tasks.WordProblem(10, group=5), "group=5"),
    ],
)
def test_the_regular_tasks_validate_their_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()
