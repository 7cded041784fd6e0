"""The part HSRU and its AnalogOnly ablation share: a leaky integrator read out by tanh."""

import keras
from keras import constraints, initializers, ops, regularizers

# Keras' RNN layer prepares and resets the dropout masks of cells that inherit
# this mixin; it is not exported under `keras.layers`.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

from keras_hsru import ops as hsru_ops
from keras_hsru._validation import check_choice, check_rate, check_step_input_shape, check_units

# The analog and digital states are integrated in float32 whatever the dtype
# policy: a long leaky sum or a 0/1 memory has no business in float16.
STATE_DTYPE = "float32"

_WEIGHT_GROUPS = ("input", "output", "bias", "tau")
# The weights `quantize("int8")` stores as int8, each with a float scale per unit.
QUANTIZED_KERNELS = ("input_kernel", "output_kernel")


def decay_from_tau(tau):
    """alpha = exp(-softplus(tau)), in (0, 1) for any tau."""
    return ops.exp(-ops.softplus(tau))


class LeakyIntegratorCell(keras.layers.Layer, DropoutRNNCell):
    """Base of the HSRU cells: `I = x W_in + b_in`, `V_t = alpha V_{t-1} + I_t`.

    Owns the weights and arguments both cells share and the float32 state
    arithmetic. Subclasses say how many units the readout sees
    (`readout_width`), add their own weights in `build_state_weights`, and
    implement `call`. Not a public layer.
    """

    readout_width = 1  # multiples of `units` that W_out reads

    def __init__(
        self,
        units,
        input_initializer="glorot_uniform",
        output_initializer="glorot_uniform",
        bias_initializer="zeros",
        tau_initializer=None,
        input_regularizer=None,
        output_regularizer=None,
        bias_regularizer=None,
        tau_regularizer=None,
        input_constraint=None,
        output_constraint=None,
        bias_constraint=None,
        tau_constraint=None,
        dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_units(units)
        self.input_initializer = initializers.get(input_initializer)
        self.output_initializer = initializers.get(output_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.tau_initializer = initializers.get(
            tau_initializer or initializers.RandomUniform(-2.0, 2.0, seed=seed)
        )
        self.input_regularizer = regularizers.get(input_regularizer)
        self.output_regularizer = regularizers.get(output_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.tau_regularizer = regularizers.get(tau_regularizer)
        self.input_constraint = constraints.get(input_constraint)
        self.output_constraint = constraints.get(output_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.tau_constraint = constraints.get(tau_constraint)
        self.dropout = check_rate("dropout", dropout)
        # There is no recurrent weight to drop; DropoutRNNCell reads this.
        self.recurrent_dropout = 0.0
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.output_size = self.units

    def add_state_weight(self, name, initializer, regularizer, constraint):
        """A per-unit weight that acts on the float32 state: never autocast."""
        return self.add_weight(
            shape=(self.units,),
            name=name,
            initializer=initializer,
            regularizer=regularizer,
            constraint=constraint,
            autocast=False,
        )

    def build(self, input_shape):
        check_step_input_shape(self.__class__.__name__, input_shape)
        input_dim = input_shape[-1]
        # A quantized policy (a model saved after `quantize("int8")`) gets the
        # int8 kernels, last, in the order `quantize` leaves them.
        quantized = self.quantization_mode is not None
        if quantized and self.quantization_mode != "int8":
            raise self._quantization_mode_error(self.quantization_mode)
        if not quantized:
            self.input_kernel = self.add_weight(
                shape=(input_dim, self.units),
                name="input_kernel",
                initializer=self.input_initializer,
                regularizer=self.input_regularizer,
                constraint=self.input_constraint,
            )
        self.input_bias = self.add_weight(
            shape=(self.units,),
            name="input_bias",
            initializer=self.bias_initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )
        self.tau = self.add_state_weight(
            "tau", self.tau_initializer, self.tau_regularizer, self.tau_constraint
        )
        self.build_state_weights()
        if not quantized:
            self.output_kernel = self.add_weight(
                shape=(self.readout_width * self.units, self.units),
                name="output_kernel",
                initializer=self.output_initializer,
                regularizer=self.output_regularizer,
                constraint=self.output_constraint,
            )
        self.output_bias = self.add_weight(
            shape=(self.units,),
            name="output_bias",
            initializer=self.bias_initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )
        if quantized:
            self._int8_build(input_dim)
        self.input_spec = keras.layers.InputSpec(ndim=2, axes={-1: input_dim})
        self.built = True

    def _int8_build(self, input_dim):
        self.input_kernel, self.input_kernel_scale = self._int8_weights(
            "input_kernel", (input_dim, self.units)
        )
        self.output_kernel, self.output_kernel_scale = self._int8_weights(
            "output_kernel", (self.readout_width * self.units, self.units)
        )
        self._is_quantized = True

    def _int8_weights(self, name, shape):
        """An int8 kernel and its float scale per unit, not trained."""
        kernel = self.add_weight(
            shape=shape, name=name, initializer="zeros", dtype="int8", trainable=False
        )
        scale = self.add_weight(
            shape=(self.units,), name=f"{name}_scale", initializer="ones", trainable=False
        )
        return kernel, scale

    def quantize(self, mode=None, type_check=True, config=None):
        """Stores `W_in` and `W_out` as int8 (`mode="int8"`), as `Model.quantize` asks.

        Each kernel becomes int8 values with a float scale per unit (keras'
        `AbsMaxQuantizer(axis=0)`, or the weight quantizer of `config`), and
        the cell's dtype policy `"int8_from_..."`. The cell computes as before
        with the kernels those values stand for: the states V and D stay
        float32 and the inputs are not quantized. Other modes raise
        `NotImplementedError`, which `Model.quantize` reports as a warning,
        leaving the cell as it was.
        """
        if mode != "int8":
            raise self._not_implemented_error(
                self.quantize, f"It quantizes in mode 'int8' only. Received: mode={mode!r}"
            )
        quantizer = keras.quantizers.QuantizationConfig.weight_quantizer_or_default(
            config, keras.quantizers.AbsMaxQuantizer(axis=0)
        )
        input_dim = self.input_kernel.shape[0]
        quantized = {}
        for name in QUANTIZED_KERNELS:
            values, scale = quantizer(getattr(self, name), to_numpy=True)
            quantized[name] = (values, ops.squeeze(scale, axis=0))
            delattr(self, name)
        self._int8_build(input_dim)
        for name, (values, scale) in quantized.items():
            getattr(self, name).assign(values)
            getattr(self, f"{name}_scale").assign(scale)
        self.dtype_policy = keras.dtype_policies.get(f"int8_from_{self.dtype_policy.name}")

    def _int8_call(self, *args, **kwargs):
        # `kernel()` reads the int8 kernels: the step is the float one.
        return self.call(*args, **kwargs)

    def kernel(self, name):
        """`W_in` (`"input_kernel"`) or `W_out` (`"output_kernel"`) in the compute
        dtype; after `quantize("int8")`, the values its int8 weights stand for."""
        weight = getattr(self, check_choice("name", name, QUANTIZED_KERNELS))
        if not self.quantization_mode:
            return weight
        # `/`, not `ops.divide`: torch's ONNX exporter has no `aten::divide`.
        scale = getattr(self, f"{name}_scale")
        return ops.cast(weight, self.compute_dtype) / ops.cast(scale, self.compute_dtype)

    def build_state_weights(self):
        """Adds the weights that sit between `tau` and `output_kernel`."""

    # The pieces below serve both the step-by-step cell and whole sequences.

    def input_current(self, inputs, dtype: str | None = STATE_DTYPE):
        """I = x W_in + b_in, for one step or a whole sequence, in float32
        (or `dtype`; None: the compute dtype, as the matmul leaves it)."""
        current = hsru_ops.matmul_rows(inputs, self.kernel("input_kernel")) + self.input_bias
        return current if dtype is None else ops.cast(current, dtype)

    def decay(self):
        return decay_from_tau(ops.cast(self.tau, STATE_DTYPE))

    def readout(self, *states):
        """y = tanh(W_out [states...] + b_out), in the compute dtype.

        For whole sequences each state meets its own block of W_out's rows and
        the products are summed (`keras_hsru.ops.tanh_dense`): the matmul of
        the concatenated states without writing that (batch, time, width *
        units) copy forward and its gradient backward. A single step keeps
        the one matmul: there the split adds ops per step, which TensorFlow's
        step loop pays for.
        """
        states = [ops.cast(state, self.compute_dtype) for state in states]
        if len(states[0].shape) == 3:
            # A state wider than `units` (a k-state memory's channels) is
            # read as its blocks of `units`, as the rows of W_out are.
            states = [
                block
                for state in states
                for block in (
                    [state]
                    if state.shape[-1] == self.units
                    else [
                        state[..., start : start + self.units]
                        for start in range(0, state.shape[-1], self.units)
                    ]
                )
            ]
        output_kernel = self.kernel("output_kernel")
        if len(states) > 1 and len(states[0].shape) == 3:
            rows = [
                output_kernel[index * self.units : (index + 1) * self.units]
                for index in range(len(states))
            ]
            return hsru_ops.tanh_dense(states, rows, self.output_bias)
        features = states[0] if len(states) == 1 else ops.concatenate(states, axis=-1)
        return hsru_ops.tanh_dense([features], [output_kernel], self.output_bias)

    def integrate(self, inputs, potential, training):
        """One step of the leaky integrator, in float32."""
        if training and self.dropout > 0:
            inputs = inputs * self.get_dropout_mask(inputs)
        return self.decay() * ops.cast(potential, STATE_DTYPE) + self.input_current(inputs)

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_size]

    def serialize_weight_arguments(self, groups):
        config = {}
        for group in groups:
            config[f"{group}_initializer"] = initializers.serialize(
                getattr(self, f"{group}_initializer")
            )
            config[f"{group}_regularizer"] = regularizers.serialize(
                getattr(self, f"{group}_regularizer")
            )
            config[f"{group}_constraint"] = constraints.serialize(
                getattr(self, f"{group}_constraint")
            )
        return config

    def get_config(self):
        config = {"units": self.units, "dropout": self.dropout, "seed": self.seed}
        config.update(self.serialize_weight_arguments(_WEIGHT_GROUPS))
        return {**super().get_config(), **config}
