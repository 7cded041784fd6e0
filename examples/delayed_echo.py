"""The paper's sanity check: delayed echo, y_t = x_{t-1}, learned by an HSRU network.

An `HSRURNN` with a per-step linear head trains with `model.fit` on fresh
sequences of uniform noise in [-1, 1] (MSE loss, AdamW, global clipnorm 1.0)
and is scored by its MSE on 10,000 fresh test sequences, for several seeds.
For scale: predicting 0 scores 1/3, copying the current input 2/3. The paper
reports a validation MSE of 0.005993. The figure overlays prediction and
target on one test sequence.

    KERAS_BACKEND=jax python examples/delayed_echo.py            # ~1 minute on 2 CPU cores
    KERAS_BACKEND=torch python examples/delayed_echo.py --quick  # a smoke run
"""

import argparse

import keras
import numpy as np
from _outputs import add_output_arguments, output_file, write_json

from keras_hsru.models import HSRURNN
from keras_hsru.tasks import DelayedEcho

PAPER_MSE = 0.005993


def train(seed, args):
    keras.utils.set_random_seed(seed)
    model = HSRURNN(args.units, output_activation=None, return_sequences=True)
    model.compile(keras.optimizers.AdamW(args.learning_rate, global_clipnorm=1.0), "mse")
    task = DelayedEcho(args.length, batch_size=64, steps_per_epoch=args.steps, seed=seed)
    history = model.fit(task, epochs=args.epochs, verbose=0).history
    test_mse = task.evaluate(model, args.test_count, seed=seed + 10_000)["loss"]
    return model, task, history["loss"], test_mse


def plot_echo(model, task, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y = task.sample(1, seed=0)
    prediction = keras.ops.convert_to_numpy(model(x))
    fig, ax = plt.subplots(figsize=(6.4, 2.6))
    ax.plot(y[0, :, 0], label="target x_{t-1}", lw=2, color="grey")
    ax.plot(prediction[0, :, 0], "--", label="HSRU prediction", color="C1")
    ax.set_xlabel("t")
    ax.set_title("Delayed echo on a test sequence")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--length", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--quick", action="store_true", help="a few steps, for tests")
    add_output_arguments(parser)
    args = parser.parse_args()
    args.steps, args.test_count = 100, 10_000
    if args.quick:
        args.seeds, args.epochs, args.steps, args.test_count = 1, 1, 5, 200
    backend = keras.backend.backend()

    results = []
    for seed in range(args.seeds):
        model, task, losses, test_mse = train(seed, args)
        results.append({"seed": seed, "train_loss": losses, "test_mse": test_mse})
        print(f"seed {seed}: test MSE {test_mse:.6f} on {args.test_count} sequences", flush=True)
        if seed == 0:
            figure = output_file(args, "delayed_echo", "png")
            plot_echo(model, task, figure)

    mses = [r["test_mse"] for r in results]
    print(
        f"\ndelayed echo, L={args.length}, {backend}: test MSE mean {np.mean(mses):.6f}, "
        f"worst {np.max(mses):.6f} over {args.seeds} seeds (paper: {PAPER_MSE}; "
        f"predicting 0: {1 / 3:.3f})"
    )
    print(f"figure: {figure}")
    write_json(
        args,
        "delayed_echo",
        {
            "backend": backend,
            "length": args.length,
            "units": args.units,
            "epochs": args.epochs,
            "steps_per_epoch": args.steps,
            "learning_rate": args.learning_rate,
            "test_sequences": args.test_count,
            "test_mse_mean": float(np.mean(mses)),
            "test_mse_worst": float(np.max(mses)),
            "paper_mse": PAPER_MSE,
            "runs": results,
            "figure": figure,
        },
    )


if __name__ == "__main__":
    main()
