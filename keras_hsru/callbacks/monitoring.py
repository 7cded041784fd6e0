"""Monitoring: `SpikeMonitor` (how often the units fire and what the memory
holds, in the epoch's logs) and `SurrogateSlopeSchedule` (the surrogate's
slope as a function of the epoch), over the HSRU layers `hsru_layers` finds."""

import math

import keras

from keras_hsru._validation import check_choice, check_positive_int, is_real
from keras_hsru.layers import HSRU, HSRUCell


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
