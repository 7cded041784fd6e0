"""`keras_hsru.models.HSRUClassifier`: variable-length sequences, defaults, saving, scikit-learn."""

import keras
import numpy as np
import pytest

import keras_hsru
from keras_hsru.models import HSRUClassifier
from tests.support.helpers import numpy


def sequences(rng, lengths, features=2):
    return [rng.normal(size=(n, features)).astype(np.float32) for n in lengths]


def padded(seqs, value):
    return keras.utils.pad_sequences(seqs, padding="post", value=value, dtype="float32")


def separable_problem(rng, count=48, length=12):
    """Class 1 holds a step up in the middle of the series, class 0 none."""
    y = np.arange(count) % 2
    x = rng.normal(scale=0.3, size=(count, length, 1)).astype(np.float32)
    x[y == 1, length // 2 :] += 2.0
    return x, y


def test_trains_with_the_default_compile_and_predicts_probabilities(rng):
    x, y = separable_problem(rng)
    model = HSRUClassifier(2, units=8, seed=0)
    model.compile()
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.optimizer.clipnorm == 1.0
    history = model.fit(x, y, batch_size=16, epochs=15, verbose=0)
    assert history.history["accuracy"][-1] > 0.9, history.history["accuracy"]
    probabilities = model.predict(x, verbose=0)
    assert probabilities.shape == (48, 2)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("readout", ["last", "mean", "last_and_mean"])
@pytest.mark.parametrize("mask_value", [np.nan, -9.0])
def test_padded_sequences_equal_each_sequence_alone(readout, mask_value, rng):
    seqs = sequences(rng, (5, 9, 1, 12))
    model = HSRUClassifier(3, units=6, readout=readout, mask_value=mask_value, seed=1)
    batch = model.predict(padded(seqs, mask_value), verbose=0)
    alone = np.concatenate([numpy(model(s[None])) for s in seqs])
    np.testing.assert_allclose(batch, alone, atol=1e-5)


def test_the_last_and_mean_readout_reads_both(rng):
    seqs = sequences(rng, (5, 9))
    x = padded(seqs, np.nan)
    models = {
        readout: HSRUClassifier(2, units=4, readout=readout, mask_value=np.nan, seed=1)
        for readout in ("last", "mean", "last_and_mean")
    }
    for model in models.values():
        model.build(x.shape)
    both = models["last_and_mean"]
    assert both.head.kernel.shape == (8, 2)
    # With the head's rows for one readout zeroed, the model is that readout's.
    kernel = numpy(both.head.kernel)
    for readout, rows in (("last", slice(0, 4)), ("mean", slice(4, 8))):
        model = models[readout]
        model.set_weights(both.get_weights()[:-2] + [kernel[rows], numpy(both.head.bias)])
        zeroed = np.zeros_like(kernel)
        zeroed[rows] = kernel[rows]
        both.head.kernel.assign(zeroed)
        np.testing.assert_allclose(numpy(both(x)), numpy(model(x)), atol=1e-6)
        both.head.kernel.assign(kernel)


def test_an_upstream_mask_is_honoured(rng):
    x = padded(sequences(rng, (4, 10)), 0.0)
    mask = np.zeros(x.shape[:2], bool)
    mask[0, :4], mask[1] = True, True
    model = HSRUClassifier(2, units=4, seed=0)
    masked = numpy(model(x, mask=mask))
    np.testing.assert_allclose(masked[0], numpy(model(x[:1, :4]))[0], atol=1e-5)
    assert not np.allclose(masked[0], numpy(model(x[:1]))[0], atol=1e-5)


def test_flattened_inputs_are_read_step_after_step(rng):
    x = rng.normal(size=(3, 7, 2)).astype(np.float32)
    model = HSRUClassifier(2, units=4, features=2, seed=0)
    np.testing.assert_allclose(numpy(model(x.reshape(3, 14))), numpy(model(x)), atol=1e-6)
    with pytest.raises(ValueError, match=r"shape \(3, 13\)"):
        model(x.reshape(3, 14)[:, :13])


def test_one_hot_labels_train_as_integer_labels_do(rng):
    x, y = separable_problem(rng, count=16)
    losses = []
    for labels in (y, keras.utils.to_categorical(y, 2)):
        keras.utils.set_random_seed(0)
        model = HSRUClassifier(2, units=4, seed=0)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        losses.append(model.evaluate(x, labels, verbose=0)[0])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)


def test_keras_file_round_trip_keeps_the_weights_and_the_compiled_state(tmp_path, rng):
    x, y = separable_problem(rng, count=16)
    model = HSRUClassifier(
        2,
        units=4,
        num_layers=2,
        readout="mean",
        max_timescale=50.0,
        dropout=0.1,
        mask_value=np.nan,
        layer_arguments={"surrogate_slope": 3.0},
        seed=3,
    )
    model.compile()
    model.fit(x, y, epochs=1, verbose=0)
    path = str(tmp_path / "classifier.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    config, loaded_config = model.get_config(), loaded.get_config()
    assert np.isnan(config.pop("mask_value")) and np.isnan(loaded_config.pop("mask_value"))
    assert loaded_config == config
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert int(numpy(loaded.optimizer.iterations)) == int(numpy(model.optimizer.iterations)) > 0
    assert loaded.recurrent_layers[0].memory == "latch"
    assert loaded.recurrent_layers[1].surrogate_slope == 3.0
    loaded.fit(x, y, epochs=1, verbose=0)


def test_the_layers_get_the_recipe(rng):
    model = HSRUClassifier(2, units=16, num_layers=2, min_timescale=2.0, max_timescale=40.0)
    model.build((None, None, 3))
    for layer in model.recurrent_layers:
        assert layer.memory == "latch" and layer.return_sequences
        alpha = np.exp(-np.log1p(np.exp(numpy(layer.cell.tau))))
        timescales = -1.0 / np.log(alpha)
        assert timescales.min() >= 2.0 - 1e-3 and timescales.max() <= 40.0 + 1e-2
    toggled = HSRUClassifier(2, layer_arguments={"memory": "toggle"})
    assert toggled.recurrent_layers[0].memory == "toggle"


def test_works_inside_scikit_learn_cross_validation_and_grid_search(rng):
    pytest.importorskip("sklearn")
    from sklearn.model_selection import GridSearchCV

    x, y = separable_problem(rng, count=24, length=8)

    def make_model(X, y, units=4):
        # One layer: scikit-learn fits five models here, and depth is tested elsewhere.
        model = HSRUClassifier(y.shape[-1], units=units, num_layers=1, seed=0)
        model.compile()
        return model

    classifier = keras.wrappers.SKLearnClassifier(
        # Batches of 6 divide the folds (12 sequences) and the refit (24): one
        # train step traced or compiled per fit, not a second for a short last batch.
        model=make_model,
        fit_kwargs={"epochs": 2, "batch_size": 6, "verbose": 0},
    )
    # The grid search cross-validates each setting (four fits and scores), then refits.
    search = GridSearchCV(classifier, {"model_kwargs": [{"units": 2}, {"units": 4}]}, cv=2)
    search.fit(x[..., 0], y)
    scores = search.cv_results_["mean_test_score"]
    assert scores.shape == (2,) and np.all((0 <= scores) & (scores <= 1))
    assert search.best_params_["model_kwargs"]["units"] in (2, 4)
    assert set(search.predict(x[..., 0])) <= {0, 1}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": 1}, "num_classes=1"),
        ({"num_classes": 2.0}, "num_classes=2.0"),
        ({"units": 0}, "units=0"),
        ({"num_layers": -1}, "num_layers=-1"),
        ({"readout": "first"}, "readout='first'"),
        ({"min_timescale": 0.0}, "min_timescale=0.0"),
        ({"max_timescale": 0.5}, "max_timescale=0.5"),
        ({"dropout": 1.0}, "dropout=1.0"),
        ({"mask_value": "pad"}, "mask_value='pad'"),
        ({"features": 0}, "features=0"),
        ({"layer_arguments": [1]}, r"layer_arguments=\[1\]"),
        ({"layer_arguments": {"units": 3}}, "'units'"),
        ({"seed": 1.5}, "seed=1.5"),
        ({"seed": True}, "seed=True"),
    ],
)
def test_invalid_arguments_raise_value_errors_naming_the_value(kwargs, message):
    arguments = {"num_classes": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        HSRUClassifier(**arguments)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"min_timescale": -1.0}, "min_timescale=-1.0"),
        ({"max_timescale": float("inf")}, "max_timescale=inf"),
        ({"min_timescale": 5.0, "max_timescale": 2.0}, "max_timescale=2.0"),
    ],
)
def test_timescale_initializer_validates_its_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_hsru.initializers.TimescaleUniform(**kwargs)


def test_timescale_initializer_round_trips_and_spans_its_range():
    init = keras_hsru.initializers.TimescaleUniform(1.0, 1000.0, seed=7)
    tau = numpy(init((4000,)))
    timescales = 1.0 / np.log1p(np.exp(tau))
    assert timescales.min() >= 1.0 - 1e-4 and timescales.max() <= 1000.0 * (1 + 1e-3)
    # Log-uniform: about a third of the draws in each decade.
    counts = np.histogram(np.log10(timescales), bins=[0, 1, 2, 3])[0]
    assert np.all(np.abs(counts / 4000 - 1 / 3) < 0.05), counts
    restored = keras.initializers.deserialize(keras.initializers.serialize(init))
    np.testing.assert_array_equal(numpy(restored((50,))), numpy(init((50,))))
