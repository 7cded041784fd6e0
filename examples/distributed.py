"""Distributed training of an HSRU model with each backend's own engine, against one device.

Trains the same model (`HSRU(8)` and a `Dense(1)` head, MSE, SGD) for a few steps on the same
batches twice: on one device, and distributed over two. Prints the losses of both and the
largest difference in the weights after training, and exits non-zero if they differ by more
than `--tolerance`.

    python examples/distributed.py --engine jax          # keras.distribution.DataParallel
    python examples/distributed.py --engine jax-model    # ModelParallel: HSRU's units sharded
    python examples/distributed.py --engine tensorflow   # tf.distribute.MirroredStrategy
    torchrun --nproc-per-node 2 examples/distributed.py --engine torch   # DistributedDataParallel

On a machine without accelerators the two devices are virtual CPU devices (JAX, TensorFlow)
or two processes (torch, gloo). The engine picks the backend: the script sets KERAS_BACKEND.
With `jax-model` it also compiles HSRU's scan alone with its inputs sharded along the units
axis and reports the collective operations in the compiled program (none: each unit's scan is
independent).
"""

import argparse
import json
import os
import sys

ENGINES = {"jax": "jax", "jax-model": "jax", "tensorflow": "tensorflow", "torch": "torch"}
BATCH, LENGTH, FEATURES, UNITS, STEPS = 8, 24, 3, 8, 4


def parse_arguments():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", choices=sorted(ENGINES), required=True)
    parser.add_argument(
        "--tolerance",
        type=float,
        default=1e-4,
        help="largest difference allowed (float32 sums in another order differ by about 1e-6 per step)",
    )
    parser.add_argument("--quick", action="store_true", help="the default size already is")
    parser.add_argument("--json", help="write the results to this JSON file")
    parser.add_argument("--output-dir", help="unused: this example writes no figures")
    return parser.parse_args()


def setup(engine):
    """The backend and two devices, set up before the framework is imported."""
    os.environ["KERAS_BACKEND"] = ENGINES[engine]
    if ENGINES[engine] == "jax":
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_force_host_platform_device_count" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count=2"
    if engine == "tensorflow":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )


def data():
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(STEPS, BATCH, LENGTH, FEATURES)).astype("float32")
    y = rng.normal(size=(STEPS, BATCH, 1)).astype("float32")
    return x, y


def make_model():
    import keras

    import keras_hsru

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((LENGTH, FEATURES)),
            keras_hsru.HSRU(UNITS, name="hsru"),
            keras.layers.Dense(1, name="head"),
        ]
    )
    model.compile(keras.optimizers.SGD(0.02), "mse")
    return model


def train_keras(model):
    x, y = data()
    losses = [float(model.train_on_batch(x[i], y[i])) for i in range(STEPS)]
    return losses, [w.copy() for w in model.get_weights()]


def run_jax(engine):
    import jax
    import keras

    single = train_keras(make_model())
    devices = jax.devices()
    if len(devices) < 2:
        raise ValueError(f"Needs 2 devices. Received: jax.devices()={devices}")
    report = {"devices": [str(d) for d in devices[:2]]}
    if engine == "jax":
        distribution = keras.distribution.DataParallel(devices=devices[:2])
    else:
        mesh = keras.distribution.DeviceMesh((1, 2), ["batch", "model"], devices[:2])
        layout_map = keras.distribution.LayoutMap(mesh)
        # Every HSRU weight with a units axis is sharded along it.
        layout_map[".*hsru/.*input_kernel"] = (None, "model")
        layout_map[".*hsru/.*(input_bias|tau|threshold|output_bias)"] = ("model",)
        layout_map[".*hsru/.*output_kernel"] = (None, "model")
        distribution = keras.distribution.ModelParallel(
            layout_map=layout_map, batch_dim_name="batch"
        )
        report["scan_collectives"] = scan_collectives(devices[:2])
    keras.distribution.set_distribution(distribution)
    model = make_model()
    if engine == "jax-model":
        kernel = model.get_layer("hsru").cell.input_kernel
        report["input_kernel_sharding"] = str(kernel.value.sharding.spec)
    distributed = train_keras(model)
    keras.distribution.set_distribution(None)
    return single, distributed, report


def scan_collectives(devices):
    """The collective ops in HSRU's compiled scan, its inputs sharded along units."""
    import jax
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    from keras_hsru import ops

    mesh = Mesh(np.array(devices), ("model",))
    per_unit = NamedSharding(mesh, PartitionSpec("model"))
    sequence = NamedSharding(mesh, PartitionSpec(None, None, "model"))
    state = NamedSharding(mesh, PartitionSpec(None, "model"))
    rng = np.random.default_rng(0)
    decay = jax.device_put(rng.uniform(0.1, 0.9, UNITS).astype("float32"), per_unit)
    current = jax.device_put(rng.normal(size=(BATCH, LENGTH, UNITS)).astype("float32"), sequence)
    threshold = jax.device_put(np.zeros(UNITS, "float32"), per_unit)
    zeros = jax.device_put(np.zeros((BATCH, UNITS), "float32"), state)

    def loss(decay, current, threshold, v0, d0):
        v, d = ops.hybrid_scan(decay, current, threshold, 5.0, v0, d0)
        return (v * d).sum()

    train = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))
    text = train.lower(decay, current, threshold, zeros, zeros).compile().as_text()
    names = ("all-gather", "all-reduce", "reduce-scatter", "collective-permute", "all-to-all")
    # The gradients of the per-unit weights sum over batch and time, within each unit.
    return {name: text.count(f" {name}(") + text.count(f" {name}-start(") for name in names}


def run_tensorflow():
    import keras
    import tensorflow as tf

    x, y = data()

    def fit(model):
        # A dataset, so that the strategy splits each batch between the replicas.
        dataset = tf.data.Dataset.from_tensor_slices(
            (x.reshape(-1, LENGTH, FEATURES), y.reshape(-1, 1))
        ).batch(BATCH)
        losses = []
        logger = keras.callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs: losses.append(float(logs["loss"]))
        )
        model.fit(dataset, epochs=1, shuffle=False, verbose=0, callbacks=[logger])
        return losses, [w.copy() for w in model.get_weights()]

    single = fit(make_model())
    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
    strategy = tf.distribute.MirroredStrategy(devices)
    with strategy.scope():
        model = make_model()
    report = {"devices": devices, "replicas": strategy.num_replicas_in_sync}
    return single, fit(model), report


def run_torch():
    import keras
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    if world != 2:
        raise ValueError(f"Run under `torchrun --nproc-per-node 2`. Received: world={world}")
    x, y = (torch.tensor(a) for a in data())

    def train(model, shard):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.02)
        losses = []
        for i in range(STEPS):
            inputs, targets = x[i], y[i]
            if shard:
                half = BATCH // world
                inputs = inputs[rank * half : (rank + 1) * half]
                targets = targets[rank * half : (rank + 1) * half]
            optimizer.zero_grad()
            loss = torch.mean((model(inputs) - targets) ** 2)
            loss.backward()
            optimizer.step()
            if shard:  # the mean over both halves, as one device sees it
                loss = loss.detach().clone()
                dist.all_reduce(loss)
                loss = loss / world
            losses.append(float(loss.detach()))
        return losses

    single_model = make_model()
    single = (train(single_model, shard=False), [w.copy() for w in single_model.get_weights()])
    model = make_model()
    wrapped = torch.nn.parallel.DistributedDataParallel(model)
    losses = train(wrapped, shard=True)
    distributed = (losses, [keras.ops.convert_to_numpy(w) for w in model.weights])
    return single, distributed, {"rank": rank, "world": world}


def main():
    args = parse_arguments()
    setup(args.engine)
    import numpy as np

    if ENGINES[args.engine] == "jax":
        single, distributed, report = run_jax(args.engine)
    elif args.engine == "tensorflow":
        single, distributed, report = run_tensorflow()
    else:
        single, distributed, report = run_torch()
    (single_losses, single_weights), (losses, weights) = single, distributed
    weight_difference = max(
        float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(a)))))
        for a, b in zip(single_weights, weights)
    )
    loss_difference = max(abs(a - b) for a, b in zip(single_losses, losses))
    report.update(
        engine=args.engine,
        single_device_losses=single_losses,
        distributed_losses=losses,
        max_loss_difference=loss_difference,
        max_relative_weight_difference=weight_difference,
        tolerance=args.tolerance,
    )
    if report.get("rank", 0) == 0:
        print(json.dumps(report, indent=2))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=2)
    if args.engine == "torch":
        import torch.distributed as dist

        # Both processes leave together: one still in gloo's threads while the other
        # exits aborts the run.
        dist.barrier()
        dist.destroy_process_group()
    collectives = sum(report.get("scan_collectives", {}).values())
    if max(loss_difference, weight_difference) > args.tolerance or collectives:
        sys.exit(f"distributed training differs from one device: {report}")


if __name__ == "__main__":
    main()
