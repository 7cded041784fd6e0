"""Spike activity and SpikeMonitor: exact against a direct computation from V, on every backend,
for every HSRU-family layer; logged to the History and to TensorBoard."""

import glob

import keras
import numpy as np
import pytest

import keras_hsru
from keras_hsru.callbacks import SpikeMonitor, hsru_layers
from keras_hsru.models import HSRURNN
from tests.support import reference
from tests.support.helpers import KINDS, draw_problem, make_layer, numpy


def direct_activity(x, weights, initial=None, mask=None):
    """V, S and D from the float64 reference's V, step by step."""
    w_in, b_in, tau, theta = (np.asarray(w, np.float64) for w in weights[:4])
    alpha = np.exp(-reference.softplus(tau))
    batch, length, _ = x.shape
    v = np.zeros((batch, w_in.shape[1])) if initial is None else np.asarray(initial[1], float)
    d = np.zeros_like(v) if initial is None else np.asarray(initial[2], float)
    out = {name: np.zeros((batch, length, w_in.shape[1])) for name in ("potential", "spikes")}
    out["memory"] = np.zeros_like(out["spikes"])
    for t in range(length):
        keep = np.ones((batch, 1)) if mask is None else mask[:, t, None].astype(float)
        v = keep * (alpha * v + x[:, t] @ w_in + b_in) + (1 - keep) * v
        s = keep * (v > theta)
        d = np.where(s > 0, 1 - d, d)
        out["potential"][:, t], out["spikes"][:, t], out["memory"][:, t] = v, s, d
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_spike_activity_equals_the_direct_computation(kind, rng):
    x, weights = draw_problem(rng, batch=3, length=12, input_dim=4, units=5)
    layer = make_layer(kind, weights, 4, 5)
    cell = layer.cell
    mask = rng.uniform(size=(3, 12)) < 0.8
    initial = [
        np.zeros((3, 5), np.float32),
        np.zeros((3, 5), np.float32),
        (rng.uniform(size=(3, 5)) < 0.5).astype(np.float32),
    ]
    for kwargs in ({}, {"mask": mask}, {"initial_state": initial}):
        got = cell.spike_activity(x, **kwargs)
        want = direct_activity(
            x, weights, initial=kwargs.get("initial_state"), mask=kwargs.get("mask")
        )
        np.testing.assert_allclose(numpy(got["potential"]), want["potential"], atol=1e-5)
        np.testing.assert_array_equal(numpy(got["spikes"]), want["spikes"])
        np.testing.assert_array_equal(numpy(got["memory"]), want["memory"])
    backwards = cell.spike_activity(x, go_backwards=True)
    want = direct_activity(x[:, ::-1], weights)
    np.testing.assert_array_equal(numpy(backwards["memory"]), want["memory"])


def test_a_stateful_layer_reports_from_its_states_and_keeps_them(rng):
    x, weights = draw_problem(rng, batch=3, length=12, input_dim=4, units=5)
    layer = make_layer("hsru", weights, 4, 5, stateful=True, batch_size=3)
    layer(x[:, :6])
    states = [numpy(s).copy() for s in layer.states]
    got = layer.spike_activity(x[:, 6:])
    want = direct_activity(x, weights)
    np.testing.assert_array_equal(numpy(got["memory"]), want["memory"][:, 6:])
    for state, saved in zip(layer.states, states):
        np.testing.assert_array_equal(numpy(state), saved)


def rates(activity, mask=None):
    valid = np.ones(activity["spikes"].shape[:2]) if mask is None else mask.astype(float)
    count = valid.sum() * activity["spikes"].shape[-1]
    spike = (activity["spikes"] * valid[..., None]).sum() / count
    memory = ((activity["memory"] != 0) * valid[..., None]).sum() / count
    return spike, memory


@pytest.mark.parametrize("case", ["nothing_fires", "everything_fires", "random"])
def test_the_monitor_logs_the_rates_of_every_layer_of_a_stack(case, rng):
    x = rng.normal(size=(4, 9, 2)).astype(np.float32)
    model = HSRURNN(5, num_layers=2, layer_arguments={"bias_initializer": "zeros"})
    model.build(x.shape)
    first, second = model.recurrent_layers
    for layer in (first, second):
        if case != "random":
            # theta far above (below) every V: no spike (a spike at every step).
            value = 1e6 if case == "nothing_fires" else -1e6
            layer.cell.threshold.assign(np.full(5, value, np.float32))
    monitor = SpikeMonitor((x, np.zeros((4, 1))))
    monitor.set_model(model)
    logs = monitor.spike_statistics()

    hidden = numpy(first(x))
    inputs = {"recurrent_0": x, "recurrent_1": hidden}
    for layer in (first, second):
        weights = [numpy(w) for w in layer.get_weights()]
        want = rates(direct_activity(inputs[layer.name], weights))
        got = logs[f"{layer.name}/spike_rate"], logs[f"{layer.name}/memory_rate"]
        np.testing.assert_allclose(got, want, atol=1e-6)
        if case == "nothing_fires":
            assert got == (0.0, 0.0)
        elif case == "everything_fires":
            # D flips at every step: 1 at steps 0, 2, 4, 6, 8.
            np.testing.assert_allclose(got, (1.0, 5 / 9), rtol=1e-6)


def test_the_monitor_finds_cells_in_rnn_attentive_and_bidirectional_layers_and_masks(rng):
    x = rng.normal(size=(3, 8, 2)).astype(np.float32)
    x[0, 5:] = 0.0  # padding that Masking turns into a mask
    model = keras.Sequential(
        [
            keras.Input((None, 2)),
            keras.layers.Masking(0.0),
            keras.layers.RNN(keras_hsru.HSRUCell(4), return_sequences=True, name="cell_rnn"),
            keras.layers.Bidirectional(keras_hsru.HSRU(3, return_sequences=True), name="both"),
            keras_hsru.AttentiveHSRU(3, name="attentive"),
            keras.layers.Dense(1),
        ]
    )
    names = sorted(layer.name.rstrip("_0123456789") for layer in hsru_layers(model))
    assert names == ["attentive", "backward_hsru", "cell_rnn", "forward_hsru"], names
    monitor = SpikeMonitor(x)
    monitor.set_model(model)
    logs = monitor.spike_statistics()
    mask = np.any(x != 0.0, axis=-1)
    cell_rnn = model.get_layer("cell_rnn")
    want = rates(
        direct_activity(x, [numpy(w) for w in cell_rnn.get_weights()], mask=mask), mask=mask
    )
    np.testing.assert_allclose(
        (logs["cell_rnn/spike_rate"], logs["cell_rnn/memory_rate"]), want, atol=1e-6
    )
    assert len(logs) == 8


def test_the_rates_reach_the_history_and_tensorboard(tmp_path):
    tf = pytest.importorskip("tensorflow")
    task = keras_hsru.tasks.TemporalParity(8, batch_size=8, steps_per_epoch=2, seed=0)
    model = HSRURNN(4)
    model.compile("adamw", "binary_crossentropy")
    callbacks = [SpikeMonitor(task[0]), keras.callbacks.TensorBoard(str(tmp_path))]
    history = model.fit(task, epochs=3, callbacks=callbacks, verbose=0).history
    assert len(history["recurrent_0/spike_rate"]) == 3

    logged = {}
    for path in glob.glob(str(tmp_path / "train" / "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.tag.endswith(("/spike_rate", "/memory_rate")):
                    number = float(tf.make_ndarray(value.tensor))
                    logged.setdefault(value.tag, {})[event.step] = number
    assert set(logged) == {"epoch_recurrent_0/spike_rate", "epoch_recurrent_0/memory_rate"}
    for tag, by_epoch in logged.items():
        name = tag[len("epoch_") :]
        np.testing.assert_allclose([by_epoch[e] for e in range(3)], history[name], rtol=1e-6)


def test_every_logs_every_nth_epoch_only():
    task = keras_hsru.tasks.TemporalParity(8, batch_size=8, steps_per_epoch=2, seed=0)
    model = HSRURNN(4)
    model.compile("adamw", "binary_crossentropy")
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append("recurrent_0/spike_rate" in logs)
    )
    model.fit(task, epochs=4, callbacks=[SpikeMonitor(task[0], every=2), record], verbose=0)
    assert seen == [False, True, False, True]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: SpikeMonitor(None), "`data` must be"),
        (lambda: SpikeMonitor(()), r"data=\(\)"),
        (lambda: SpikeMonitor(np.zeros((2, 3, 1)), every=0), "every=0"),
    ],
)
def test_invalid_arguments_raise_value_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_model_without_hsru_layers_fails_clearly():
    model = keras.Sequential([keras.Input((None, 2)), keras.layers.LSTM(3)])
    monitor = SpikeMonitor(np.zeros((2, 4, 2), np.float32))
    monitor.set_model(model)
    with pytest.raises(ValueError, match="found no HSRU layer"):
        monitor.spike_statistics()


def test_spike_activity_validates_its_arguments(rng):
    layer = keras_hsru.HSRU(4)
    with pytest.raises(ValueError, match="needs a built cell"):
        layer.spike_activity(np.zeros((2, 3, 5), np.float32))
    layer.build((None, None, 5))
    with pytest.raises(ValueError, match=r"sequences.shape=\(2, 3, 4\)"):
        layer.spike_activity(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"mask.shape=\(2, 4\)"):
        layer.spike_activity(np.zeros((2, 3, 5), np.float32), mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="Received: 1 of shapes"):
        layer.spike_activity(np.zeros((2, 3, 5), np.float32), initial_state=[np.zeros((2, 4))])
