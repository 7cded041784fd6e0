"""HSRU against LSTM on the regular-language tasks of Delétang et al. (ICLR 2023), their protocol.

Delétang et al., "Neural Networks and the Chomsky Hierarchy", train every
model on lengths drawn uniformly from 1 to 40 for every batch and score it by
the mean accuracy over every test length from 41 to 500. This runs that
protocol with keras' own tools on the four regular tasks of
`keras_hsru.tasks` (Parity Check, Even Pairs, Cycle Navigation, Modular
Arithmetic (Simple)): batches of 128 fresh sequences, one-hot tokens, the class
read after the last step by a Dense layer, AdamW 1e-3 with global clipping at
1.0, `--steps` steps; the same for `HSRU(units)` (`hsru`, the XOR memory),
`HSRU(units, memory_states=5)` (`hsru5`, a counter modulo 5), a cascade of
`HSRU(units, memory="reset", memory_states=k)` layers, one per k of
`--reset-states` (`hsru_reset`, counts that one step adds to or sets) and
`LSTM(units)` (`lstm`), every seed. Without `--models`, each task runs its
documented recipe (`RECIPES`: the models, their units and the cascade's k), so
that `--tasks modular_arithmetic --seeds 3` alone reproduces its rows;
`--models` runs the models named on every task, at 16 units and k = 4 then 5
unless `--units` and `--reset-states` say otherwise.
Each test length gets `--test-count` fresh sequences, scored together in
zero-padded batches that `keras.layers.Masking` skips (a one-hot token is never
all zeros). Beyond the score it reports the accuracy at `--long-lengths`
(10,000 by default), the training steps until the training accuracy of an
epoch of 500 steps first reached 99%, and the training time.

The word problems of four groups (Merrill et al., ICML 2024; `keras_hsru.tasks.WordProblem`:
Z_60, arbitrary increments; S_3 and D_4, solvable and not abelian; A_5, not solvable) run
under the same protocol when named in `--tasks` (`word_problem_z60`, `word_problem_s3`,
`word_problem_d4`, `word_problem_a5`); the default is the four regular tasks. `--save-dir DIR`
writes each trained model to `DIR/TASK-MODEL-seedN.keras`.

`--train-lengths 10 30 60` trains the paper's way instead: fixed lengths, one
curriculum stage each (`keras_hsru.callbacks.Curriculum`), `--steps` split
evenly among them; the steps to 99% then count from the first epoch of the
last stage that reached it.

    KERAS_BACKEND=jax python examples/regular_languages.py --tasks parity_check even_pairs
    KERAS_BACKEND=jax python examples/regular_languages.py --tasks cycle_navigation --models hsru5
    KERAS_BACKEND=jax python examples/regular_languages.py --tasks parity_check \
        --train-lengths 10 30 60 --steps 900 --batch 64 --learning-rate 3e-2 --models lstm
    KERAS_BACKEND=jax python examples/regular_languages.py --quick   # a smoke run
"""

import argparse
import functools
import os
import time

import keras
import numpy as np
from _outputs import add_output_arguments, write_json

import keras_hsru
from keras_hsru import tasks
from keras_hsru.callbacks import Curriculum

REGULAR_TASKS = {
    "parity_check": tasks.ParityCheck,
    "even_pairs": tasks.EvenPairs,
    "cycle_navigation": tasks.CycleNavigation,
    "modular_arithmetic": tasks.ModularArithmetic,
}
WORD_PROBLEMS = {
    f"word_problem_{group.lower()}": functools.partial(tasks.WordProblem, group=group)
    for group in ("Z60", "S3", "D4", "A5")
}
TASKS = {**REGULAR_TASKS, **WORD_PROBLEMS}
# HSRU with the paper's XOR memory (k = 2), HSRU with a counter modulo 5, a
# cascade of HSRU layers with reset counters (memory="reset"), LSTM.
MODELS = ("hsru", "hsru5", "hsru_reset", "lstm")
# What runs without --models: each task's documented recipe (docs/regular-languages.md),
# (model, units, the cascade's k per layer): the main table's models on the tasks a
# bit or a counter follows, the cascade that can hold the automaton beside the LSTM
# on the others (for Modular Arithmetic, the widths and k of the hand-set cascade's
# first two layers).
MAIN_TABLE = (("hsru", 16, None), ("hsru5", 16, None), ("lstm", 16, None))
RECIPES = {
    "parity_check": MAIN_TABLE,
    "even_pairs": MAIN_TABLE,
    "cycle_navigation": MAIN_TABLE,
    "modular_arithmetic": (("hsru_reset", 32, (4, 4, 5)), ("lstm", 16, None)),
    "word_problem_s3": (("hsru_reset", 16, (2, 3)), ("lstm", 16, None)),
    "word_problem_d4": (("hsru_reset", 16, (2, 4)), ("lstm", 16, None)),
    "word_problem_z60": (("hsru_reset", 16, (4, 3, 5)), ("lstm", 16, None)),
    "word_problem_a5": (("hsru_reset", 16, (4, 3, 5)), ("lstm", 16, None)),
}
# With --models, each named model on every task, with these unless given.
DEFAULT_UNITS = 16
DEFAULT_RESET_STATES = (4, 5)
LABELS = {"hsru": "HSRU", "hsru5": "HSRU k=5", "hsru_reset": "HSRU reset", "lstm": "LSTM"}
MEMORY_STATES = {"hsru": 2, "hsru5": 5}
STEPS_PER_EPOCH = 500
# Sequences times steps per scoring call: large enough to keep the calls few.
PADDED_BUDGET = 2_000_000


def build_model(
    kind,
    units,
    tokens,
    classes,
    counter_threshold=None,
    learning_rate=1e-3,
    reset_states=(4, 5),
    reset_tau=None,
):
    if kind == "hsru_reset":
        # One layer per count modulus, each reading the one below: a cascade.
        tau = None if reset_tau is None else keras.initializers.Constant(reset_tau)
        layers = [
            keras_hsru.HSRU(
                units,
                memory="reset",
                memory_states=k,
                tau_initializer=tau,
                return_sequences=i < len(reset_states) - 1,
            )
            for i, k in enumerate(reset_states)
        ]
    elif kind in MEMORY_STATES:
        threshold = None
        if MEMORY_STATES[kind] > 2 and counter_threshold is not None:
            threshold = keras.initializers.Constant(counter_threshold)
        layer = keras_hsru.HSRU(
            units, memory_states=MEMORY_STATES[kind], threshold_initializer=threshold
        )
        layers = [layer]
    else:
        layers = [keras.layers.LSTM(units)]
    model = keras.Sequential(
        [
            keras.Input((None, tokens)),
            keras.layers.Masking(0.0),
            *layers,
            keras.layers.Dense(classes),
        ]
    )
    model.compile(
        keras.optimizers.AdamW(learning_rate, global_clipnorm=1.0),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def accuracies(model, task, lengths, count, seed):
    """{length: accuracy on `count` fresh sequences}, several lengths per zero-padded call."""
    results = {}
    lengths = sorted(lengths)
    while lengths:
        group = [lengths.pop(0)]
        while lengths and (len(group) + 1) * count * lengths[0] <= PADDED_BUDGET:
            group.append(lengths.pop(0))
        longest = group[-1]
        xs, ys = [], []
        for length in group:
            x, y = task.sample(count, length=length, seed=seed + length)
            xs.append(np.pad(x, ((0, 0), (0, longest - x.shape[1]), (0, 0))))
            ys.append(y)
        # At most PADDED_BUDGET sequence-steps per batch: one length of 100,000
        # steps is predicted a few sequences at a time.
        batch_size = min(len(group) * count, max(1, PADDED_BUDGET // longest))
        logits = model.predict(np.concatenate(xs), batch_size=batch_size, verbose=0)
        right = logits.argmax(axis=-1) == np.concatenate(ys)
        for index, length in enumerate(group):
            results[length] = float(right[index * count : (index + 1) * count].mean())
    return results


def training_schedule(args):
    """(first length, steps per epoch, epochs, the first epoch whose 99% counts,
    callbacks' factory) for `args`' protocol: a length drawn per batch, or a
    curriculum of `--train-lengths`, where only the last stage counts (99% at
    the shortest length is not the task learnt)."""
    if args.train_lengths is None:
        per_epoch = min(STEPS_PER_EPOCH, args.steps)
        return (1, args.train_max_length), per_epoch, max(1, args.steps // per_epoch), 0, None
    stage_steps = args.steps // len(args.train_lengths)
    per_epoch = min(STEPS_PER_EPOCH, stage_steps)
    if stage_steps == 0 or args.steps % len(args.train_lengths) or stage_steps % per_epoch:
        raise ValueError(
            f"--steps must split into {len(args.train_lengths)} stages of whole epochs of at most "
            f"{STEPS_PER_EPOCH} steps. Received: --steps {args.steps}"
        )
    stage_epochs = stage_steps // per_epoch
    epochs = stage_epochs * len(args.train_lengths)
    return (
        args.train_lengths[0],
        per_epoch,
        epochs,
        epochs - stage_epochs,
        lambda train: [Curriculum(train, args.train_lengths, epochs_per_stage=stage_epochs)],
    )


def planned_models(task_name, args):
    """[(model, units, reset_states)] that run on `task_name`: its recipe without
    --models, else each of --models; --units and --reset-states apply to both."""
    if args.models is None:
        entries = RECIPES[task_name]
    else:
        entries = [(kind, DEFAULT_UNITS, DEFAULT_RESET_STATES) for kind in args.models]
    return [
        (
            kind,
            units if args.units is None else args.units,
            (tuple(args.reset_states or reset_states) if kind == "hsru_reset" else None),
        )
        for kind, units, reset_states in entries
    ]


def run(task_name, kind, units, reset_states, seed, args):
    keras.utils.set_random_seed(seed)
    length, per_epoch, epochs, counted_from, curriculum = training_schedule(args)
    train = TASKS[task_name](length, batch_size=args.batch, steps_per_epoch=per_epoch, seed=seed)
    model = build_model(
        kind,
        units,
        train.tokens,
        train.classes,
        args.counter_threshold,
        args.learning_rate,
        reset_states,
        args.reset_tau,
    )
    callbacks = curriculum(train) if curriculum else []
    start = time.perf_counter()
    history = model.fit(train, epochs=epochs, callbacks=callbacks, verbose=0).history
    seconds = time.perf_counter() - start
    solved = [
        e
        for e, accuracy in enumerate(history["accuracy"])
        if accuracy >= 0.99 and e >= counted_from
    ]
    saved = None
    if args.save_dir:
        os.makedirs(args.save_dir, exist_ok=True)
        saved = os.path.join(args.save_dir, f"{task_name}-{kind}-seed{seed}.keras")
        model.save(saved)
    test = accuracies(model, train, args.test_lengths, args.test_count, 10_000 * (seed + 1))
    long = accuracies(model, train, args.long_lengths, args.long_count, 20_000 * (seed + 1))
    return {
        "task": task_name,
        "model": kind,
        "units": units,
        "reset_states": None if reset_states is None else list(reset_states),
        "seed": seed,
        "parameters": model.count_params(),
        "score": float(np.mean(list(test.values()))),
        "test_accuracy": test,
        "long_accuracy": long,
        "train_accuracy": history["accuracy"],
        "steps_to_99": None if not solved else (solved[0] + 1) * per_epoch,
        # Each epoch's training length under a curriculum (None: drawn per batch).
        "epoch_lengths": [int(n) for n in history["sequence_length"]] if curriculum else None,
        "train_seconds": seconds,
        "saved": saved,
    }


def summary(runs, args):
    """One row per task and model: the score's max and mean over seeds, and the rest."""
    rows = []
    for task_name in args.tasks:
        for kind, _, _ in planned_models(task_name, args):
            mine = [r for r in runs if r["task"] == task_name and r["model"] == kind]
            scores = [r["score"] for r in mine]
            row = {
                "task": task_name,
                "model": kind,
                "units": mine[0]["units"],
                "reset_states": mine[0]["reset_states"],
                "parameters": mine[0]["parameters"],
                "score_max": max(scores),
                "score_mean": float(np.mean(scores)),
                "scores": scores,
                "steps_to_99": [r["steps_to_99"] for r in mine],
                "train_seconds_mean": float(np.mean([r["train_seconds"] for r in mine])),
            }
            for length in args.long_lengths:
                row[f"accuracy_at_{length}"] = [r["long_accuracy"][length] for r in mine]
            rows.append(row)
    return rows


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", nargs="+", default=list(REGULAR_TASKS), choices=list(TASKS))
    parser.add_argument(
        "--models",
        nargs="+",
        choices=list(MODELS),
        help="run these on every task (default: each task's recipe, RECIPES)",
    )
    parser.add_argument(
        "--units",
        type=int,
        default=None,
        help=f"units a layer (default: the recipe's, or {DEFAULT_UNITS})",
    )
    parser.add_argument("--counter-threshold", type=float, default=None,
                        help="initial threshold of HSRU k=5 (default: the package's)")  # fmt: skip
    parser.add_argument(
        "--reset-states",
        type=int,
        nargs="+",
        default=None,
        help="hsru_reset: the count modulus k of each layer, bottom first "
        f"(default: the recipe's, or {' '.join(map(str, DEFAULT_RESET_STATES))})",
    )
    parser.add_argument("--reset-tau", type=float, default=None,
                        help="hsru_reset: every unit's initial tau (decay exp(-softplus(tau))); "
                        "default: the package's")  # fmt: skip
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10_000, help="training steps per run")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--train-max-length", type=int, default=40)
    parser.add_argument("--train-lengths", type=int, nargs="+",
                        help="fixed training lengths, a curriculum stage each (the paper's: "
                        "10 30 60); by default a length drawn per batch from 1 to "
                        "--train-max-length")  # fmt: skip
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="AdamW's")
    parser.add_argument("--test-lengths", type=int, nargs=2, default=[41, 500],
                        metavar=("FIRST", "LAST"))  # fmt: skip
    parser.add_argument("--test-count", type=int, default=64, help="sequences per test length")
    parser.add_argument("--long-lengths", type=int, nargs="+", default=[10_000])
    parser.add_argument("--long-count", type=int, default=128)
    parser.add_argument("--save-dir", help="write each trained model here as a .keras file")
    parser.add_argument("--quick", action="store_true", help="a few steps, for tests")
    add_output_arguments(parser)
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.batch, args.units = 1, 16, 4
        args.steps = 2 * len(args.train_lengths or [0, 0])  # two steps a stage
        args.train_max_length, args.test_lengths, args.test_count = 6, [7, 8], 8
        args.long_lengths, args.long_count = [30], 8
    first, last = args.test_lengths
    if not 0 < first <= last:
        raise ValueError(f"--test-lengths must be 0 < FIRST <= LAST. Received: {first} {last}")
    args.test_lengths = list(range(first, last + 1))
    if args.train_lengths is not None and min(args.train_lengths) < 1:
        raise ValueError(f"--train-lengths must be positive. Received: {args.train_lengths}")
    training_schedule(args)  # checks that --steps splits into the curriculum's stages

    runs = []
    for task_name in args.tasks:
        for kind, units, reset_states in planned_models(task_name, args):
            for seed in range(args.seeds):
                result = run(task_name, kind, units, reset_states, seed, args)
                runs.append(result)
                long = ", ".join(f"{a:.4f} at L={n}" for n, a in result["long_accuracy"].items())
                print(
                    f"{task_name:18s} {LABELS[kind]:8s} seed {seed}: score {result['score']:.4f} "
                    f"(L={first}..{last}), {long}, 99% after {result['steps_to_99']} steps, "
                    f"{result['train_seconds']:.0f} s",
                    flush=True,
                )
    rows = summary(runs, args)
    print("\n| task | model | parameters | score, max | score, mean | " + " | ".join(
        f"accuracy at {n:,} per seed" for n in args.long_lengths
    ) + " | steps to 99% per seed |")  # fmt: skip
    print("| --- | --- | ---: | ---: | ---: |" + " --- |" * (len(args.long_lengths) + 1))
    for row in rows:
        long = " | ".join(
            ", ".join(f"{a:.2%}" for a in row[f"accuracy_at_{n}"]) for n in args.long_lengths
        )
        print(
            f"| {row['task']} | {LABELS[row['model']]} | {row['parameters']} | "
            f"{row['score_max']:.2%} | {row['score_mean']:.2%} | {long} | "
            f"{', '.join(str(s) for s in row['steps_to_99'])} |"
        )
    cascades = any(run["reset_states"] for run in runs)
    write_json(
        args,
        "regular_languages",
        {
            "backend": keras.backend.backend(),
            # As given (None: each run's, from its task's recipe or the defaults).
            "units": args.units,
            "counter_threshold": args.counter_threshold,
            # hsru_reset's layers (the k of each, as given) and initial tau, where it ran.
            "reset_states": args.reset_states if cascades else None,
            "reset_tau": args.reset_tau if cascades else None,
            "steps": args.steps,
            "batch": args.batch,
            "learning_rate": args.learning_rate,
            # The range lengths are drawn from, or None under a curriculum.
            "train_lengths": None if args.train_lengths else [1, args.train_max_length],
            "curriculum": args.train_lengths,
            "test_lengths": [first, last],
            "test_count": args.test_count,
            "long_lengths": args.long_lengths,
            "long_count": args.long_count,
            "summary": rows,
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
