"""keras-hsru: the Hybrid State Recurrent Unit for Keras 3 (TensorFlow, JAX, PyTorch)."""

from keras_hsru import ops
from keras_hsru.layers import HSRU, AnalogOnlyCell, HSRUCell
from keras_hsru.version import __version__

__all__ = ["HSRU", "AnalogOnlyCell", "HSRUCell", "ops", "__version__"]
