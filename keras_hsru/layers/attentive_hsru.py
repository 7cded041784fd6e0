"""The paper's proposed future work: HSRU with a learned feature-attention gate on its input."""

import warnings

import keras
from keras import constraints, initializers, ops, regularizers

from keras_hsru import ops as hsru_ops
from keras_hsru._validation import check_positive_finite
from keras_hsru.layers.hsru import HSRU, HSRUCell
from keras_hsru.layers.leaky_integrator import STATE_DTYPE

ATTENTION_ARGUMENTS = (
    "attention_sharpness",
    "attention_initializer",
    "attention_regularizer",
    "attention_constraint",
)


@keras.saving.register_keras_serializable(package="keras_hsru")
class AttentiveHSRUCell(HSRUCell):
    """Cell class for AttentiveHSRU: an `HSRUCell` that first weighs its input features.

    A learned vector of per-feature logits `a` gives attention weights
    `g = input_dim * softmax(sharpness * a)` (all ones at initialization), and
    the cell integrates `g * x_t` instead of `x_t`:

    ```
    I_t = (g * x_t) W_in + b_in
    ```

    The rest is `HSRUCell`. The softmax makes the features compete for one
    unit of attention, so the gate can learn to pass the feature that carries
    the signal and shut the distractors out before `W_in` blends them in. The
    sharpness multiplies the logits' learning speed: with the default 10, the
    gate settles on the signal feature within the first short stages of a
    parity curriculum (`examples/embedded_parity.py`; with 1 it did not).

    The weights are those of `HSRUCell` followed by
    `feature_attention (input_dim,)`, the logits `a`.

    With one input feature the gate is exactly 1 (the softmax of one logit)
    and its logit gets no gradient: the cell is `HSRUCell`, and building it
    warns.

    Args:
        units: Positive integer, the number of units (output size).
        attention_sharpness: Positive finite float that scales the logits
            before the softmax. Default: `10.0`.
        attention_initializer: Initializer for the logits. Default: zeros
            (every feature weighted 1).
        attention_regularizer: Optional regularizer for the logits.
        attention_constraint: Optional constraint for the logits.
        **kwargs: The arguments of `HSRUCell`.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, one time step.
        states: A list `[y, V, D]`, as in `HSRUCell`.
        training: Python boolean, whether dropout is applied.

    Returns:
        `(y, [y, V, D])`: the step output and the new states.

    Examples:
        >>> rnn = keras.layers.RNN(keras_hsru.AttentiveHSRUCell(4))
        >>> tuple(rnn(keras.random.uniform((32, 10, 8))).shape)
        (32, 4)
    """

    def __init__(
        self,
        units: int,
        attention_sharpness: float = 10.0,
        attention_initializer="zeros",
        attention_regularizer=None,
        attention_constraint=None,
        **kwargs,
    ):
        super().__init__(units, **kwargs)
        self.attention_sharpness = check_positive_finite("attention_sharpness", attention_sharpness)
        self.attention_initializer = initializers.get(attention_initializer)
        self.attention_regularizer = regularizers.get(attention_regularizer)
        self.attention_constraint = constraints.get(attention_constraint)

    def build(self, input_shape):
        super().build(input_shape)
        if input_shape[-1] == 1:
            warnings.warn(
                f"{type(self).__name__} with one input feature computes what HSRUCell "
                "computes: the softmax of one logit is 1, so the gate is exactly 1 and its "
                "logit gets no gradient. Use keras_hsru.HSRU (or HSRUCell) for univariate "
                "sequences. Received: inputs with 1 feature",
                stacklevel=2,
            )
        self.feature_attention = self.add_weight(
            shape=(input_shape[-1],),
            name="feature_attention",
            initializer=self.attention_initializer,
            regularizer=self.attention_regularizer,
            constraint=self.attention_constraint,
        )

    def attention(self):
        """The per-feature weights `g = input_dim * softmax(sharpness * a)`, summing to `input_dim`."""
        logits = self.feature_attention
        return ops.softmax(self.attention_sharpness * logits) * ops.cast(
            ops.shape(logits)[0], logits.dtype
        )

    def input_current(self, inputs, dtype: str | None = STATE_DTYPE):
        return super().input_current(inputs * self.attention(), dtype)

    def get_config(self):
        config = {"attention_sharpness": self.attention_sharpness}
        config.update(self.serialize_weight_arguments(("attention",)))
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="keras_hsru")
class AttentiveHSRU(HSRU):
    """AttentiveHSRU layer: `HSRU` over whole sequences with a feature-attention gate.

    Computes what `keras.layers.RNN(AttentiveHSRUCell(...))` computes, with
    the same whole-sequence algorithms as `HSRU` (the gate is one elementwise
    product before the input projection). Use it where the input holds
    distractor features beside the signal, as in
    `keras_hsru.tasks.EmbeddedParity`.

    Args:
        units: Positive integer, the number of units (output size).
        attention_sharpness: As in `AttentiveHSRUCell`.
        attention_initializer: As in `AttentiveHSRUCell`.
        attention_regularizer: As in `AttentiveHSRUCell`.
        attention_constraint: As in `AttentiveHSRUCell`.
        surrogate_slope, surrogate, memory_states, memory, the initializers,
            regularizers and constraints, dropout, seed, return_sequences,
            return_state, go_backwards, stateful, unroll, implementation:
            As in `HSRU`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        sequences: A 3D tensor `(batch, time, features)`.
        initial_state: Optional list `[y, V, D]`, as in `HSRU`.
        mask: Optional boolean tensor `(batch, time)`.
        training: Python boolean, whether dropout is applied.

    Returns:
        As `HSRU`.

    Examples:
        >>> layer = keras_hsru.AttentiveHSRU(16)
        >>> tuple(layer(keras.random.uniform((32, 100, 17))).shape)
        (32, 16)
    """

    cell_class = AttentiveHSRUCell
    cell_name = "attentive_hsru_cell"
    extra_cell_arguments = ATTENTION_ARGUMENTS

    def __init__(
        self,
        units: int,
        attention_sharpness: float = 10.0,
        attention_initializer="zeros",
        attention_regularizer=None,
        attention_constraint=None,
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
        super().__init__(
            units,
            attention_sharpness=attention_sharpness,
            attention_initializer=attention_initializer,
            attention_regularizer=attention_regularizer,
            attention_constraint=attention_constraint,
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
            activity_regularizer=activity_regularizer,
            spike_rate_regularizer=spike_rate_regularizer,
            input_constraint=input_constraint,
            output_constraint=output_constraint,
            bias_constraint=bias_constraint,
            tau_constraint=tau_constraint,
            threshold_constraint=threshold_constraint,
            dropout=dropout,
            seed=seed,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            implementation=implementation,
            **kwargs,
        )

    @property
    def attention_sharpness(self):
        return self.cell.attention_sharpness

    @property
    def attention_initializer(self):
        return self.cell.attention_initializer

    @property
    def attention_regularizer(self):
        return self.cell.attention_regularizer

    @property
    def attention_constraint(self):
        return self.cell.attention_constraint
