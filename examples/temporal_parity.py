"""The paper's main experiment: temporal parity with a curriculum, HSRU vs LSTM vs AnalogOnly.

Each model trains with `model.fit` on fresh random bit streams through the
curriculum 10 -> 30 -> 60 (`keras_hsru.callbacks.Curriculum`, a fixed number
of epochs per stage), AdamW with global gradient clipping at 1.0, for several
seeds. The table gives, per stage, the best validation accuracy during the
stage (the paper's Table 1 layout) and the accuracy on 10,000 fresh test
sequences at the end of the stage, as mean and worst over seeds. The HSRU
models trained at L <= 60 are then tested at far longer lengths.

    KERAS_BACKEND=jax python examples/temporal_parity.py          # 3 seeds, ~3 min on 2 CPU cores
    KERAS_BACKEND=jax python examples/temporal_parity.py --full   # LR sweep, 10 seeds, up to L=100,000
    KERAS_BACKEND=torch python examples/temporal_parity.py --quick  # a smoke run

With `--backup-dir DIR` every training run keeps a backup (BackupAndRestore,
the curriculum's state, the whole history): a killed run, started again with
the same command, skips the runs that finished and resumes the unfinished one
where its last epoch ended, to the results of an uninterrupted run.

Without `--full` the learning rates are the ones the `--full` sweep chose
(`LEARNING_RATES` in `_parity.py`; the docs' "Reproducing the paper" shows the sweep).
"""

import argparse

import keras
import numpy as np
from _outputs import (
    add_backup_argument,
    add_output_arguments,
    output_file,
    resumable_run,
    write_json,
)
from _parity import LABELS, LEARNING_RATES, MODELS, train

SWEEP = (1e-3, 3e-3, 1e-2, 3e-2)
SWEEP_SEEDS = (100, 101)


def sweep(kind, args):
    """Scores each learning rate by its validation accuracy, averaged over the sweep's seeds.

    The score is the mean over the last stage's epochs; ties (several rates
    at 100%) go to the higher mean over all epochs, i.e. the rate that
    learns sooner and more steadily.
    """
    scores = {}
    for learning_rate in SWEEP:
        runs = [
            resumable_run(
                args,
                f"{run_key(args)}-sweep-{kind}-lr{learning_rate:g}-seed{seed}",
                lambda backup, seed=seed, rate=learning_rate: train(
                    kind, rate, seed, args, backup_dir=backup
                )[2],
            )
            for seed in SWEEP_SEEDS
        ]
        last_stage = [
            accuracy
            for run in runs
            for accuracy, length in zip(run["val_accuracy"], run["sequence_length"])
            if length == args.lengths[-1]
        ]
        all_epochs = [accuracy for run in runs for accuracy in run["val_accuracy"]]
        scores[learning_rate] = (float(np.mean(last_stage)), float(np.mean(all_epochs)))
        print(
            f"  sweep {LABELS[kind]} lr={learning_rate:g}: last stage {scores[learning_rate][0]:.4f}, "
            f"all epochs {scores[learning_rate][1]:.4f}",
            flush=True,
        )
    return max(SWEEP, key=lambda lr: scores[lr]), scores


def run_key(args):
    """What a kept run's result depends on besides model, rate and seed: a backup
    directory reused with other settings trains again instead of reusing it."""
    lengths = "x".join(str(length) for length in args.lengths)
    return f"u{args.units}-L{lengths}-steps{args.steps}-e{args.epochs_per_stage}-t{args.test_count}"


def summarize(values):
    return {"mean": float(np.mean(values)), "worst": float(np.min(values))}


def plot_curves(results, lengths, epochs_per_stage, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for kind, runs in results.items():
        curves = np.array([run["val_accuracy"] for run in runs])
        epochs = np.arange(1, curves.shape[1] + 1)
        ax.plot(epochs, curves.mean(0), label=LABELS[kind])
        ax.fill_between(epochs, curves.min(0), curves.max(0), alpha=0.2)
    for stage, length in enumerate(lengths):
        ax.axvline(stage * epochs_per_stage + 0.5, color="grey", lw=0.5)
        ax.text(stage * epochs_per_stage + 0.7, 0.42, f"L={length}", fontsize=8)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_ylim(0.4, 1.02)
    ax.set_title("Temporal parity, curriculum (mean, band: min-max over seeds)")
    ax.legend(loc="center right")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="LR sweep, 10 seeds, L up to 100,000")
    parser.add_argument("--quick", action="store_true", help="a few steps, for tests")
    parser.add_argument("--seeds", type=int, help="seeds per model (default 3, 10 with --full)")
    parser.add_argument("--units", type=int, default=16)
    add_output_arguments(parser)
    add_backup_argument(parser)
    args = parser.parse_args()
    args.lengths = [10, 30, 60]
    args.steps, args.epochs_per_stage, args.test_count = 100, 3, 10_000
    generalization = {1_000: 1_000, 10_000: 1_000}  # length: test sequences
    if args.full:
        generalization = {1_000: 10_000, 10_000: 10_000, 100_000: 1_000}
    if args.quick:
        args.lengths, args.steps, args.epochs_per_stage, args.test_count = [4, 6], 3, 1, 100
        generalization = {50: 100}
    seeds = args.seeds or (10 if args.full else 1 if args.quick else 3)
    backend = keras.backend.backend()
    print(f"backend {backend}, curriculum {args.lengths}, {seeds} seeds", flush=True)

    learning_rates, sweep_scores = dict(LEARNING_RATES), {}
    if args.full:
        for kind in MODELS:
            learning_rates[kind], sweep_scores[kind] = sweep(kind, args)

    results, generalized = {}, {}
    for kind in MODELS:
        results[kind] = []
        for seed in range(seeds):

            def run_seed(backup, kind=kind, seed=seed):
                model, test, run = train(kind, learning_rates[kind], seed, args, backup_dir=backup)
                if kind == "hsru":
                    run["generalized"] = {
                        length: test.evaluate(
                            model, count, length=length, chunk_size=100, seed=seed
                        )["accuracy"]
                        for length, count in generalization.items()
                    }
                return run

            key = f"{run_key(args)}-{kind}-lr{learning_rates[kind]:g}-seed{seed}"
            key += "-test" + "x".join(f"{n}_{c}" for n, c in generalization.items())
            run = resumable_run(args, key, run_seed)
            results[kind].append(run)
            line = ", ".join(f"L={k}: {v:.4f}" for k, v in run["test_accuracy"].items())
            print(
                f"{LABELS[kind]} seed {seed}: test {line} ({run['train_seconds']:.0f} s)",
                flush=True,
            )
            for length, accuracy in run.get("generalized", {}).items():
                generalized.setdefault(length, []).append(accuracy)
                print(f"  HSRU seed {seed} at L={length}: {accuracy:.4f}", flush=True)

    final = args.lengths[-1]
    print(f"\nTable 1 (best validation accuracy per stage, mean / worst over {seeds} seeds)")
    print("| Stage | " + " | ".join(LABELS[k] for k in MODELS) + " |")
    print("|---" * (len(MODELS) + 1) + "|")
    table = {}
    for length in args.lengths:
        cells, table[length] = [], {}
        for kind in MODELS:
            best = summarize([run["best_val_accuracy"][length] for run in results[kind]])
            test = summarize([run["test_accuracy"][length] for run in results[kind]])
            table[length][kind] = {"best_val_accuracy": best, "test_accuracy": test}
            cells.append(
                f"{100 * best['mean']:.2f}% / {100 * best['worst']:.2f}% "
                f"(test {100 * test['mean']:.2f}% / {100 * test['worst']:.2f}%)"
            )
        print(f"| L={length} | " + " | ".join(cells) + " |")
    perfect = sum(run["test_accuracy"][final] == 1.0 for run in results["hsru"])
    print(
        f"\nHSRU seeds at 100% on {args.test_count} test sequences at L={final}: {perfect}/{seeds}"
    )
    for length, accuracies in generalized.items():
        stats = summarize(accuracies)
        print(
            f"HSRU trained at L<={final}, tested at L={length} ({generalization[length]} sequences): "
            f"mean {100 * stats['mean']:.2f}%, worst {100 * stats['worst']:.2f}%, "
            f">=99% in {sum(a >= 0.99 for a in accuracies)}/{seeds} seeds"
        )

    mode = "-full" if args.full else ""
    figure = output_file(args, f"temporal_parity{mode}", "png")
    plot_curves(results, args.lengths, args.epochs_per_stage, figure)
    print(f"figure: {figure}")
    write_json(
        args,
        "temporal_parity" + mode,
        {
            "backend": backend,
            "lengths": args.lengths,
            "seeds": seeds,
            "steps_per_epoch": args.steps,
            "epochs_per_stage": args.epochs_per_stage,
            "batch_size": 64,
            "units": args.units,
            "learning_rates": learning_rates,
            "sweep": {k: {str(lr): v for lr, v in s.items()} for k, s in sweep_scores.items()},
            "table": {str(length): row for length, row in table.items()},
            "hsru_perfect_seeds_at_final_length": perfect,
            "generalization": {
                str(length): {"sequences": generalization[length], "accuracy": accs}
                for length, accs in generalized.items()
            },
            "runs": results,
            "figure": figure,
        },
    )


if __name__ == "__main__":
    main()
