"""UCR/UEA time-series classification datasets, as the `aeon` wheel ships them.

Loads a dataset's default train/test split offline (`aeon.datasets.load_classification`
reads the `.ts` files inside the wheel), z-scores every channel with the training
split's statistics, and pads the sequences at their end to one length with a
value that `keras_hsru.models.PaddingMask` masks (NaN). Labels become 0 .. K-1 in
the sorted order of the training labels.
"""

import numpy as np

# Padded steps hold NaN in every channel: no real value equals it.
PAD = float("nan")

# The datasets of the study, with the epochs each is trained for (one budget
# for every model).
EPOCHS = {
    "GunPoint": 300,
    "ItalyPowerDemand": 300,
    "ArrowHead": 300,
    "BasicMotions": 300,
    "JapaneseVowels": 150,
    "PickupGestureWiimoteZ": 300,
    "OSULeaf": 150,
    "ACSF1": 100,
}


def _cases(data):
    """Each case as a float32 array (time, channels), from aeon's (channels, time)."""
    return [np.asarray(case, np.float32).T for case in data]


def pad(cases, length):
    """Cases (time, channels) padded at their end with PAD to `(count, length, channels)`."""
    padded = np.full((len(cases), length, cases[0].shape[1]), PAD, np.float32)
    for index, case in enumerate(cases):
        padded[index, : len(case)] = case
    return padded


def load(name, limit=None):
    """`(x_train, y_train, x_test, y_test, classes)` of dataset `name`.

    `x` is `(cases, length, channels)` float32, z-scored with the training
    statistics and padded with NaN; `y` holds integers 0 .. classes - 1. With
    `limit`, only the first `limit` cases of each split (for smoke runs).
    """
    from aeon.datasets import load_classification

    splits = []
    for split in ("train", "test"):
        data, labels = load_classification(name, split=split)
        cases = _cases(data)[:limit]
        splits.append((cases, np.asarray(labels)[:limit]))
    (train, train_labels), (test, test_labels) = splits
    steps = np.concatenate(train)
    mean, std = steps.mean(axis=0), steps.std(axis=0)
    std[std == 0] = 1.0
    train = [(case - mean) / std for case in train]
    test = [(case - mean) / std for case in test]
    classes = sorted(set(train_labels.tolist()))
    index = {label: position for position, label in enumerate(classes)}
    unknown = sorted(set(test_labels.tolist()) - set(classes))
    if unknown:
        raise ValueError(f"{name}: test labels {unknown} are not among the training labels")
    length = max(len(case) for case in train + test)
    return (
        pad(train, length),
        np.array([index[label] for label in train_labels.tolist()]),
        pad(test, length),
        np.array([index[label] for label in test_labels.tolist()]),
        len(classes),
    )


def unpad(padded):
    """The cases of a padded split as a list of `(channels, time)` arrays, each
    without its padding (aeon's layout for series of different lengths)."""
    return [case[~np.all(np.isnan(case), axis=-1)].T for case in padded]


def describe(data):
    """Sizes of a loaded dataset: cases per split, channels, classes, shortest
    and longest series."""
    x_train, _, x_test, _, classes = data
    lengths = [
        int(np.sum(~np.all(np.isnan(case), axis=-1)))
        for split in (x_train, x_test)
        for case in split
    ]
    return {
        "train": len(x_train),
        "test": len(x_test),
        "channels": int(x_train.shape[-1]),
        "classes": classes,
        "min_length": min(lengths),
        "max_length": max(lengths),
    }
