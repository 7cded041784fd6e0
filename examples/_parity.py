"""Temporal parity through the paper's curriculum: the models, their learning
rates and one training run, shared by the examples that train them
(`temporal_parity.py`, `hidden_state_tsne.py`, `threshold_sweep.py`)."""

import os
import time

import keras
from _outputs import KeptHistory

from keras_hsru.callbacks import BackupAndRestore, Curriculum
from keras_hsru.models import HSRURNN, LSTMBaseline, comparable_lstm_units
from keras_hsru.tasks import TemporalParity

MODELS = ("hsru", "lstm", "analog_only")
LABELS = {"hsru": "HSRU", "lstm": "LSTM", "analog_only": "AnalogOnly"}
# Chosen by `temporal_parity.py --full` (its `sweep`).
LEARNING_RATES = {"hsru": 3e-3, "lstm": 3e-2, "analog_only": 1e-2}


def build_model(kind, units, layer_arguments=None):
    if kind == "lstm":
        return LSTMBaseline(comparable_lstm_units(units, input_dim=1))
    return HSRURNN(units, variant=kind, layer_arguments=layer_arguments)


class StageEndTest(keras.callbacks.Callback):
    """Tests on fresh sequences at the end of each curriculum stage (runs after Curriculum)."""

    def __init__(self, curriculum, task, count, epochs, results):
        super().__init__()
        self.curriculum, self.task, self.count, self.epochs = curriculum, task, count, epochs
        self.results = results  # {length: accuracy}; kept across a resume by KeptHistory

    def on_epoch_end(self, epoch, logs=None):
        stage = logs["curriculum_stage"]
        if self.curriculum.stage != stage or epoch == self.epochs - 1:
            length = logs["sequence_length"]
            metrics = self.task.evaluate(self.model, self.count, length=length, seed=stage)
            self.results[length] = metrics["accuracy"]


def train(kind, learning_rate, seed, args, layer_arguments=None, backup_dir=None, callbacks=()):
    """Trains one model through the curriculum; returns (model, test task, run record).

    `args` needs `units`, `lengths`, `steps` (per epoch), `epochs_per_stage`
    and `test_count`; `layer_arguments` go to the HSRU layers. With
    `backup_dir` the run backs itself up there, and resumes from it.
    `callbacks` are added to fit's.
    """
    keras.utils.set_random_seed(seed)
    model = build_model(kind, args.units, layer_arguments)
    model.compile(
        keras.optimizers.AdamW(learning_rate, global_clipnorm=1.0),
        "binary_crossentropy",
        metrics=["accuracy"],
    )
    lengths = args.lengths
    task = TemporalParity(lengths[0], batch_size=64, steps_per_epoch=args.steps, seed=seed)
    val = TemporalParity(lengths[0], batch_size=64, steps_per_epoch=4, seed=seed + 10_000)
    test = TemporalParity(lengths[0], seed=seed + 20_000)
    epochs = args.epochs_per_stage * len(lengths)
    curriculum = Curriculum(
        [task, val],
        lengths=lengths,
        epochs_per_stage=args.epochs_per_stage,
        backup_dir=backup_dir,
    )
    kept = KeptHistory(os.path.join(backup_dir or "", "history.json"))
    stage_end = StageEndTest(curriculum, test, args.test_count, epochs, kept.extra)
    callbacks = [curriculum, stage_end, *callbacks]
    if backup_dir is not None:
        callbacks += [kept, BackupAndRestore(backup_dir)]
    start = time.perf_counter()
    fitted = model.fit(task, validation_data=val, epochs=epochs, callbacks=callbacks, verbose=0)
    history = fitted.history if backup_dir is None else kept.history
    seconds = time.perf_counter() - start if backup_dir is None else kept.seconds
    best = {}
    for length, accuracy in zip(history["sequence_length"], history["val_accuracy"]):
        length = int(length)
        best[length] = max(best.get(length, 0.0), accuracy)
    return (
        model,
        test,
        {
            "val_accuracy": history["val_accuracy"],
            "sequence_length": [int(length) for length in history["sequence_length"]],
            "best_val_accuracy": best,
            "test_accuracy": dict(stage_end.results),
            "train_seconds": seconds,
        },
    )
