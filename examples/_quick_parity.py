"""Temporal parity the quickstart's way, shared by the examples that need a trained
parity model fast (`quantization.py`, `edge.py`; `quickstart_parity.py` draws its
sequences with `parity_batch`): `HSRU(16)` trained with AdamW 1e-2
on fresh sequences every epoch, about half a minute on 2 CPU cores. The epochs
alternate lengths 10 and 11: trained at one even length alone, a model can be wrong
on streams of odd length (a stream is read at every length)."""

import keras
import numpy as np

import keras_hsru

UNITS = 16


def parity_batch(rng, count, length):
    """`count` random bit streams `(count, length, 1)` and the parity of each."""
    bits = rng.integers(0, 2, size=(count, length, 1)).astype("float32")
    return bits, (bits.sum(axis=(1, 2)) % 2).astype("float32")


def train_parity(seed, epochs=8, count=6400):
    """`Sequential[Input((None, 1)), HSRU(16), Dense(1, sigmoid)]` trained on parity."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = keras.Sequential(
        [
            keras.Input((None, 1)),
            keras_hsru.HSRU(UNITS, seed=seed),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        keras.optimizers.AdamW(1e-2, global_clipnorm=1.0),
        "binary_crossentropy",
        metrics=["accuracy"],
    )
    for epoch in range(epochs):
        x, y = parity_batch(rng, count, 10 + epoch % 2)
        model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    return model
