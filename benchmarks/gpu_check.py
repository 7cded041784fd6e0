"""On a GPU: HSRU's scan equals RNN(HSRUCell) (forward and gradients) on the device."""

import keras
import numpy as np

import keras_hsru

rng = np.random.default_rng(0)
x = rng.normal(size=(4, 3000, 8)).astype("float32")
loop = keras.layers.RNN(keras_hsru.HSRUCell(16), return_sequences=True)
loop.build((None, None, 8))
scan = keras_hsru.HSRU(16, return_sequences=True)
scan.build((None, None, 8))
scan.set_weights(loop.get_weights())
a, b = keras.ops.convert_to_numpy(loop(x)), keras.ops.convert_to_numpy(scan(x))
print(
    "device check: outputs max |scan - loop| =",
    float(np.abs(a - b).max()),
    "; fraction of outputs within 1e-4:",
    float((np.abs(a - b) < 1e-4).mean()),
)
