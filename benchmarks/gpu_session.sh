#!/usr/bin/env bash
# One call on a lent GPU machine: checks the fused kernels on the device, then times
# what decides the open GPU questions, most decisive first. Each step has its own time
# limit, so a hang costs that step only; its output goes to $OUT/<step>.txt (and JSON
# beside it), and a short summary is printed last.
#
#   ../shared/tools/gpu-wheels.sh            # once, on the CPU machine (fills .whl/)
#   run(carry=[".whl"], command="source .whl/gpu-setup.sh; bash benchmarks/gpu_session.sh")
#
# STEPS (space-separated names) picks a subset, e.g. STEPS="pallas speed-jax".
set -uo pipefail
OUT=${OUT:-results/tmp}
mkdir -p "$OUT"
# The defaults are the first call's steps (each limit is an upper bound); the others
# split over two more: STEPS="speed-torch test-jax", then "test-torch profile-torch scans-jax".
STEPS=${STEPS:-"check check-torch speed-jax speed-jax-long pallas"}
MODEL=(--batch 64 --features 64 --units 256)

step() {  # step NAME SECONDS BACKEND COMMAND...
  local name=$1 limit=$2 backend=$3
  shift 3
  [[ " $STEPS " == *" $name "* ]] || return 0
  echo "=== $name (KERAS_BACKEND=$backend, limit ${limit}s): $*"
  local start=$SECONDS
  KERAS_BACKEND=$backend timeout "$limit" "$@" > "$OUT/$name.txt" 2>&1
  local rc=$?
  echo "    exit $rc after $((SECONDS - start)) s"
  tail -n 25 "$OUT/$name.txt" | grep -E '^\||passed|failed|error|Error|ms' | tail -n 14
}

# The fused kernels equal the composed ops on the device (Pallas and Triton, no interpreter).
step check 150 jax python3 -m pytest -q -p no:cacheprovider tests/test_fused_kernels.py \
  tests/test_ops.py -k "fused or hybrid"
step check-torch 100 torch python3 -m pytest -q -p no:cacheprovider tests/test_fused_kernels.py \
  tests/test_ops.py -k "fused or hybrid"
# The README's tables: HSRU ("auto": fused on both), HSRU(scan), LSTM, GRU, and
# the Dense floor (keras' train step with no recurrent layer), in one run per backend.
step speed-jax 240 jax python3 benchmarks/speed.py "${MODEL[@]}" --lengths 1024 4096 --rounds 2 \
  --layers HSRU "HSRU(scan)" LSTM GRU Dense --json "$OUT/speed-gpu-jax.json"
step speed-jax-long 80 jax python3 benchmarks/speed.py "${MODEL[@]}" --lengths 16384 --rounds 2 \
  --layers HSRU "HSRU(scan)" --json "$OUT/speed-gpu-jax-16384.json"
step speed-torch 260 torch python3 benchmarks/speed.py "${MODEL[@]}" --lengths 1024 4096 16384 \
  --rounds 2 --skip-after 20 --layers HSRU "HSRU(scan)" LSTM GRU Dense \
  --json "$OUT/speed-gpu-torch.json"
# Which (unroll, block) setting of the Pallas kernels, and how far from bandwidth.
step pallas 150 jax python3 benchmarks/pallas_kernel.py --batch 64 --units 256 --lengths 4096 \
  --unrolls 8 16 32 --blocks 32 --repeats 5 --json "$OUT/pallas-kernel-gpu.json"
# The layers' tests on the device (CI runs them on a CPU only).
step test-jax 250 jax python3 -m pytest -q -p no:cacheprovider -rf tests/test_hsru_scan.py \
  tests/test_layers.py tests/test_mixed_precision.py
step test-torch 250 torch python3 -m pytest -q -p no:cacheprovider -rf tests/test_hsru_scan.py \
  tests/test_layers.py tests/test_mixed_precision.py
# Where torch's train step spends its time.
step profile-torch 90 torch python3 benchmarks/profile_step.py "${MODEL[@]}" --length 4096
# Scan algorithms for the composed JAX path.
step scans-jax 150 jax python3 benchmarks/jax_scan_algorithms.py --batch 64 --units 256 \
  --lengths 4096 --rounds 2 --json "$OUT/jax-scan-algorithms-gpu.json"
