"""keras-hsru: the Hybrid State Recurrent Unit for Keras 3 (TensorFlow, JAX, PyTorch)."""

import os

try:
    import keras  # noqa: F401
except ModuleNotFoundError as error:
    # Keras imports its backend when it is first imported; a backend set for
    # one shell command (or none: Keras then takes TensorFlow) that is not the
    # one installed fails there, with a message that does not say why.
    backend = (error.name or "").split(".")[0]
    if backend in ("jax", "tensorflow", "torch"):
        raise ModuleNotFoundError(
            f"Keras is set to run on {backend}, which is not installed here "
            f"(KERAS_BACKEND={os.environ.get('KERAS_BACKEND')!r}; unset, Keras reads "
            "~/.keras/keras.json and defaults to tensorflow). Set KERAS_BACKEND to the "
            "backend you installed, e.g. `export KERAS_BACKEND=jax` in the shell that "
            f'runs Python, or install this one: pip install ".[{backend}]" from a '
            "checkout of keras-hsru.",
            name=error.name,
        ) from error
    raise

from keras_hsru import callbacks, initializers, models, ops, regularizers, tasks
from keras_hsru.layers import HSRU, AnalogOnlyCell, AttentiveHSRU, AttentiveHSRUCell, HSRUCell
from keras_hsru.ops import Surrogate
from keras_hsru.version import __version__

__all__ = [
    "HSRU",
    "AnalogOnlyCell",
    "AttentiveHSRU",
    "AttentiveHSRUCell",
    "HSRUCell",
    "Surrogate",
    "callbacks",
    "initializers",
    "models",
    "ops",
    "regularizers",
    "tasks",
    "__version__",
]
