"""A curriculum run that can be killed and resumed: the subject of tests/test_resume.py.

HSRURNN(8) on temporal parity through `Curriculum(lengths=[5, 9, 13],
epochs_per_stage=1)`, with validation, `CSVLogger(append=True)`,
`ModelCheckpoint` and `BackupAndRestore`, all on one directory, listed in the
order the user guide gives. With `--kill-epoch E --kill-batch K` the process
sends itself SIGKILL after batch K of epoch E (nothing is flushed or saved);
run again with the same command (without the kill), it resumes from the last
backup. A run that completes writes its final weights, the full history (from
the CSV log) and the curriculum's stage to `--out`. With `--epoch-sync` the
run has no curriculum (length 9 throughout) and `EpochSync` keeps the tasks on
the training epoch. With `--kill-in-save weights|between --kill-save N` the
process is killed during the N-th backup: halfway through writing the weights
file, after the weights and before the epoch they belong to, or (the
package's callback) between its renames of the two.
`--keras-backup` uses keras' own BackupAndRestore instead of the package's.
"""

import argparse
import csv
import json
import os
import signal

import keras
import numpy as np

import keras_hsru


class KillAt(keras.callbacks.Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.kill_epoch, self.kill_batch = epoch, batch
        self.epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == self.kill_epoch and batch == self.kill_batch:
            os.kill(os.getpid(), signal.SIGKILL)


def kill_during_backup(backup_dir, where, number):
    """SIGKILL during the `number`-th save of weights into `backup_dir`."""
    save_weights = keras.Model.save_weights
    saves = []
    if where == "renames":
        replace = os.replace

        def killing_replace(source, target):
            replace(source, target)
            if str(target).endswith("latest.weights.h5"):
                saves.append(target)
                if len(saves) == number:
                    os.kill(os.getpid(), signal.SIGKILL)

        os.replace = killing_replace
        return

    def killing_save_weights(self, filepath, *args, **kwargs):
        if not str(filepath).startswith(backup_dir):
            return save_weights(self, filepath, *args, **kwargs)
        saves.append(filepath)
        if len(saves) == number:
            if where == "weights":
                with open(filepath, "wb") as f:  # the first bytes of an HDF5 file, no more
                    f.write(b"\x89HDF\r\n\x1a\n" + bytes(64))
            else:
                save_weights(self, filepath, *args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
        return save_weights(self, filepath, *args, **kwargs)

    keras.Model.save_weights = killing_save_weights


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--out")
    parser.add_argument("--kill-epoch", type=int)
    parser.add_argument("--kill-batch", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--epoch-sync", action="store_true")
    parser.add_argument("--kill-in-save", choices=["weights", "between", "renames"])
    parser.add_argument("--kill-save", type=int, default=1)
    parser.add_argument("--keras-backup", action="store_true")
    args = parser.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    keras.utils.set_random_seed(0)
    train = keras_hsru.tasks.TemporalParity(5, batch_size=16, steps_per_epoch=4, seed=0)
    val = keras_hsru.tasks.TemporalParity(5, batch_size=16, steps_per_epoch=2, seed=1)
    model = keras_hsru.models.HSRURNN(8)
    model.compile(
        keras.optimizers.AdamW(1e-2, global_clipnorm=1.0),
        "binary_crossentropy",
        metrics=["accuracy"],
    )
    backup_dir = os.path.join(args.dir, "backup")
    if args.kill_in_save:
        kill_during_backup(backup_dir, args.kill_in_save, args.kill_save)
    log_path = os.path.join(args.dir, "history.csv")
    checkpoint_path = os.path.join(args.dir, "last.keras")
    if args.epoch_sync:
        train.length = val.length = 9
        first = keras_hsru.callbacks.EpochSync([train, val], backup_dir=backup_dir)
    else:
        first = keras_hsru.callbacks.Curriculum(
            [train, val], lengths=[5, 9, 13], epochs_per_stage=1, backup_dir=backup_dir
        )
    callbacks = [
        first,
        keras.callbacks.CSVLogger(log_path, append=True),
        keras.callbacks.ModelCheckpoint(checkpoint_path),
        (keras.callbacks if args.keras_backup else keras_hsru.callbacks).BackupAndRestore(
            backup_dir
        ),
    ]
    if args.kill_epoch is not None:
        callbacks.append(KillAt(args.kill_epoch, args.kill_batch))
    history = model.fit(
        train, validation_data=val, epochs=args.epochs, callbacks=callbacks, verbose=0
    )

    with open(log_path) as f:
        rows = list(csv.DictReader(f))
    result = {
        "weights": [w.tolist() for w in model.get_weights()],
        "csv_history": rows,
        "history": {k: [float(v) for v in values] for k, values in history.history.items()},
        "epochs_run": history.epoch,
        "stage": getattr(first, "stage", None),
        "iterations": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
        "checkpoint_matches": all(
            np.array_equal(a, b)
            for a, b in zip(
                keras.saving.load_model(checkpoint_path).get_weights(), model.get_weights()
            )
        ),
        "train_epoch": train.epoch,
    }
    with open(args.out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
