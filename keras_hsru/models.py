"""The paper's networks (stacked HSRU, its ablations, the LSTM baseline) and a classifier
for real sequences."""

import math

import keras
from keras import ops

from keras_hsru import ops as hsru_ops
from keras_hsru._validation import (
    check_choice,
    check_positive_int,
    check_rate,
    check_units,
    is_integer,
    is_real,
)
from keras_hsru.initializers import TimescaleUniform, check_timescales
from keras_hsru.layers import HSRU, AnalogOnlyCell, AttentiveHSRU

VARIANTS = ("hsru", "attentive", "analog_only")


def check_layer_arguments(layer_arguments) -> dict:
    """A copy of the dict of extra recurrent-layer arguments (empty for None)."""
    if layer_arguments is not None and not isinstance(layer_arguments, dict):
        raise ValueError(
            f"`layer_arguments` must be a dict or None. Received: layer_arguments={layer_arguments!r}"
        )
    return dict(layer_arguments or {})


class RebuiltModel(keras.Model):
    """A model whose layers `from_config` makes again from its arguments (a
    subclassed model), and which therefore records what `quantize` changed.

    `get_config` adds `quantized_layers`, the layers `quantize` changed and
    their modes, by their path below the model; a model made from that
    config quantizes the same layers once built (`_quantize_saved_layers`, at
    the end of a subclass's `build`), so that the saved int8 weights load
    into them. Not a public model.
    """

    def get_config(self):
        return {**super().get_config(), "quantized_layers": self._quantized_layers()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        quantized_layers = config.pop("quantized_layers", None) or {}
        model = super().from_config(config)
        model._quantize_when_built = quantized_layers
        return model

    def _quantize_saved_layers(self):
        """Quantizes, once built, the layers a saved config says were quantized."""
        layers = self._leaf_layers()
        for path, mode in getattr(self, "_quantize_when_built", {}).items():
            if path not in layers:
                raise ValueError(
                    f"`quantized_layers` names a layer this model does not have: {path!r}. "
                    f"Its layers: {sorted(layers)}"
                )
            layers[path].quantize(mode)
        self._quantize_when_built = {}

    def _leaf_layers(self):
        """This model's built layers that hold no other, by their path below the
        model (keras gives a layer its path when it is built)."""
        return {
            layer.path.split(f"{self.name}/", 1)[-1]: layer
            for layer in self._flatten_layers(include_self=False)
            if layer.path is not None and len(list(layer._flatten_layers())) == 1
        }

    def _quantized_layers(self):
        return {
            path: layer.quantization_mode
            for path, layer in self._leaf_layers().items()
            if layer.quantization_mode
        }


class StackedRecurrentModel(RebuiltModel):
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
        self._quantize_saved_layers()

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
        self.layer_arguments = check_layer_arguments(layer_arguments)
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


def _hsru_layer_count(units, inputs, memory_states=2):
    # W_in, b_in, tau, threshold, W_out (one units x units block for V and one
    # per channel of D: memory_states blocks in all), b_out.
    return inputs * units + memory_states * units * units + 4 * units


def _lstm_layer_count(units, inputs):
    # Four gates, each with an input kernel, a recurrent kernel and a bias.
    return 4 * units * (inputs + units + 1)


def comparable_lstm_units(
    units: int, input_dim: int, num_layers: int = 1, memory_states: int = 2
) -> int:
    """The LSTM width whose `LSTMBaseline` has the parameter count closest to `HSRURNN(units)`.

    Counted from the layers' weight shapes, without building any model
    (building initializes every weight of every compared width: 15 s per
    call on JAX on a 2-core CPU).

    Args:
        units: Positive integer, units per layer of the HSRURNN.
        input_dim: Positive integer, input features.
        num_layers: Positive integer, layers of both models.
        memory_states: Integer >= 2, the HSRU layers' `memory_states` (a
            k-state memory reads k - 1 channels of D out, so W_out grows
            with k).

    Returns:
        The number of LSTM units.

    Examples:
        >>> keras_hsru.models.comparable_lstm_units(16, input_dim=1)
        11
        >>> keras_hsru.models.comparable_lstm_units(16, input_dim=1, memory_states=5)
        17
    """
    units = check_units(units)
    input_dim = check_positive_int("input_dim", input_dim)
    num_layers = check_positive_int("num_layers", num_layers)
    memory_states = hsru_ops.check_memory_states(memory_states)

    def hsru_layer_count(units, inputs):
        return _hsru_layer_count(units, inputs, memory_states)

    target = _stacked_parameter_count(hsru_layer_count, units, input_dim, num_layers)

    def distance(lstm_units):
        count = _stacked_parameter_count(_lstm_layer_count, lstm_units, input_dim, num_layers)
        return abs(count - target)

    # An LSTM layer holds about 4 units^2 recurrent parameters, an HSRU layer
    # memory_states units^2: the closest width lies below this bound.
    return min(range(1, memory_states * units + 2), key=distance)


READOUTS = ("last", "mean", "last_and_mean")


@keras.saving.register_keras_serializable(package="keras_hsru")
class PaddingMask(keras.layers.Layer):
    """Masks the steps whose every feature equals `mask_value` (NaN included).

    Like `keras.layers.Masking`, which cannot match NaN padding (NaN equals
    nothing); the padded steps are also zeroed, so that nothing they hold
    reaches the layers or their gradients.

    Args:
        mask_value: The number (or NaN) that fills every feature of a padded
            step. Default: `0.0`.
        **kwargs: Standard layer arguments.

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.

    Returns:
        The inputs with padded steps zeroed, and the mask `(batch, time)` for
        the layers after it.

    Examples:
        >>> x = np.array([[[1.0], [2.0], [np.nan]]], "float32")
        >>> keras.ops.convert_to_numpy(
        ...     keras_hsru.models.PaddingMask(float("nan")).compute_mask(x)
        ... ).tolist()
        [[True, True, False]]
    """

    def __init__(self, mask_value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if not is_real(mask_value):
            raise ValueError(
                f"`mask_value` must be a number (NaN included). Received: mask_value={mask_value!r}"
            )
        self.mask_value = float(mask_value)
        self.supports_masking = True

    def _padded(self, inputs):
        if math.isnan(self.mask_value):
            return ops.all(ops.isnan(inputs), axis=-1)
        return ops.all(ops.equal(inputs, self.mask_value), axis=-1)

    def compute_mask(self, inputs, mask=None):
        return ops.logical_not(self._padded(inputs))

    def call(self, inputs):
        padded = ops.expand_dims(self._padded(inputs), -1)
        # A NaN feature at an unmasked step stays a NaN: only padding is zeroed.
        return ops.where(padded, ops.zeros_like(inputs), inputs)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


@keras.saving.register_keras_serializable(package="keras_hsru")
class ClassCrossentropy(keras.losses.Loss):
    """Cross-entropy of class probabilities, for integer and one-hot labels alike.

    Integer labels `(batch,)` or `(batch, 1)` take
    `keras.losses.sparse_categorical_crossentropy`, one-hot labels
    `(batch, num_classes)` `keras.losses.categorical_crossentropy` (keras'
    scikit-learn wrappers one-hot encode the labels they pass to `fit`).

    Args:
        name: The loss' name. Default: `"class_crossentropy"`.
        **kwargs: Standard loss arguments (`reduction`, `dtype`).

    Examples:
        >>> probabilities = np.array([[0.9, 0.1], [0.2, 0.8]], "float32")
        >>> loss = keras_hsru.models.ClassCrossentropy()
        >>> sparse = float(loss(np.array([0, 1]), probabilities))
        >>> one_hot = float(loss(np.eye(2, dtype="float32"), probabilities))
        >>> round(sparse, 4) == round(one_hot, 4)
        True
    """

    def __init__(self, name: str = "class_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        classes = y_pred.shape[-1]
        if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == classes and classes > 1:
            return keras.losses.categorical_crossentropy(y_true, y_pred)
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)


@keras.saving.register_keras_serializable(package="keras_hsru")
class HSRUClassifier(RebuiltModel):
    """Classifies (multivariate, variable-length) sequences with stacked HSRU layers.

    The recipe measured on the UCR/UEA archive (the docs' "Real sequences"
    page): `num_layers` `HSRU` layers whose digital memory is a latch
    (`memory="latch"`: set and reset by the up and down crossings, so that
    noise within the band between them changes nothing) and whose decays
    have time constants spread log-uniformly from `min_timescale` to
    `max_timescale` steps (`keras_hsru.initializers.TimescaleUniform`), each
    layer but the first with a residual connection, each followed by layer
    normalisation; the last step's output and the mean output over the
    unmasked steps, side by side, go through dropout to a softmax head.

    Sequences of different lengths are padded to one length with
    `mask_value` (`keras.utils.pad_sequences(..., padding="post",
    value=mask_value, dtype="float32")`): padded steps are masked and change
    nothing. A keras mask from an upstream layer is honoured too.

    `compile()` with no arguments uses Adam (learning rate 1e-3, gradients
    clipped to norm 1.0), the cross-entropy (`ClassCrossentropy`: integer or
    one-hot labels) and accuracy.

    Args:
        num_classes: Integer of at least 2, the number of classes.
        units: Positive integer, units per HSRU layer. Default: `64`.
        num_layers: Positive integer, stacked HSRU layers. Default: `2`.
        readout: `"last_and_mean"` (default: the output at the last
            unmasked step and the mean output over the unmasked steps, side
            by side, so the head reads twice the units), `"last"` or
            `"mean"` (one of the two).
        min_timescale: Positive float, the shortest decay time constant in
            steps. Default: `1.0`.
        max_timescale: Positive float, the longest; about the sequences'
            length. Default: `1000.0`.
        dropout: Float in [0, 1), dropout before the head. Default: `0.0`.
        mask_value: The value that pads a sequence's steps (every feature of
            a padded step equals it; NaN allowed), or None (default): no
            padding, or a mask from upstream.
        features: Positive integer, the features of each step when the
            inputs come flattened as 2D arrays `(batch, time * features)`,
            step after step (scikit-learn takes 2D arrays only). Default:
            `1`, a univariate series `(batch, time)`. 3D inputs need none.
        layer_arguments: Optional dict of further `keras_hsru.HSRU`
            arguments for every layer (e.g. `{"surrogate_slope": 3.0}`, or
            `{"memory": "toggle"}` for the paper's XOR bit); not `units`,
            `return_sequences` or `tau_initializer`.
        seed: Optional integer, seeds the time constants of each layer.
        **kwargs: Standard model arguments (`name`, `dtype`).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`, or a 2D tensor
            `(batch, time * features)` (see `features`).
        mask: Optional boolean tensor `(batch, time)`.
        training: Python boolean.

    Returns:
        Class probabilities `(batch, num_classes)`.

    Examples:
        >>> model = keras_hsru.models.HSRUClassifier(3, units=8, mask_value=-1.0)
        >>> model.compile()
        >>> x = keras.utils.pad_sequences(
        ...     [np.ones((5, 2)), np.ones((9, 2))], padding="post", value=-1.0, dtype="float32"
        ... )
        >>> tuple(model.predict(x, verbose=0).shape)
        (2, 3)
    """

    def __init__(
        self,
        num_classes: int,
        units: int = 64,
        num_layers: int = 2,
        readout: str = "last_and_mean",
        min_timescale: float = 1.0,
        max_timescale: float = 1000.0,
        dropout: float = 0.0,
        mask_value: float | None = None,
        features: int = 1,
        layer_arguments: dict | None = None,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.features = check_positive_int("features", features)
        self.num_classes = check_positive_int("num_classes", num_classes)
        if self.num_classes < 2:
            raise ValueError(
                f"`num_classes` must be at least 2. Received: num_classes={num_classes!r}"
            )
        self.units = check_units(units)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.readout = check_choice("readout", readout, READOUTS)
        self.min_timescale, self.max_timescale = check_timescales(min_timescale, max_timescale)
        self.dropout = check_rate("dropout", dropout)
        # PaddingMask checks the value.
        self.padding = None if mask_value is None else PaddingMask(mask_value)
        self.mask_value = None if self.padding is None else self.padding.mask_value
        self.layer_arguments = check_layer_arguments(layer_arguments)
        reserved = sorted(
            {"units", "return_sequences", "tau_initializer"} & set(self.layer_arguments)
        )
        if reserved:
            raise ValueError(
                f"`layer_arguments` cannot set {reserved}: the classifier sets them. "
                f"Received: layer_arguments={layer_arguments!r}"
            )
        if seed is not None and not is_integer(seed):
            raise ValueError(f"`seed` must be an integer or None. Received: seed={seed!r}")
        self.seed = seed
        self.recurrent_layers = [
            HSRU(
                self.units,
                return_sequences=True,
                tau_initializer=TimescaleUniform(
                    self.min_timescale,
                    self.max_timescale,
                    seed=None if seed is None else seed + index,
                ),
                name=f"hsru_{index}",
                **{"memory": "latch", **self.layer_arguments},
            )
            for index in range(self.num_layers)
        ]
        self.norms = [
            keras.layers.LayerNormalization(name=f"norm_{index}")
            for index in range(self.num_layers)
        ]
        pooled = self.readout in ("mean", "last_and_mean")
        self.pooling = keras.layers.GlobalAveragePooling1D() if pooled else None
        self.head_dropout = keras.layers.Dropout(self.dropout, seed=seed)
        self.head = keras.layers.Dense(self.num_classes, activation="softmax", name="head")

    def _sequences_shape(self, shape):
        shape = tuple(shape)
        if len(shape) == 2:
            length = None if shape[1] is None else shape[1] // self.features
            return (shape[0], length, self.features)
        if len(shape) != 3:
            raise ValueError(
                "HSRUClassifier takes sequences (batch, time, features) or flattened "
                f"sequences (batch, time * features). Received: inputs of shape {shape}"
            )
        return shape

    def build(self, input_shape):
        shape = self._sequences_shape(input_shape)
        # Every sublayer built, so that a loaded model quantizes (`Model.quantize`
        # asks each for it) before it is called.
        if self.padding is not None:
            self.padding.build(shape)
        for layer, norm in zip(self.recurrent_layers, self.norms):
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
            norm.build(shape)
        if self.pooling is not None:
            self.pooling.build(shape)
        width = shape[-1] * (2 if self.readout == "last_and_mean" else 1)
        self.head_dropout.build((shape[0], width))
        self.head.build((shape[0], width))
        self.built = True
        self._quantize_saved_layers()

    def call(self, inputs, mask=None, training=False):
        if len(inputs.shape) == 2:
            if inputs.shape[1] is not None and inputs.shape[1] % self.features:
                raise ValueError(
                    f"Flattened sequences (batch, time * features) need a multiple of "
                    f"features={self.features} columns. Received: inputs of shape "
                    f"{tuple(inputs.shape)}"
                )
            inputs = ops.reshape(inputs, (ops.shape(inputs)[0], -1, self.features))
        if self.padding is not None:
            mask = self.padding.compute_mask(inputs)
            inputs = self.padding(inputs)
        hidden = inputs
        for index, (layer, norm) in enumerate(zip(self.recurrent_layers, self.norms)):
            outputs = layer(hidden, mask=mask, training=training)
            hidden = norm(outputs if index == 0 else outputs + hidden)
        # A masked step repeats the output of the step before it, so the last
        # step holds the last unmasked one's.
        features = {
            "last": lambda: hidden[:, -1],
            "mean": lambda: self.pooling(hidden, mask=mask),
            "last_and_mean": lambda: ops.concatenate(
                [hidden[:, -1], self.pooling(hidden, mask=mask)], axis=-1
            ),
        }[self.readout]()
        return self.head(self.head_dropout(features, training=training))

    def compute_mask(self, inputs, mask=None):
        return None

    def compile(self, optimizer=None, loss=None, metrics=None, **kwargs):
        """keras' `Model.compile`, with this model's defaults for what it is not given:
        Adam(1e-3, clipnorm=1.0), `ClassCrossentropy` and accuracy."""
        super().compile(
            optimizer=optimizer or keras.optimizers.Adam(1e-3, clipnorm=1.0),
            loss=loss or ClassCrossentropy(),
            metrics=["accuracy"] if metrics is None else metrics,
            **kwargs,
        )

    def compile_from_config(self, config):
        # keras skips a custom `compile` when it loads a model; this one only
        # fills in defaults, so the saved arguments compile it as keras would.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "units": self.units,
            "num_layers": self.num_layers,
            "readout": self.readout,
            "min_timescale": self.min_timescale,
            "max_timescale": self.max_timescale,
            "dropout": self.dropout,
            "mask_value": self.mask_value,
            "features": self.features,
            "layer_arguments": self.layer_arguments,
            "seed": self.seed,
        }


__all__ = [
    "HSRURNN",
    "HSRUClassifier",
    "LSTMBaseline",
    "ClassCrossentropy",
    "PaddingMask",
    "comparable_lstm_units",
]
