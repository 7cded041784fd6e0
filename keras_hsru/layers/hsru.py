"""The Hybrid State Recurrent Unit: `HSRUCell` (one step) and `HSRU` (whole sequences)."""

import functools
import warnings

import keras
from keras import constraints, initializers, ops, regularizers

from keras_hsru import ops as hsru_ops
from keras_hsru import regularizers as hsru_regularizers
from keras_hsru._validation import check_bool, check_choice, check_shape, shape_of
from keras_hsru.layers.leaky_integrator import STATE_DTYPE, LeakyIntegratorCell
from keras_hsru.layers.memory import MEMORIES, memory_kind

# The paper's surrogate: the fast sigmoid with slope 5 (also `Surrogate()`).
PAPER_SURROGATE = hsru_ops.Surrogate()


def check_states(states, batch, sizes):
    """Raises unless `states` `[y, V, D]` have the shapes `(batch, size)` of the cell's
    `state_size` (D of a k-state memory: `(batch, (k - 1) * units)`)."""
    if len(states) != len(sizes):
        raise ValueError(
            f"`initial_state` must be a list of {len(sizes)} tensors [y, V, D] of "
            f"shapes (batch, width), widths {list(sizes)}. "
            f"Received: {len(states)} of shapes {[shape_of(state) for state in states]}"
        )
    for state, size in zip(states, sizes):
        description = "(batch, units)" if size == sizes[0] else "(batch, (k - 1) * units)"
        check_shape("initial_state", state, (batch, size), description)


@keras.saving.register_keras_serializable(package="keras_hsru")
class HSRUCell(LeakyIntegratorCell):
    """Cell class for the Hybrid State Recurrent Unit (one time step).

    At each step the cell integrates its input into a leaky analog potential
    `V`, fires a spike where `V` crosses a learned per-unit threshold, flips a
    binary digital memory `D` on each spike, and reads both out:

    ```
    I_t = x_t W_in + b_in
    V_t = alpha * V_{t-1} + I_t,          alpha = exp(-softplus(tau))
    S_t = H(V_t - threshold)              (surrogate dS/dV = 1 / (1 + k|V - threshold|)^2)
    D_t = D_{t-1} (1 - S_t) + (1 - D_{t-1}) S_t
    y_t = tanh([V_t, D_t] W_out + b_out)
    ```

    Use it as `keras.layers.RNN(HSRUCell(units))`, or use `keras_hsru.HSRU`,
    which computes the same function over whole sequences without a per-step
    loop.

    With `memory_states=k` above 2, `D` is a counter modulo k instead of one
    bit (the XOR memory generalised from Z_2 to Z_k): an up spike
    `H(V - threshold)` adds one, a down spike `H(-V - threshold)` takes one
    away, both at once leave it, each with the surrogate gradient. The
    memory is one-hot over the k counts, `o_t = roll(o_{t-1}, up - down)`
    written as a differentiable step (`keras_hsru.ops.counter_scan`), and the
    readout sees counts 1 to k - 1 (count 0 is what remains): with k = 2 that
    is the XOR bit, the paper's cell exactly.

    With `memory="latch"`, `D` is a set/reset flip-flop instead: an up spike
    sets it to 1, a down spike resets it to 0, and it holds while
    `-threshold <= V <= threshold`:
    `D_t = hold_t D_{t-1} + U_t (1 - N_t)`, `hold_t = (1 - U_t)(1 - N_t) + U_t N_t`.
    The band between the two crossings is a hysteresis: noise that moves `V`
    within it leaves `D` as it is, where the XOR bit flips at every step `V`
    spends above the threshold (the docs' "Real sequences" page measures what
    that does on real series). Over whole sequences it is a linear scan with
    a per-step decay (`keras_hsru.ops.linear_scan`), exact in its gradient.

    With `memory="reset"` and `memory_states=k`, `D` is a count modulo k
    that `V` adds to or sets, by several counts a step. Above the threshold
    it adds one count for each level `V > j * threshold` it passes
    (j = 1 .. k - 1), so one step reaches any count. Below it, a down spike
    `H(-V - threshold)` first resets the count to 0, and one count is added
    for each further level `-V > (j + 1) * threshold` (j = 1 .. k - 1):
    `V` between `-(m + 2)` and `-(m + 1)` thresholds sets the count to m.
    It holds while `|V| <= threshold`. Adding (the moves of Z_k) and setting
    (constant maps) are the two kinds of transition cascades of finite
    automata are built from (Krohn-Rhodes); stacked layers of these are such
    cascades. Over whole sequences: `keras_hsru.ops.reset_counter_scan`,
    exact in its gradient.

    The state list is `[y, V, D]`: the previous output first (so that masked
    steps emit it on every backend), then the analog potential, then the
    digital memory. All three start at zero. With `memory_states=k`, `D` has
    `(k - 1) * units` entries, the one-hot channels of counts 1 to k - 1,
    channel by channel (zeros: count 0). `V` and `D` are computed in
    float32 under a mixed precision policy; between steps keras' RNN loop keeps
    the states in the compute dtype.

    The weights, in order: `input_kernel (input_dim, units)`,
    `input_bias (units,)`, `tau (units,)`, `threshold (units,)`,
    `output_kernel (k * units, units)` (rows `[:units]` read V, the next
    `units` rows each channel of D in turn; k = `memory_states`, 2 by
    default), `output_bias (units,)`. After `quantize("int8")` (or
    `Model.quantize("int8")`) the two kernels are int8 and not trained, each
    with a float `..._scale (units,)`, and follow the other weights; the cell
    computes with the values they stand for, V and D in float32.

    Args:
        units: Positive integer, the number of HSRU units (output size).
        surrogate_slope: Positive finite float `k`, steepness of the
            surrogate gradient of the spike. Default: `5.0`, or the slope of
            a `keras_hsru.ops.Surrogate` given as `surrogate`.
        surrogate: The spike's surrogate gradient, one of
            `keras_hsru.ops.SURROGATES`: `"fast_sigmoid"` (default, the
            paper's, `1 / (1 + k|x|)^2`), `"sigmoid"`, `"triangle"` or
            `"arctan"` (formulas in `keras_hsru.ops.spike`); or a
            `keras_hsru.ops.Surrogate`, its name and slope in one value. The
            cell keeps both as `surrogate` and `surrogate_slope` (a callback
            such as `SurrogateSlopeSchedule` may change the slope), and hands
            them to the ops as one `spike_surrogate`.
        memory_states: Integer k of at least 2, the states of each unit's
            digital memory: `2` (default) is the paper's XOR bit; above 2 a
            counter modulo k driven by up and down spikes (see above).
        memory: What a spike does to `D`: `"toggle"` (default: flips it,
            the paper's XOR bit; a counter with `memory_states` above 2),
            `"latch"` (an up spike sets it, a down spike resets it; with
            `memory_states=2` only) or `"reset"` (a count modulo k that V
            adds to above the threshold and sets below it, by one count
            per level `threshold` apart that it passes; see above).
        input_initializer: Initializer for `input_kernel` (`W_in`).
        output_initializer: Initializer for `output_kernel` (`W_out`).
        bias_initializer: Initializer for `input_bias` and `output_bias`.
        tau_initializer: Initializer for `tau`, the per-unit decay parameter.
            Default: uniform in [-2, 2], decays `alpha` in [0.12, 0.88].
        threshold_initializer: Initializer for the per-unit firing
            `threshold`. Default: zeros; for a k-state memory and the latch
            0.25, so that the memory holds where |V| <= 0.25 (at zero every
            step would move it).
        input_regularizer: Optional regularizer for `input_kernel`.
        output_regularizer: Optional regularizer for `output_kernel`.
        bias_regularizer: Optional regularizer for `input_bias` and `output_bias`.
        tau_regularizer: Optional regularizer for `tau`.
        threshold_regularizer: Optional regularizer for `threshold`.
        input_constraint: Optional constraint for `input_kernel`.
        output_constraint: Optional constraint for `output_kernel`.
        bias_constraint: Optional constraint for `input_bias` and `output_bias`.
        tau_constraint: Optional constraint for `tau`.
        threshold_constraint: Optional constraint for `threshold`.
        dropout: Float in [0, 1). Fraction of the input features to drop (the
            same mask at every step of a sequence, as in `LSTMCell`).
        seed: Random seed for dropout and the default `tau` initializer.
        **kwargs: Standard layer arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, one time step.
        states: A list `[y, V, D]`: `y` and `V` `(batch, units)`, `D`
            `(batch, (k - 1) * units)` (`(batch, units)` for the XOR bit and
            the latch).
        training: Python boolean, whether dropout is applied.

    Returns:
        `(y, [y, V, D])`: the step output and the new states.

    Examples:
        >>> inputs = keras.random.uniform((32, 10, 8))
        >>> rnn = keras.layers.RNN(keras_hsru.HSRUCell(4), return_state=True)
        >>> output, y, v, d = rnn(inputs)
        >>> tuple(output.shape), tuple(d.shape)
        ((32, 4), (32, 4))
    """

    def __init__(
        self,
        units: int,
        surrogate_slope: float | None = None,
        surrogate: "str | hsru_ops.Surrogate" = "fast_sigmoid",
        memory_states: int = 2,
        memory: str = "toggle",
        threshold_initializer=None,
        threshold_regularizer=None,
        threshold_constraint=None,
        **kwargs,
    ):
        super().__init__(units, **kwargs)
        surrogate = hsru_ops.as_surrogate(surrogate, surrogate_slope, PAPER_SURROGATE.slope)
        self.surrogate_slope = surrogate.slope
        self.surrogate = surrogate.name
        self.memory_states = hsru_ops.check_memory_states(memory_states)
        self.memory = check_choice("memory", memory, MEMORIES)
        # What the spikes do to D, step by step and over whole sequences.
        self.digital_memory = memory_kind(self.memory, self.memory_states, self.units)
        if threshold_initializer is None:
            threshold_initializer = self.digital_memory.threshold_initializer()
        self.threshold_initializer = initializers.get(threshold_initializer)
        self.threshold_regularizer = regularizers.get(threshold_regularizer)
        self.threshold_constraint = constraints.get(threshold_constraint)
        self.readout_width = self.digital_memory.readout_width
        self.state_size = [self.units, self.units, self.digital_memory.channels * self.units]

    @property
    def spike_surrogate(self) -> hsru_ops.Surrogate:
        """The spike's surrogate gradient, `surrogate` and `surrogate_slope` as one value."""
        return hsru_ops.Surrogate(self.surrogate, self.surrogate_slope)

    @property
    def is_xor_bit(self) -> bool:
        """Whether the memory is the paper's XOR bit (toggled, two states), the
        only memory the fused paths compute."""
        return self.digital_memory.xor_bit

    def build_state_weights(self):
        self.threshold = self.add_state_weight(
            "threshold",
            self.threshold_initializer,
            self.threshold_regularizer,
            self.threshold_constraint,
        )

    def spikes(self, potential):
        """S = H(V - threshold) (the up spikes of a k-state memory), with the
        surrogate gradient; for a memory with several levels (`"reset"`), one
        per level, `(..., levels, units)` (`DigitalMemory.levels`)."""
        threshold = ops.cast(self.threshold, STATE_DTYPE)
        kind = self.digital_memory
        if kind.levels > 1:
            signs, multiples = (
                ops.reshape(ops.convert_to_tensor(values, STATE_DTYPE), (kind.levels, 1))
                for values in (kind.level_signs, kind.level_multiples)
            )
            potential, threshold = signs * ops.expand_dims(potential, -2), multiples * threshold
        return hsru_ops.spike(potential - threshold, surrogate=self.spike_surrogate)

    def down_spikes(self, potential):
        """H(-V - threshold), a k-state memory's down spikes, with the surrogate gradient."""
        return hsru_ops.spike(
            -potential - ops.cast(self.threshold, STATE_DTYPE), surrogate=self.spike_surrogate
        )

    def _spikes(self, potential, step=None):
        """The up spikes and, for a memory that reads them, the down spikes (else
        None); with `step` (the mask as float32), none at masked steps."""
        up = self.spikes(potential)
        down = self.down_spikes(potential) if self.digital_memory.two_sided else None
        if step is not None:
            up = up * (ops.expand_dims(step, -1) if self.digital_memory.levels > 1 else step)
            down = None if down is None else down * step
        return up, down

    def spike_count(self, potential):
        """The spikes of each unit-step: S, or for a k-state memory and the latch up plus down."""
        return self.digital_memory.spike_count(*self._spikes(potential))

    def memory_scan(self, potential, memory0, step=None):
        """`(spikes, D)` over whole sequences from V `(batch, time, units)` and
        the float32 memory state `memory0`; `spikes` counts the spikes of each
        unit-step (up plus down for a k-state memory and the latch). With
        `step`, the mask as float32 `(batch, time, 1)`, masked steps have no
        spike."""
        up, down = self._spikes(potential, step)
        return self.digital_memory.spike_count(up, down), self.digital_memory.scan(
            up, down, memory0
        )

    def memory_count(self, memory):
        """The count `0 .. k - 1` each unit's memory holds, from memory states
        `(..., (k - 1) * units)` (for the XOR bit and the latch, D itself);
        its expectation for a memory between counts."""
        return self.digital_memory.count(memory)

    def memory_step(self, memory, potential):
        """D after one step, from the float32 memory state and the new V."""
        return self.digital_memory.step(memory, *self._spikes(potential))

    def spike_activity(
        self, sequences, initial_state=None, mask=None, go_backwards: bool = False
    ) -> dict:
        """The cell's potential, spikes and memory at every step of whole sequences.

        What `keras.layers.RNN(cell)` computes step by step, computed at once
        (without training: no dropout), for plots and monitors
        (`keras_hsru.callbacks.SpikeMonitor`).

        Args:
            sequences: A 3D tensor `(batch, time, features)`.
            initial_state: Optional list `[y, V, D]` of the cell's state
                shapes (`state_size`; zeros if None).
            mask: Optional boolean tensor `(batch, time)`; at masked steps the
                states hold and no spike is counted.
            go_backwards: Whether the sequences are processed backwards, as
                by `RNN(go_backwards=True)`; the results are then in the
                order of processing, as its outputs are.

        Returns:
            A dict of float32 tensors `(batch, time, units)`: `"potential"`
            (V), `"spikes"` (S, 0 or 1; for a k-state memory the up and down
            spikes added) and `"memory"` (D, 0 or 1; for a k-state memory the
            count, 0 to k - 1).

        Examples:
            >>> cell = keras_hsru.HSRUCell(4)
            >>> _ = keras.layers.RNN(cell)(keras.ops.zeros((2, 1, 3)))  # builds the cell
            >>> activity = cell.spike_activity(keras.random.normal((2, 50, 3)))
            >>> tuple(activity["spikes"].shape)
            (2, 50, 4)
        """
        if not self.built:
            raise ValueError(
                f"{type(self).__name__}.spike_activity needs a built cell: call the layer "
                f"that holds it first. Received: a cell that is not built"
            )
        check_bool("go_backwards", go_backwards)
        sequences = ops.convert_to_tensor(sequences)
        features = self.input_kernel.shape[0]
        check_shape("sequences", sequences, (None, None, features), "(batch, time, features)")
        batch = sequences.shape[0]
        if mask is not None:
            mask = ops.convert_to_tensor(mask)
            check_shape("mask", mask, sequences.shape[:2], "(batch, time)")
            mask = ops.cast(mask, "bool")
        if initial_state is None:
            potential0, memory0 = (
                ops.zeros((ops.shape(sequences)[0], size), STATE_DTYPE)
                for size in self.state_size[1:]
            )
        else:
            states = list(initial_state)
            check_states(states, batch, self.state_size)
            potential0, memory0 = (ops.cast(state, STATE_DTYPE) for state in states[1:])
        if go_backwards:
            sequences = ops.flip(sequences, axis=1)
            mask = None if mask is None else ops.flip(mask, axis=1)
        if mask is None:
            potential = hsru_ops.linear_scan(
                self.decay(), self.input_current(sequences), potential0
            )
            spikes, memory = self.memory_scan(potential, memory0)
        else:
            potential, spikes, memory, _ = self._masked_states(sequences, mask, potential0, memory0)
        return {"potential": potential, "spikes": spikes, "memory": self.memory_count(memory)}

    def _masked_states(self, sequences, mask, potential0, memory0):
        """`(V, S, D, step)` of whole `sequences` under a boolean `(batch, time)` mask,
        from the float32 states `potential0` and `memory0`; `step` is the mask as
        float32 `(batch, time, 1)`. A masked step is the identity: decay 1, no
        input, no spike."""
        # What a masked step holds is never read, as in keras' RNN loop: zeroed
        # before the projection, a NaN or inf in padding reaches neither the
        # outputs nor the gradients (0 * NaN would be NaN).
        keep = ops.expand_dims(mask, -1)
        sequences = ops.where(keep, sequences, ops.zeros_like(sequences))
        step = ops.cast(keep, STATE_DTYPE)
        # Selected rather than mixed (decay * step + 1 - step): the same values,
        # and XLA on a CPU compiled the product into a train step twice as slow.
        decay = ops.where(keep, self.decay(), 1.0)
        current = ops.where(keep, self.input_current(sequences), 0.0)
        potential = hsru_ops.linear_scan(decay, current, potential0)
        spikes, memory = self.memory_scan(potential, memory0, step)
        return potential, spikes, memory, step

    def call(self, inputs, states, training=False):
        _, potential, memory = states
        state_dtype = potential.dtype
        potential = self.integrate(inputs, potential, training)
        memory = self.memory_step(ops.cast(memory, STATE_DTYPE), potential)
        output = self.readout(potential, memory)
        return output, [
            output,
            ops.cast(potential, state_dtype),
            ops.cast(memory, state_dtype),
        ]

    def get_config(self):
        config = {
            "surrogate_slope": self.surrogate_slope,
            "surrogate": self.surrogate,
            "memory_states": self.memory_states,
            "memory": self.memory,
        }
        config.update(self.serialize_weight_arguments(("threshold",)))
        return {**super().get_config(), **config}


# Arguments of `HSRUCell` that `HSRU` exposes as its own, in signature order.
CELL_ARGUMENTS = (
    "units",
    "surrogate_slope",
    "surrogate",
    "memory_states",
    "memory",
    "input_initializer",
    "output_initializer",
    "bias_initializer",
    "tau_initializer",
    "threshold_initializer",
    "input_regularizer",
    "output_regularizer",
    "bias_regularizer",
    "tau_regularizer",
    "threshold_regularizer",
    "input_constraint",
    "output_constraint",
    "bias_constraint",
    "tau_constraint",
    "threshold_constraint",
    "dropout",
    "seed",
)

IMPLEMENTATIONS = hsru_ops.IMPLEMENTATIONS


@keras.saving.register_keras_serializable(package="keras_hsru")
class HSRU(keras.layers.RNN):
    """Hybrid State Recurrent Unit layer, computed over whole sequences at once.

    Computes exactly what `keras.layers.RNN(HSRUCell(...))` computes (same
    weights in the same order, same states, same masking semantics), but
    without stepping through time: HSRU has no recurrent weight, so

    - the input and output projections are single matmuls over all steps,
    - the analog potential `V` is a linear recurrence with a constant
      per-unit decay, computed by a scan (`keras_hsru.ops.linear_scan`),
    - the digital memory `D` is the parity of the cumulative spike count
      (`keras_hsru.ops.xor_scan`), whose exact gradient is a reverse cumulative
      sum,
    - a fused path computes `V`, the spikes and `D` in one pass over the
      sequence and their gradients in one reverse pass
      (`keras_hsru.ops.hybrid_scan`): Triton kernels on torch with CUDA,
      Pallas kernels on JAX with a GPU, a sequential loop on JAX and in
      TensorFlow graphs on a CPU.

    Which algorithm runs on which backend and device, and so what each call
    runs, is decided in one place, `keras_hsru/ops/_algorithms.py` (the
    docs' "How it works" shows the table; `keras_hsru.ops.plan_call` the
    `Plan` of a call). Sequences with a mask use the composed scans with a per-step
    decay; where `keras_hsru.ops.right_padded_branch()` says so (TensorFlow
    graphs and torch, on a CPU), a batch padded at the end takes the unmasked path
    instead, with the same results. Where it is the faster (JAX, and TensorFlow graphs, on a CPU:
    `keras_hsru.ops.inference_chunk_length`), a call without training
    (`predict`, `training=False`) and without a mask runs chunk by chunk,
    projections and readout included, so that of its sequence-sized arrays
    only the outputs are allocated whole.

    The scan is numerically safe at any length (it only multiplies decays,
    never divides by them).

    Args:
        units: Positive integer, the number of HSRU units (output size).
        surrogate_slope: Positive finite float `k` of the spike's surrogate
            gradient. Default: `5.0`, or a `Surrogate`'s own.
        surrogate: As in `HSRUCell`: `"fast_sigmoid"` (default), `"sigmoid"`,
            `"triangle"` or `"arctan"`, or a `keras_hsru.ops.Surrogate`. The
            GPU kernels compute the fast sigmoid only; with another surrogate
            `"auto"` takes the composed scans there, and `"fused"` raises.
        memory_states: As in `HSRUCell`: `2` (default), the XOR bit; above 2
            a counter modulo k, computed by `keras_hsru.ops.counter_scan` (the
            composed scans: the fused paths compute the XOR bit only, so
            `implementation="fused"` raises).
        memory: As in `HSRUCell`: `"toggle"` (default), `"latch"` (a
            set/reset flip-flop) or `"reset"` (a count modulo k that V adds
            to or sets by several counts a step, computed by
            `keras_hsru.ops.reset_counter_scan`); the latch and the reset
            counter take the composed scans, as a counter does.
        input_initializer: As in `HSRUCell`.
        output_initializer: As in `HSRUCell`.
        bias_initializer: As in `HSRUCell`.
        tau_initializer: As in `HSRUCell`.
        threshold_initializer: As in `HSRUCell`.
        input_regularizer: As in `HSRUCell`.
        output_regularizer: As in `HSRUCell`.
        bias_regularizer: As in `HSRUCell`.
        tau_regularizer: As in `HSRUCell`.
        threshold_regularizer: As in `HSRUCell`.
        activity_regularizer: Regularizer applied to the layer's output.
        spike_rate_regularizer: Optional
            `keras_hsru.regularizers.SpikeRateRegularizer`: in training calls
            the layer adds its penalty on each unit's spike rate (averaged
            over the batch and the unmasked steps) to the loss, through the
            surrogate gradient. Not with `implementation="loop"` (keras' step
            loop sees one step at a time; a `ValueError`), and so not on a
            bare `HSRUCell` in `keras.layers.RNN`.
        input_constraint: As in `HSRUCell`.
        output_constraint: As in `HSRUCell`.
        bias_constraint: As in `HSRUCell`.
        tau_constraint: As in `HSRUCell`.
        threshold_constraint: As in `HSRUCell`.
        dropout: Float in [0, 1), input dropout (one mask per sequence).
        seed: Random seed for dropout and the default `tau` initializer.
        return_sequences: Whether to return the whole output sequence or only
            the last output. Default: `False`.
        return_state: Whether to return the final states `[y, V, D]` after the
            output. Default: `False`.
        go_backwards: If `True`, process the sequence backwards and return the
            reversed sequence. Default: `False`.
        stateful: If `True`, the final states of each batch are the initial
            states of the next (`reset_states()` zeroes them). Feeding a
            sequence in chunks then gives the outputs of feeding it whole.
        unroll: Only used by `implementation="loop"`, as in `keras.layers.RNN`.
        implementation: `"auto"` (default: the faster of `"fused"` and
            `"scan"` on this backend and device, see
            `keras_hsru.ops.hybrid_scan`), `"fused"` (V, the spikes and D in
            one pass over the sequence and the gradients in one reverse pass:
            Triton kernels on torch with CUDA, Pallas kernels on JAX with a
            GPU, a sequential scan on TensorFlow and on JAX with a CPU; a
            ValueError at call time where the backend has none for the
            device), `"scan"` (the composed scans, on every backend and
            device) or `"loop"` (keras' step-by-step RNN loop over
            `HSRUCell`, the reference).
            Masked sequences take the composed scans under `"auto"` and
            `"fused"` (a mask makes the decay vary per step). Like
            `keras.layers.LSTM(use_cudnn=True)`, a model saved with
            `"fused"` keeps it: loaded where no fused kernel runs, it raises
            at call time.
        **kwargs: Standard layer arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        sequences: A 3D tensor `(batch, time, features)`.
        initial_state: Optional list `[y, V, D]` of the cell's state shapes:
            `(batch, units)`, and `(batch, (k - 1) * units)` for a k-state `D`.
        mask: Optional boolean tensor `(batch, time)`; masked steps leave the
            states unchanged and repeat the previous output.
        training: Python boolean, whether dropout is applied.

    Returns:
        The last output `(batch, units)`, or all outputs
        `(batch, time, units)` if `return_sequences`; followed by the final
        states `y, V, D` if `return_state`.

    Examples:
        >>> inputs = keras.random.uniform((32, 1000, 8))
        >>> hsru = keras_hsru.HSRU(16, return_sequences=True, return_state=True)
        >>> outputs, y, v, d = hsru(inputs)
        >>> tuple(outputs.shape), tuple(d.shape)
        ((32, 1000, 16), (32, 16))
    """

    # What a subclass changes to run a variant of the cell over whole sequences:
    # its cell class and the extra cell arguments it accepts.
    cell_class = HSRUCell
    cell_name = "hsru_cell"
    extra_cell_arguments = ()

    def __init__(
        self,
        units: int,
        surrogate_slope: float | None = None,
        surrogate: "str | hsru_ops.Surrogate" = "fast_sigmoid",
        memory_states: int = 2,
        memory: str = "toggle",
        input_initializer="glorot_uniform",
        output_initializer="glorot_uniform",
        bias_initializer="zeros",
        tau_initializer=None,
        threshold_initializer=None,
        input_regularizer=None,
        output_regularizer=None,
        bias_regularizer=None,
        tau_regularizer=None,
        threshold_regularizer=None,
        activity_regularizer=None,
        spike_rate_regularizer=None,
        input_constraint=None,
        output_constraint=None,
        bias_constraint=None,
        tau_constraint=None,
        threshold_constraint=None,
        dropout: float = 0.0,
        seed: int | None = None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        implementation: str = "auto",
        **kwargs,
    ):
        for name, value in (
            ("return_sequences", return_sequences),
            ("return_state", return_state),
            ("go_backwards", go_backwards),
            ("stateful", stateful),
            ("unroll", unroll),
        ):
            check_bool(name, value)
        # A subclass's own cell arguments (AttentiveHSRU's) come through kwargs.
        extra_arguments = {
            name: kwargs.pop(name) for name in self.extra_cell_arguments if name in kwargs
        }
        cell = self.cell_class(
            units=units,
            surrogate_slope=surrogate_slope,
            surrogate=surrogate,
            memory_states=memory_states,
            memory=memory,
            input_initializer=input_initializer,
            output_initializer=output_initializer,
            bias_initializer=bias_initializer,
            tau_initializer=tau_initializer,
            threshold_initializer=threshold_initializer,
            input_regularizer=input_regularizer,
            output_regularizer=output_regularizer,
            bias_regularizer=bias_regularizer,
            tau_regularizer=tau_regularizer,
            threshold_regularizer=threshold_regularizer,
            input_constraint=input_constraint,
            output_constraint=output_constraint,
            bias_constraint=bias_constraint,
            tau_constraint=tau_constraint,
            threshold_constraint=threshold_constraint,
            dropout=dropout,
            seed=seed,
            **extra_arguments,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name=self.cell_name,
        )
        if cell.quantization_mode:
            # A quantized cell's policy, saved as the layer's (`get_config`):
            # the layer itself holds no kernel and runs in the source policy.
            kwargs["dtype"] = cell.dtype_policy.name.split("_from_", 1)[1]
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self.implementation = check_choice("implementation", implementation, IMPLEMENTATIONS)
        if not cell.is_xor_bit and implementation == "fused":
            raise ValueError(
                "The fused paths compute the XOR memory (memory_states=2, memory='toggle') "
                "only: use implementation 'auto' or 'scan' for a k-state memory or a latch. "
                f"Received: implementation='fused' with memory_states={cell.memory_states}, "
                f"memory={cell.memory!r}"
            )
        self.spike_rate_regularizer = hsru_regularizers.get(spike_rate_regularizer)
        if self.spike_rate_regularizer is not None and implementation == "loop":
            raise ValueError(
                "`spike_rate_regularizer` penalises the spike rate of whole sequences, which "
                "keras' step loop does not see: use implementation 'auto', 'scan' or 'fused'. "
                "Received: implementation='loop' with a spike_rate_regularizer"
            )
        self.input_spec = keras.layers.InputSpec(ndim=3)

    # Like keras' LSTM, the layer exposes its cell's arguments as read-only properties.
    @property
    def units(self):
        return self.cell.units

    @property
    def surrogate_slope(self):
        return self.cell.surrogate_slope

    @property
    def surrogate(self):
        return self.cell.surrogate

    @property
    def memory_states(self):
        return self.cell.memory_states

    @property
    def memory(self):
        return self.cell.memory

    @property
    def input_initializer(self):
        return self.cell.input_initializer

    @property
    def output_initializer(self):
        return self.cell.output_initializer

    @property
    def bias_initializer(self):
        return self.cell.bias_initializer

    @property
    def tau_initializer(self):
        return self.cell.tau_initializer

    @property
    def threshold_initializer(self):
        return self.cell.threshold_initializer

    @property
    def input_regularizer(self):
        return self.cell.input_regularizer

    @property
    def output_regularizer(self):
        return self.cell.output_regularizer

    @property
    def bias_regularizer(self):
        return self.cell.bias_regularizer

    @property
    def tau_regularizer(self):
        return self.cell.tau_regularizer

    @property
    def threshold_regularizer(self):
        return self.cell.threshold_regularizer

    @property
    def input_constraint(self):
        return self.cell.input_constraint

    @property
    def output_constraint(self):
        return self.cell.output_constraint

    @property
    def bias_constraint(self):
        return self.cell.bias_constraint

    @property
    def tau_constraint(self):
        return self.cell.tau_constraint

    @property
    def threshold_constraint(self):
        return self.cell.threshold_constraint

    @property
    def dropout(self):
        return self.cell.dropout

    @property
    def seed(self):
        return self.cell.seed

    def quantize(self, mode=None, type_check=True, config=None):
        """Quantizes the cell's kernels (`HSRUCell.quantize`); `Model.quantize`
        reaches the cell itself. The layer holds no kernel of its own."""
        self.cell.quantize(mode, type_check=type_check, config=config)

    def build(self, sequences_shape, initial_state_shape=None):
        super().build(sequences_shape, initial_state_shape)
        self.input_spec = keras.layers.InputSpec(ndim=3, axes={-1: sequences_shape[-1]})

    @property
    def variables(self):
        # keras creates a stateful RNN's state variables outside its tracking, so
        # JAX's stateless calls (`predict_on_batch`, `fit`) drop their updates.
        # Listed here they are non-trainable variables that those calls carry,
        # and still not weights: `get_weights`, saving and `set_weights` from
        # `RNN(HSRUCell)` are unchanged.
        variables = super().variables
        if self.stateful and self.states is not None:
            seen = {id(v) for v in variables}
            variables += [v for v in self.states if id(v) not in seen]
        return variables

    def call(self, sequences, initial_state=None, mask=None, training=False):
        self._check_call_arguments(sequences, initial_state, mask)
        if hsru_ops.fixed_length_trace():
            length, features = sequences.shape[1], sequences.shape[2]
            warnings.warn(
                f"{type(self).__name__} is being traced by torch (ONNX export, torch.jit.trace) "
                f"at sequence length {int(length)}: the traced graph computes sequences of that "
                "length only and gives wrong results at any other (keras' own LSTM does the "
                "same). Export with a static time axis, e.g. model.export(path, format='onnx', "
                f"input_signature=[keras.InputSpec(shape=(None, L, {int(features)}))]), and feed "
                "sequences of length L.",
                stacklevel=2,
            )
        return super().call(sequences, initial_state=initial_state, mask=mask, training=training)

    def spike_activity(self, sequences, initial_state=None, mask=None) -> dict:
        """The potential, spikes and memory at every step, as this layer computes them.

        `HSRUCell.spike_activity` with this layer's direction; a stateful
        layer starts from its current states (and leaves them as they are).

        Args:
            sequences: A 3D tensor `(batch, time, features)`.
            initial_state: Optional list `[y, V, D]` of the cell's state shapes.
            mask: Optional boolean tensor `(batch, time)`.

        Returns:
            A dict of float32 tensors `(batch, time, units)`: `"potential"`,
            `"spikes"` and `"memory"`.

        Examples:
            >>> layer = keras_hsru.HSRU(4)
            >>> x = keras.random.normal((2, 50, 3))
            >>> _ = layer(x)
            >>> activity = layer.spike_activity(x)
            >>> sorted(activity)
            ['memory', 'potential', 'spikes']
        """
        if initial_state is None and self.stateful and self.states is not None:
            initial_state = list(self.states)
        return self.cell.spike_activity(
            sequences, initial_state=initial_state, mask=mask, go_backwards=self.go_backwards
        )

    def _check_call_arguments(self, sequences, initial_state, mask):
        """Raises a ValueError naming the shape where a call argument cannot fit."""
        dtype = keras.backend.standardize_dtype(sequences.dtype)
        if not dtype.startswith(("float", "bfloat", "int", "uint", "bool")):
            raise ValueError(
                "`sequences` must hold numbers (cast to the compute dtype) or booleans. "
                f"Received: sequences.dtype={dtype}"
            )
        batch, length = sequences.shape[0], sequences.shape[1]
        if length == 0:
            raise ValueError(
                "`sequences` must have at least one time step. "
                f"Received: sequences.shape={tuple(sequences.shape)}"
            )
        if initial_state is not None:
            states = (
                list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            )
            check_states(states, batch, self.cell.state_size)
        if mask is not None:
            mask = mask[0] if isinstance(mask, (list, tuple)) else mask
            check_shape("mask", mask, (batch, length), "(batch, time)")

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        # What runs is decided in one place, `keras_hsru.ops.plan_call`.
        plan = hsru_ops.plan_call(
            self.implementation,
            xor_bit=self.cell.is_xor_bit,
            masked=mask is not None,
            training=bool(training),
        )
        if plan.step_loop:
            return super().inner_loop(sequences, initial_state, mask, training=training)
        return self.scan(sequences, initial_state, mask, training, plan)

    def scan(self, sequences, initial_state, mask, training, plan):
        """The whole sequence at once, as `plan` (a `keras_hsru.ops.Plan`) says;
        returns `(last_output, outputs, states)`."""
        cell = self.cell
        initial_output, initial_potential, initial_memory = initial_state
        if self.go_backwards:
            sequences = ops.flip(sequences, axis=1)
            mask = None if mask is None else ops.flip(mask, axis=1)
        if training and cell.dropout > 0:
            dropout_mask = cell.get_dropout_mask(sequences[:, 0, :])
            sequences = sequences * ops.expand_dims(dropout_mask, 1)
        initial_states = (
            ops.cast(initial_potential, STATE_DTYPE),
            ops.cast(initial_memory, STATE_DTYPE),
        )

        unmasked_scan = functools.partial(self._unmasked_scan, fused=plan.fused)
        if mask is None:
            if plan.forward_chunk_length is None:
                final_states, outputs = unmasked_scan(
                    initial_states, sequences, regularize=training
                )
            else:
                # A forward pass chunk by chunk, where that is the faster;
                # differentiable too, so gradients of a `training=False` call
                # stay right.
                final_states, outputs = hsru_ops.scan_in_chunks(
                    unmasked_scan, initial_states, sequences, plan.forward_chunk_length
                )
            if self.return_sequences:
                last_output = outputs[:, -1]
            else:
                # Only the last output is needed.
                last_output = cell.readout(*final_states)
                outputs = ops.expand_dims(last_output, 1)
            return last_output, outputs, [last_output, *final_states]

        regularize = training and self.spike_rate_regularizer is not None
        arguments = (initial_output, initial_states, sequences, mask, regularize)
        if plan.mask_route == "masked scan":
            results = self._masked_scan(*arguments)
        else:
            # Sequences padded at the end (the common case) take the unmasked
            # scan, fused where the plan says: a padding step comes after
            # every step that is read, so it changes nothing upstream.
            results = ops.cond(
                right_padded(mask),
                lambda: self._right_padded_scan(*arguments, fused=plan.fused),
                lambda: self._masked_scan(*arguments),
            )
        if regularize:
            # Added out of the branches, whose tensors a backend may not let out.
            self._add_spike_rate_loss(results[-1])
        return results[:3]

    def _unmasked_scan(self, initial_states, sequences, regularize=False, fused=None):
        """`((V, D) after the last step, outputs or None)` of unmasked `sequences`
        from `initial_states` (V, D); outputs only if `return_sequences`. With
        `regularize`, adds the spike rate penalty. `fused` as in `Plan`."""
        states = self._unmasked_states(initial_states, sequences, fused)
        potential, memory = states[:2]
        if regularize and self.spike_rate_regularizer is not None:
            # The spikes again, from V, with the surrogate gradient: the fused
            # paths return V and D only, and V's gradient carries the penalty's.
            self._add_spike_rate_loss(ops.mean(self.cell.spike_count(potential), axis=(0, 1)))
        outputs = self.cell.readout(*states[-2:]) if self.return_sequences else None
        return (potential[:, -1], memory[:, -1]), outputs

    def _unmasked_states(self, initial_states, sequences, fused):
        """V and D at every step of unmasked `sequences` from `initial_states`,
        then, under mixed precision with `return_sequences`, their copies for
        the readout in the compute dtype where the fused kernels write them.
        `fused` as in `Plan` (False for a memory other than the XOR bit)."""
        cell = self.cell
        # Under mixed precision the scan takes I as the matmul leaves it and
        # hands back V and D for the readout in the compute dtype too: the GPU
        # kernels read and write those in the same pass, instead of casts.
        half = cell.compute_dtype in hsru_ops.HALF_DTYPES
        readout_dtype = cell.compute_dtype if half and self.return_sequences else None
        if cell.is_xor_bit:
            states = hsru_ops.hybrid_scan(
                cell.decay(),
                cell.input_current(sequences, dtype=None if half else STATE_DTYPE),
                ops.cast(cell.threshold, STATE_DTYPE),
                None,
                *initial_states,
                fused=fused,
                surrogate=cell.spike_surrogate,
                readout_dtype=readout_dtype,
            )
        else:
            potential0, memory0 = initial_states
            potential = hsru_ops.linear_scan(
                cell.decay(), cell.input_current(sequences), potential0
            )
            states = (potential, cell.memory_scan(potential, memory0)[1])
        return states

    def _add_spike_rate_loss(self, rates):
        self.add_loss(ops.cast(self.spike_rate_regularizer(rates), "float32"))

    def _right_padded_scan(
        self, initial_output, initial_states, sequences, mask, regularize, fused=None
    ):
        """`_masked_scan` where each row's mask is unmasked steps then masked ones;
        `fused` as in `Plan`."""
        cell = self.cell
        step = ops.expand_dims(ops.cast(mask, STATE_DTYPE), -1)
        # Zeroed, padding (even NaN) reaches neither the read states nor,
        # through the scans' reverse passes, the gradients.
        sequences = ops.where(ops.expand_dims(mask, -1), sequences, ops.zeros_like(sequences))
        states = self._unmasked_states(initial_states, sequences, fused)
        potential, memory = states[:2]
        # A row's last unmasked step: 1 there, 0 elsewhere (all 0 in an empty row).
        following = ops.concatenate([step[:, 1:], ops.zeros_like(step[:, :1])], axis=1)
        last_step = step - following
        any_step = ops.any(mask, axis=1, keepdims=True)
        final_potential = ops.where(
            any_step, ops.sum(potential * last_step, axis=1), initial_states[0]
        )
        final_memory = ops.where(any_step, ops.sum(memory * last_step, axis=1), initial_states[1])
        if self.return_sequences:
            # A masked step repeats the last unmasked step's output, or the
            # initial one in a row without a step.
            outputs = ops.cast(cell.readout(*states[-2:]), STATE_DTYPE)
            last_output = ops.where(
                any_step,
                ops.sum(outputs * last_step, axis=1),
                ops.cast(initial_output, STATE_DTYPE),
            )
            outputs = ops.where(ops.expand_dims(mask, -1), outputs, ops.expand_dims(last_output, 1))
        else:
            last_output = ops.where(
                any_step, cell.readout(final_potential, final_memory), initial_output
            )
            outputs = ops.expand_dims(last_output, 1)
        results = (last_output, outputs, [last_output, final_potential, final_memory])
        if regularize:
            results += (masked_spike_rates(cell.spike_count(potential) * step, step),)
        return results

    def _masked_scan(self, initial_output, initial_states, sequences, mask, regularize):
        """`(last_output, outputs, states)` of `sequences` under a (batch, time)
        mask, then, with `regularize`, the spike rates to penalise."""
        cell = self.cell
        potential, spikes, memory, step = cell._masked_states(sequences, mask, *initial_states)
        final_potential, final_memory = potential[:, -1], memory[:, -1]

        if self.return_sequences:
            # A masked step repeats the previous output. V and D hold at masked
            # steps, so the readout there is the last unmasked step's output
            # already; before a row's first unmasked step it is the initial one.
            started = ops.cumsum(step, axis=1) > 0
            outputs = ops.where(
                started,
                ops.cast(cell.readout(potential, memory), STATE_DTYPE),
                ops.expand_dims(ops.cast(initial_output, STATE_DTYPE), 1),
            )
            last_output = outputs[:, -1]
        else:
            # Only the last output is needed; the final V and D already are
            # those of the last unmasked step.
            last_output = cell.readout(final_potential, final_memory)
            any_step = ops.any(mask, axis=1, keepdims=True)
            last_output = ops.where(any_step, last_output, initial_output)
            outputs = ops.expand_dims(last_output, 1)
        results = (last_output, outputs, [last_output, final_potential, final_memory])
        if regularize:
            results += (masked_spike_rates(spikes, step),)
        return results

    def get_config(self):
        cell_config = self.cell.get_config()
        config = {name: cell_config[name] for name in CELL_ARGUMENTS + self.extra_cell_arguments}
        config["implementation"] = self.implementation
        config["spike_rate_regularizer"] = (
            None
            if self.spike_rate_regularizer is None
            else keras.saving.serialize_keras_object(self.spike_rate_regularizer)
        )
        base_config = super().get_config()
        del base_config["cell"]
        if self.cell.quantization_mode:
            # The cell's weights are int8 (`Model.quantize`): it is built so again.
            base_config["dtype"] = keras.dtype_policies.serialize(self.cell.dtype_policy)
        return {**base_config, **config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def masked_spike_rates(spikes, step):
    """Each unit's spikes per unmasked step, `step` the mask as float32 `(batch, time, 1)`."""
    steps = ops.maximum(ops.sum(step, axis=(0, 1)), 1.0)
    return ops.sum(spikes, axis=(0, 1)) / steps


def right_padded(mask):
    """Whether no row of a boolean `(batch, time)` mask has an unmasked step after a masked one."""
    mask = ops.cast(mask, "int32")
    return ops.all(mask[:, 1:] <= mask[:, :-1])
