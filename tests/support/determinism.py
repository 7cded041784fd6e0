"""Two training runs from one seed, compared weight by weight.

Imported, `train_twice()` runs on the active backend and device as they are
(the CPU test). Run as a script, it first turns on the framework's
deterministic switches, which must be set before the framework starts (the
GPU test runs it in a fresh process), and prints the comparison as JSON.
"""

import json
import os
import sys


def deterministic_environment():
    """The environment variables each framework reads at start-up for determinism."""
    return {
        "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
        "XLA_FLAGS": (
            os.environ.get("XLA_FLAGS", "") + " --xla_gpu_deterministic_ops=true"
        ).strip(),
        "TF_DETERMINISTIC_OPS": "1",
    }


def train_once(seed, dropout, units=32, length=64, steps=3):
    import keras

    import keras_hsru

    keras.utils.set_random_seed(seed)
    task = keras_hsru.tasks.TemporalParity(length, batch_size=32, steps_per_epoch=steps, seed=seed)
    model = keras_hsru.models.HSRURNN(units, layer_arguments={"dropout": dropout})
    model.compile(keras.optimizers.AdamW(1e-2, global_clipnorm=1.0), "binary_crossentropy")
    model.fit(task, epochs=2, verbose=0)
    return model.get_weights()


def train_twice(seed=0, dropout=0.1, **kwargs):
    """`(bit-for-bit equal, largest difference)` of two runs from `seed`."""
    import numpy as np

    first = train_once(seed, dropout, **kwargs)
    second = train_once(seed, dropout, **kwargs)
    equal = all(np.array_equal(a, b) for a, b in zip(first, second))
    largest = max(float(np.max(np.abs(a - b))) for a, b in zip(first, second))
    return equal, largest


if __name__ == "__main__":
    os.environ.update(deterministic_environment())
    backend = os.environ.get("KERAS_BACKEND")
    if backend == "torch":
        import torch

        torch.use_deterministic_algorithms(True)
    elif backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    equal, largest = train_twice(**json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})
    print(json.dumps({"equal": equal, "largest_difference": largest}))
