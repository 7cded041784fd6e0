"""Initializers for HSRU's per-unit parameters."""

import math

import keras
from keras import ops

from keras_hsru._validation import check_positive_finite


def check_timescales(min_timescale, max_timescale) -> tuple[float, float]:
    """`(min_timescale, max_timescale)` as floats: positive, finite, in order."""
    low = check_positive_finite("min_timescale", min_timescale)
    high = check_positive_finite("max_timescale", max_timescale)
    if high < low:
        raise ValueError(
            "`max_timescale` must be at least `min_timescale`. Received: "
            f"min_timescale={min_timescale!r}, max_timescale={max_timescale!r}"
        )
    return low, high


@keras.saving.register_keras_serializable(package="keras_hsru")
class TimescaleUniform(keras.initializers.Initializer):
    """Initializes `tau` so that the decays' time constants are log-uniform.

    Each unit's decay `alpha = exp(-softplus(tau))` is set to `exp(-1 / T)`,
    with its time constant `T` (the steps over which `V` forgets all but
    `1/e` of an input) drawn log-uniformly from
    `[min_timescale, max_timescale]`, as diagonal linear recurrences such as
    S4D and LRU initialise theirs. HSRU's default (`tau` uniform in
    [-2, 2]) gives time constants of 0.5 to 8 steps: a series' label that
    depends on more than its last few steps needs longer ones, up to about
    the sequence's length.

    Args:
        min_timescale: Positive finite float, the shortest time constant in
            steps. Default: `1.0`.
        max_timescale: Positive finite float of at least `min_timescale`,
            the longest. Default: `1000.0`.
        seed: Optional integer seed (or a `keras.random.SeedGenerator`).

    Examples:
        >>> init = keras_hsru.initializers.TimescaleUniform(1.0, 100.0, seed=0)
        >>> tau = init((4,))
        >>> alpha = keras.ops.exp(-keras.ops.softplus(tau))
        >>> bool(keras.ops.all(alpha >= 0.36))  # exp(-1 / T) with T >= 1
        True
    """

    def __init__(
        self, min_timescale: float = 1.0, max_timescale: float = 1000.0, seed: int | None = None
    ):
        self.min_timescale, self.max_timescale = check_timescales(min_timescale, max_timescale)
        self.seed = seed
        self._uniform = keras.initializers.RandomUniform(
            math.log(self.min_timescale), math.log(self.max_timescale), seed=seed
        )

    def __call__(self, shape, dtype=None):
        timescales = ops.exp(self._uniform(shape, dtype="float32"))
        # softplus(tau) = 1 / T, so tau = log(exp(1 / T) - 1); expm1 keeps it
        # exact for long time constants, where 1 / T is small.
        tau = ops.log(ops.expm1(1.0 / timescales))
        return ops.cast(tau, dtype or "float32")

    def get_config(self):
        return {
            "min_timescale": self.min_timescale,
            "max_timescale": self.max_timescale,
            "seed": self.seed,
        }


__all__ = ["TimescaleUniform"]
