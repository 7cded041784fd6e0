"""The mechanism at work: input bits, V, the spikes and D of a trained parity model.

Trains `HSRURNN(16)` on temporal parity through the curriculum 10 -> 31 -> 60
(the streaming example's recipe) with `SpikeMonitor` logging each epoch's spike
and memory rates, then draws one test sequence of 60 steps: the input bits,
every unit's analog potential V,
its spikes and its digital memory D (`HSRU.spike_activity`), and the running
parity beside the model's answer after every prefix of the sequence.

    KERAS_BACKEND=jax python examples/spike_raster.py           # ~30 s on 2 CPU cores
    KERAS_BACKEND=jax python examples/spike_raster.py --quick   # a smoke run

With `--spike-rate-target R` the HSRU layer trains under
`SpikeRateRegularizer(target=R, weight=--spike-rate-weight)`.
"""

import argparse

import keras
import numpy as np
from _outputs import add_output_arguments, output_file, write_json

import keras_hsru
from keras_hsru.callbacks import Curriculum, SpikeMonitor
from keras_hsru.models import HSRURNN
from keras_hsru.regularizers import SpikeRateRegularizer
from keras_hsru.tasks import TemporalParity


def plot(bits, activity, parity, answers, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    potential, spikes, memory = (activity[k] for k in ("potential", "spikes", "memory"))
    length = bits.shape[0]
    figure, axes = plt.subplots(
        5, 1, figsize=(9, 7.5), sharex=True, gridspec_kw={"height_ratios": [0.6, 2, 2, 2, 1.2]}
    )
    steps = np.arange(length)
    axes[0].bar(steps, bits, width=0.8, color="black")
    axes[0].set_ylabel("input x")
    axes[0].set_yticks([0, 1])
    limit = np.abs(potential).max()
    panels = (
        (axes[1], potential, "V (potential)", "coolwarm", -limit, limit),
        (axes[2], spikes, "S (spikes)", "Greys", 0, 1),
        (axes[3], memory, "D (memory)", "Greys", 0, 1),
    )
    for axis, values, label, colours, low, high in panels:
        image = axis.imshow(
            values.T, aspect="auto", cmap=colours, vmin=low, vmax=high, interpolation="nearest"
        )
        axis.set_ylabel(f"{label}\nunit")
        figure.colorbar(image, ax=axis, pad=0.01)
    axes[4].step(steps, parity, where="mid", color="tab:orange", label="running parity of x")
    axes[4].step(
        steps, answers + 0.04, where="mid", color="black", label="the model's answer at step t"
    )
    axes[4].set_yticks([0, 1])
    axes[4].set_xlabel("time step")
    axes[4].legend(loc="upper right", fontsize=8, ncol=2)
    every = 1 if potential.shape[1] <= 8 else 4
    for axis in axes[1:4]:
        axis.set_yticks(range(0, potential.shape[1], every))
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--length", type=int, default=60, help="the drawn sequence's length")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spike-rate-target", type=float, help="train with a SpikeRateRegularizer")
    parser.add_argument("--spike-rate-weight", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="a few steps, for tests")
    add_output_arguments(parser)
    args = parser.parse_args()
    # Lengths of both parities: trained on even lengths only, a model may read the
    # parity of the length along with that of the bits, and answer odd prefixes wrong.
    lengths, steps, epochs_per_stage = ([10, 31, 60], 100, 3) if not args.quick else ([4, 7], 3, 1)

    keras.utils.set_random_seed(args.seed)
    train = TemporalParity(lengths[0], batch_size=64, steps_per_epoch=steps, seed=args.seed)
    val = TemporalParity(lengths[0], batch_size=64, steps_per_epoch=4, seed=args.seed + 1)
    layer_arguments = {}
    if args.spike_rate_target is not None:
        layer_arguments["spike_rate_regularizer"] = SpikeRateRegularizer(
            args.spike_rate_target, weight=args.spike_rate_weight
        )
    model = HSRURNN(args.units, layer_arguments=layer_arguments)
    model.compile(
        keras.optimizers.AdamW(3e-3, global_clipnorm=1.0),
        "binary_crossentropy",
        metrics=["accuracy"],
    )
    curriculum = Curriculum([train, val], lengths=lengths, epochs_per_stage=epochs_per_stage)
    monitor = SpikeMonitor(val.sample(256, length=lengths[-1], seed=args.seed + 2))
    history = model.fit(
        train,
        validation_data=val,
        epochs=epochs_per_stage * len(lengths),
        callbacks=[curriculum, monitor],
        verbose=0,
    ).history
    for epoch, length in enumerate(history["sequence_length"]):
        print(
            f"epoch {epoch + 1} (L={length}): val accuracy {history['val_accuracy'][epoch]:.4f}, "
            f"spike rate {history['recurrent_0/spike_rate'][epoch]:.3f}, "
            f"memory rate {history['recurrent_0/memory_rate'][epoch]:.3f}"
        )
    test = TemporalParity(args.length, seed=args.seed + 3)
    accuracy = test.evaluate(model, 1000, length=args.length, seed=args.seed + 3)["accuracy"]
    print(f"test accuracy at L={args.length}: {accuracy:.4f}")

    x, _ = test.sample(1, length=args.length, seed=args.seed + 4)
    layer = model.recurrent_layers[0]
    activity = {k: keras.ops.convert_to_numpy(v)[0] for k, v in layer.spike_activity(x).items()}
    bits = x[0, :, 0]
    parity = np.cumsum(bits) % 2
    # The model's answer after every prefix: the head read at each step. The
    # model is trained on whole sequences only; that it answers every prefix
    # right is its length generalization, step by step.
    outputs = layer.cell.readout(
        keras.ops.convert_to_tensor(activity["potential"][None]),
        keras.ops.convert_to_tensor(activity["memory"][None]),
    )
    answers = (keras.ops.convert_to_numpy(model.head(outputs))[0, :, 0] > 0.5).astype(float)
    agreement = float(np.mean(answers == parity))
    print(f"the answer after each prefix is its parity at {100 * agreement:.1f}% of the steps")
    # Two kinds of unit: clocks, which fire at (nearly) every step, so that D
    # alternates with the step count; and counters, which fire (nearly) exactly
    # at the ones of the input (or at its zeros), so that D holds a running count
    # of them modulo 2.
    spikes = activity["spikes"]
    clocks = [u for u in range(args.units) if spikes[:, u].mean() >= 0.95]
    counters = [
        u
        for u in range(args.units)
        if u not in clocks
        and max(np.mean(spikes[:, u] == bits), np.mean(spikes[:, u] == 1 - bits)) >= 0.95
    ]
    print(f"clock units (fire at >= 95% of steps): {clocks}")
    print(f"counter units (fire at the ones, or the zeros, at >= 95% of steps): {counters}")
    name = "spike_raster" if args.spike_rate_target is None else "spike_raster-target"
    figure = output_file(args, name, "png")
    plot(bits, activity, parity, answers, figure)
    print(f"figure: {figure}")
    write_json(
        args,
        name,
        {
            "spike_rate_target": args.spike_rate_target,
            "spike_rate_weight": args.spike_rate_weight,
            "backend": keras.backend.backend(),
            "keras_hsru": keras_hsru.__version__,
            "units": args.units,
            "lengths": lengths,
            "steps_per_epoch": steps,
            "epochs_per_stage": epochs_per_stage,
            "history": history,
            "test_accuracy": accuracy,
            "test_length": args.length,
            "prefix_answers_correct": agreement,
            "clock_units": clocks,
            "counter_units": counters,
            "figure": figure,
        },
    )


if __name__ == "__main__":
    main()
