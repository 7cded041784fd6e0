"""Callbacks: `Curriculum` (short sequences first, then longer ones, inside one
`model.fit`), `EpochSync` (the tasks follow the training epoch), `BackupAndRestore`
(keras' callback, with a backup written whole or not at all), `SpikeMonitor` (how
often the units fire and what the memory holds, in the epoch's logs) and
`SurrogateSlopeSchedule` (the surrogate's slope as a function of the epoch)."""

from keras_hsru.callbacks.curriculum import Curriculum
from keras_hsru.callbacks.monitoring import SpikeMonitor, SurrogateSlopeSchedule
from keras_hsru.callbacks.monitoring import (
    hsru_layers as hsru_layers,  # the HSRU layers a callback sees
)
from keras_hsru.callbacks.resume import BackupAndRestore, EpochSync

__all__ = [
    "BackupAndRestore",
    "Curriculum",
    "EpochSync",
    "SpikeMonitor",
    "SurrogateSlopeSchedule",
]
