"""The paper's ablation: HSRU without its digital state."""

import keras
from keras import ops

from keras_hsru.layers.leaky_integrator import LeakyIntegratorCell


@keras.saving.register_keras_serializable(package="keras_hsru")
class AnalogOnlyCell(LeakyIntegratorCell):
    """Cell class for the AnalogOnly ablation of HSRU: no spikes, no digital memory.

    ```
    V_t = alpha * V_{t-1} + x_t W_in + b_in,   alpha = exp(-softplus(tau))
    y_t = tanh(V_t W_out + b_out)
    ```

    The state list is `[y, V]` (the previous output first, as in `HSRUCell`),
    both starting at zero. The weights, in order: `input_kernel`,
    `input_bias`, `tau`, `output_kernel (units, units)`, `output_bias`.

    Args:
        units: Positive integer, the number of units (output size).
        input_initializer: As in `HSRUCell`.
        output_initializer: As in `HSRUCell`.
        bias_initializer: As in `HSRUCell`.
        tau_initializer: As in `HSRUCell`.
        input_regularizer: Optional regularizer for `input_kernel`.
        output_regularizer: Optional regularizer for `output_kernel`.
        bias_regularizer: Optional regularizer for `input_bias` and `output_bias`.
        tau_regularizer: Optional regularizer for `tau`.
        input_constraint: Optional constraint for `input_kernel`.
        output_constraint: Optional constraint for `output_kernel`.
        bias_constraint: Optional constraint for `input_bias` and `output_bias`.
        tau_constraint: Optional constraint for `tau`.
        dropout: Float in [0, 1), input dropout (one mask per sequence).
        seed: Random seed for dropout and the default `tau` initializer.
        **kwargs: Standard layer arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, one time step.
        states: A list `[y, V]` of two `(batch, units)` tensors.
        training: Python boolean, whether dropout is applied.

    Returns:
        `(y, [y, V])`: the step output and the new states.

    Examples:
        >>> rnn = keras.layers.RNN(keras_hsru.AnalogOnlyCell(4))
        >>> tuple(rnn(keras.random.uniform((32, 10, 8))).shape)
        (32, 4)
    """

    readout_width = 1

    def __init__(self, units: int, **kwargs):
        super().__init__(units, **kwargs)
        self.state_size = [self.units, self.units]

    def call(self, inputs, states, training=False):
        _, potential = states
        state_dtype = potential.dtype
        potential = self.integrate(inputs, potential, training)
        output = self.readout(potential)
        return output, [output, ops.cast(potential, state_dtype)]
