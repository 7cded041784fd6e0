"""keras-hsru: the Hybrid State Recurrent Unit for Keras 3 (TensorFlow, JAX, PyTorch)."""

from keras_hsru import callbacks, initializers, models, ops, regularizers, tasks
from keras_hsru.layers import HSRU, AnalogOnlyCell, AttentiveHSRU, AttentiveHSRUCell, HSRUCell
from keras_hsru.version import __version__

__all__ = [
    "HSRU",
    "AnalogOnlyCell",
    "AttentiveHSRU",
    "AttentiveHSRUCell",
    "HSRUCell",
    "callbacks",
    "initializers",
    "models",
    "ops",
    "regularizers",
    "tasks",
    "__version__",
]
