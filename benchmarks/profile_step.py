"""Where an HSRU train step spends its time on the current backend (torch: per-op table).

KERAS_BACKEND=torch python benchmarks/profile_step.py --batch 64 --features 64 --units 256 --length 4096
"""

import argparse
import time

import keras
import numpy as np
from harness import check_positive

import keras_hsru


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--length", type=int, default=1024)
    args = parser.parse_args()
    check_positive(args, ("batch", "features", "units", "length"))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, args.length, args.features)).astype("float32")
    y = rng.normal(size=(args.batch, 1)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((args.length, args.features)),
            keras_hsru.HSRU(args.units, return_sequences=True),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.AdamW(1e-3, global_clipnorm=1.0), "mse")
    for _ in range(3):
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(5):
        model.train_on_batch(x, y)
    print(f"train step: {(time.perf_counter() - start) / 5 * 1e3:.2f} ms")
    if keras.backend.backend() == "torch":
        import torch
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU]
        if torch.cuda.is_available():
            activities.append(ProfilerActivity.CUDA)
        with profile(activities=activities) as prof:
            for _ in range(3):
                model.train_on_batch(x, y)
        key = "cuda_time_total" if torch.cuda.is_available() else "cpu_time_total"
        print(prof.key_averages().table(sort_by=key, row_limit=25, max_name_column_width=60))


if __name__ == "__main__":
    main()
