"""The paper's networks: stacked HSRU (HSRURNN), its ablations, and the LSTM baseline."""

import keras

from keras_hsru._validation import check_choice, check_positive_int, check_units
from keras_hsru.layers import HSRU, AnalogOnlyCell, AttentiveHSRU

VARIANTS = ("hsru", "attentive", "analog_only")


class StackedRecurrentModel(keras.Model):
    """`num_layers` recurrent layers of `units` each, then a `Dense` head.

    Subclasses say which recurrent layer to stack (`make_recurrent_layer`).
    The head reads the last output of the last recurrent layer, or, with
    `return_sequences=True`, every step's output.

    `fit` builds the model from its training data when it is not built yet
    (arrays, tensors, a `PyDataset` such as the tasks, a `tf.data.Dataset`),
    so that callbacks that need the weights at the start of training
    (`keras.callbacks.BackupAndRestore`) work on every backend.
    """

    def __init__(
        self,
        units: int,
        num_layers: int = 1,
        output_units: int = 1,
        output_activation="sigmoid",
        return_sequences: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_units(units)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.output_units = check_positive_int("output_units", output_units)
        self.output_activation = keras.activations.get(output_activation)
        self.return_sequences = bool(return_sequences)
        self.recurrent_layers = [
            self.make_recurrent_layer(
                return_sequences=self.return_sequences or index < num_layers - 1,
                name=f"recurrent_{index}",
            )
            for index in range(num_layers)
        ]
        self.head = keras.layers.Dense(output_units, activation=self.output_activation, name="head")

    def make_recurrent_layer(self, return_sequences, name):
        raise NotImplementedError

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.recurrent_layers:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.head.build(shape)
        self.built = True

    def fit(self, x=None, y=None, *args, **kwargs):
        if not self.built:
            shape = _input_shape(x)
            if shape is not None and shape[-1] is not None:
                self.build((None, None, int(shape[-1])))
        return super().fit(x, y, *args, **kwargs)

    def encode(self, inputs, training=False):
        """The output of the last recurrent layer: the hidden state the head reads."""
        hidden = inputs
        for layer in self.recurrent_layers:
            hidden = layer(hidden, training=training)
        return hidden

    def call(self, inputs, training=False):
        return self.head(self.encode(inputs, training=training))

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "num_layers": self.num_layers,
            "output_units": self.output_units,
            "output_activation": keras.activations.serialize(self.output_activation),
            "return_sequences": self.return_sequences,
        }


@keras.saving.register_keras_serializable(package="keras_hsru")
class HSRURNN(StackedRecurrentModel):
    """The paper's HSRURNN: stacked HSRU layers and a dense head, or one of its variants.

    Each layer's output sequence `y` is the next layer's input `x`; the head
    reads the last layer's output at the last step (or at every step with
    `return_sequences=True`).

    Args:
        units: Positive integer, units per recurrent layer.
        num_layers: Positive integer, the number of stacked recurrent layers.
        output_units: Positive integer, width of the `Dense` head.
        output_activation: Activation of the head. Default: `"sigmoid"`
            (a binary label such as parity).
        return_sequences: Whether the head reads every step (a sequence to
            sequence task such as delayed echo) or only the last.
        variant: `"hsru"` (default, `keras_hsru.HSRU` layers), `"attentive"`
            (`keras_hsru.AttentiveHSRU`: a feature-attention gate on the
            input of every layer) or `"analog_only"` (the paper's ablation:
            `keras.layers.RNN(keras_hsru.AnalogOnlyCell)`, no spikes and no
            digital memory).
        layer_arguments: Optional dict of extra arguments for every recurrent
            layer, e.g. `{"surrogate_slope": 3.0}`.
        **kwargs: Standard model arguments (`name`, `dtype`).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        training: Python boolean.

    Returns:
        `(batch, output_units)`, or `(batch, time, output_units)` with
        `return_sequences=True`.

    Examples:
        >>> model = keras_hsru.models.HSRURNN(16, num_layers=2)
        >>> tuple(model(keras.random.uniform((8, 60, 1))).shape)
        (8, 1)
    """

    def __init__(
        self,
        units: int,
        num_layers: int = 1,
        output_units: int = 1,
        output_activation="sigmoid",
        return_sequences: bool = False,
        variant: str = "hsru",
        layer_arguments: dict | None = None,
        **kwargs,
    ):
        self.variant = check_choice("variant", variant, VARIANTS)
        if layer_arguments is not None and not isinstance(layer_arguments, dict):
            raise ValueError(
                f"`layer_arguments` must be a dict or None. Received: layer_arguments={layer_arguments!r}"
            )
        self.layer_arguments = dict(layer_arguments or {})
        super().__init__(
            units,
            num_layers=num_layers,
            output_units=output_units,
            output_activation=output_activation,
            return_sequences=return_sequences,
            **kwargs,
        )

    def make_recurrent_layer(self, return_sequences, name):
        if self.variant == "analog_only":
            cell = AnalogOnlyCell(self.units, **self.layer_arguments, name=f"{name}_cell")
            return keras.layers.RNN(cell, return_sequences=return_sequences, name=name)
        layer_class = AttentiveHSRU if self.variant == "attentive" else HSRU
        return layer_class(
            self.units, return_sequences=return_sequences, name=name, **self.layer_arguments
        )

    def get_config(self):
        return {
            **super().get_config(),
            "variant": self.variant,
            "layer_arguments": self.layer_arguments,
        }


@keras.saving.register_keras_serializable(package="keras_hsru")
class LSTMBaseline(StackedRecurrentModel):
    """The paper's baseline: stacked `keras.layers.LSTM` layers and the same dense head.

    Use `comparable_lstm_units` to give it about as many parameters as an
    `HSRURNN`.

    Args:
        units: Positive integer, units per LSTM layer.
        num_layers: As in `HSRURNN`.
        output_units: As in `HSRURNN`.
        output_activation: As in `HSRURNN`.
        return_sequences: As in `HSRURNN`.
        **kwargs: As in `HSRURNN`.

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        training: Python boolean.

    Returns:
        As `HSRURNN`.

    Examples:
        >>> model = keras_hsru.models.LSTMBaseline(12)
        >>> tuple(model(keras.random.uniform((8, 60, 1))).shape)
        (8, 1)
    """

    def make_recurrent_layer(self, return_sequences, name):
        return keras.layers.LSTM(self.units, return_sequences=return_sequences, name=name)


def _input_shape(data):
    """The shape of the inputs in `fit`'s `x`, or None where it cannot be read
    without consuming data (a Python generator): keras' trainers then build the
    model from the first batch, as usual."""
    if isinstance(data, keras.utils.PyDataset):
        batch = data[0]
        data = batch[0] if isinstance(batch, (list, tuple)) else batch
    elif type(data).__module__.startswith("tensorflow") and hasattr(data, "element_spec"):
        spec = data.element_spec
        spec = spec[0] if isinstance(spec, (list, tuple)) else spec
        shape = getattr(spec, "shape", None)
        return None if shape is None or shape.rank != 3 else tuple(shape)
    shape = getattr(data, "shape", None)
    if shape is None:
        return None
    shape = tuple(shape)
    return shape if len(shape) == 3 else None


def _stacked_parameter_count(layer_count, units, input_dim, num_layers):
    """Parameters of `num_layers` recurrent layers (`layer_count(units, inputs)`
    each) and the default `Dense(1)` head of a `StackedRecurrentModel`."""
    total, width = 0, input_dim
    for _ in range(num_layers):
        total += layer_count(units, width)
        width = units
    return total + units + 1


def _hsru_layer_count(units, inputs):
    # W_in, b_in, tau, threshold, W_out (2 units x units), b_out.
    return inputs * units + 2 * units * units + 4 * units


def _lstm_layer_count(units, inputs):
    # Four gates, each with an input kernel, a recurrent kernel and a bias.
    return 4 * units * (inputs + units + 1)


def comparable_lstm_units(units: int, input_dim: int, num_layers: int = 1) -> int:
    """The LSTM width whose `LSTMBaseline` has the parameter count closest to `HSRURNN(units)`.

    Counted from the layers' weight shapes, without building any model
    (building initializes every weight of every compared width: 15 s per
    call on JAX on a 2-core CPU).

    Args:
        units: Positive integer, units per layer of the HSRURNN.
        input_dim: Positive integer, input features.
        num_layers: Positive integer, layers of both models.

    Returns:
        The number of LSTM units.

    Examples:
        >>> keras_hsru.models.comparable_lstm_units(16, input_dim=1)
        11
    """
    units = check_units(units)
    input_dim = check_positive_int("input_dim", input_dim)
    num_layers = check_positive_int("num_layers", num_layers)
    target = _stacked_parameter_count(_hsru_layer_count, units, input_dim, num_layers)

    def distance(lstm_units):
        count = _stacked_parameter_count(_lstm_layer_count, lstm_units, input_dim, num_layers)
        return abs(count - target)

    # An LSTM holds about twice the parameters of an HSRU of the same width.
    return min(range(1, 2 * units + 1), key=distance)


__all__ = ["HSRURNN", "LSTMBaseline", "comparable_lstm_units"]
