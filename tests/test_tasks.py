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
