"""Where the examples write: an untracked directory (`outputs/` by default).

Running an example leaves the checkout as it was: its JSON and figures go to
`--output-dir`, which `.gitignore` keeps out of git. The examples that train
long take `--backup-dir`, to resume a killed run.
"""

import json
import os
import time

import keras


def add_output_arguments(parser):
    """Adds `--output-dir` and `--json` to an example's argument parser."""
    parser.add_argument(
        "--output-dir",
        default="outputs",
        help="directory for the results' JSON and the figures (default: outputs/, untracked)",
    )
    parser.add_argument(
        "--json", help="write the results' JSON here instead of OUTPUT_DIR/NAME-BACKEND.json"
    )


def output_file(args, name, extension):
    """`OUTPUT_DIR/NAME-BACKEND.EXTENSION`, creating OUTPUT_DIR."""
    os.makedirs(args.output_dir, exist_ok=True)
    return os.path.join(args.output_dir, f"{name}-{keras.backend.backend()}.{extension}")


def write_json(args, name, results):
    """Writes `results` to `--json`, or to `OUTPUT_DIR/NAME-BACKEND.json`; returns the path."""
    path = args.json or output_file(args, name, "json")
    with open(path, "w") as f:
        json.dump(results, f, indent=2, default=str)
    print(f"results: {path}")
    return path


def add_backup_argument(parser):
    """Adds `--backup-dir`: a killed run, started again with the same command, resumes."""
    parser.add_argument(
        "--backup-dir",
        help="keep a backup of every training run here: started again with the same command, "
        "a killed run skips the runs that finished and resumes the one that did not "
        "(keras.callbacks.BackupAndRestore)",
    )


def _json_round_trip(value):
    """`value` as JSON gives it back, with integer keys kept integers."""

    def integer_keys(mapping):
        return {int(k) if k.lstrip("-").isdigit() else k: v for k, v in mapping.items()}

    return json.loads(json.dumps(value, default=str), object_hook=integer_keys)


def _write_whole(path, value):
    partial = path + ".partial"
    with open(partial, "w") as f:
        json.dump(value, f, default=str)
    os.replace(partial, path)


def resumable_run(args, key, compute):
    """The JSON-able result of one training run, `compute(backup_dir)`, kept under `--backup-dir`.

    Without `--backup-dir`, `compute(None)`. With it, a run whose result is
    kept (`BACKUP_DIR/KEY.json`) is not run again, and an unfinished one gets
    `BACKUP_DIR/KEY/` for its `BackupAndRestore`, which resumes it.
    """
    if args.backup_dir is None:
        return _json_round_trip(compute(None))
    os.makedirs(args.backup_dir, exist_ok=True)
    path = os.path.join(args.backup_dir, f"{key}.json")
    if os.path.exists(path):
        with open(path) as f:
            return _json_round_trip(json.load(f))
    result = _json_round_trip(compute(os.path.join(args.backup_dir, key)))
    _write_whole(path, result)
    return result


class KeptHistory(keras.callbacks.Callback):
    """The whole history of a `fit` that BackupAndRestore may resume, kept in `path`.

    `fit`'s own History holds the epochs of the last process only. This one
    is loaded when training begins, so it holds every epoch, with the training
    seconds of all processes (`seconds`) and a dict `extra` that other
    callbacks fill at the end of an epoch (list this one after them and
    before BackupAndRestore).
    """

    def __init__(self, path):
        super().__init__()
        self.path = path
        self.history, self.extra, self.seconds = {}, {}, 0.0
        self._previous_seconds, self._start = 0.0, None

    def on_train_begin(self, logs=None):
        self.history, saved_extra, self._previous_seconds = {}, {}, 0.0
        if os.path.exists(self.path):
            with open(self.path) as f:
                saved = _json_round_trip(json.load(f))
            self.history, saved_extra = saved["history"], saved["extra"]
            self._previous_seconds = saved["seconds"]
        self.extra.clear()
        self.extra.update(saved_extra)
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            # An epoch trained again after a kill replaces its first record.
            self.history[name] = self.history.get(name, [])[:epoch] + [float(value)]
        self.seconds = self._previous_seconds + time.perf_counter() - self._start
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        _write_whole(
            self.path, {"history": self.history, "extra": self.extra, "seconds": self.seconds}
        )
