"""`SpikeRateRegularizer`: keeps the units' time-averaged spike rates near a target."""

import math

import keras

from keras_hsru._validation import is_real


@keras.saving.register_keras_serializable(package="keras_hsru")
class SpikeRateRegularizer(keras.regularizers.Regularizer):
    """Penalises the distance of each unit's spike rate from `target`.

    Given the spike rate of each unit, averaged over the batch and every
    (unmasked) step of the sequence, the penalty is
    `weight * mean_over_units((rate - target) ** 2)`. Its gradient reaches
    the weights through the spikes' surrogate gradient. Averaging over time
    first is what makes it a rate: a per-step penalty would push every step
    towards the target instead of the sequence.

    Pass it as `HSRU(..., spike_rate_regularizer=...)` (or `AttentiveHSRU`,
    or `HSRURNN(layer_arguments=...)`): the layer adds the penalty to the
    loss in every training call, and only there (unlike keras' activity
    regularisers): `evaluate` reports the task's loss alone.

    Args:
        target: Float in [0, 1], the spike rate to keep each unit near.
        weight: Non-negative finite float, the penalty's weight. Default: `1.0`.

    Examples:
        >>> regularizer = keras_hsru.regularizers.SpikeRateRegularizer(target=0.1, weight=2.0)
        >>> rates = keras.ops.convert_to_tensor([0.1, 0.3])
        >>> round(float(regularizer(rates)), 4)  # 2 * mean([0, 0.04])
        0.04
    """

    def __init__(self, target: float, weight: float = 1.0):
        if not is_real(target) or not 0.0 <= target <= 1.0:
            raise ValueError(f"`target` must be a float in [0, 1]. Received: target={target!r}")
        if not is_real(weight) or not math.isfinite(weight) or weight < 0:
            raise ValueError(
                f"`weight` must be a non-negative finite float. Received: weight={weight!r}"
            )
        self.target = float(target)
        self.weight = float(weight)

    def __call__(self, rates):
        rates = keras.ops.convert_to_tensor(rates)
        return self.weight * keras.ops.mean(keras.ops.square(rates - self.target))

    def get_config(self) -> dict:
        return {"target": self.target, "weight": self.weight}


def get(identifier):
    """A `SpikeRateRegularizer` from itself, its config dict or its serialized form, or None."""
    if identifier is None or isinstance(identifier, SpikeRateRegularizer):
        return identifier
    if isinstance(identifier, dict):
        if "class_name" in identifier:
            regularizer = keras.saving.deserialize_keras_object(identifier)
        else:
            regularizer = SpikeRateRegularizer(**identifier)
        if isinstance(regularizer, SpikeRateRegularizer):
            return regularizer
    raise ValueError(
        "`spike_rate_regularizer` must be a keras_hsru.regularizers.SpikeRateRegularizer, "
        f"its config, or None. Received: spike_rate_regularizer={identifier!r}"
    )


__all__ = ["SpikeRateRegularizer"]
