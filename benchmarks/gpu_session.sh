#!/usr/bin/env bash
# One call on a lent GPU machine: checks the fused kernels on the device, then times
# what decides the open GPU questions, most decisive first. Each step has its own time
# limit, so a hang costs that step only; its output goes to $OUT/<step>.txt (and JSON
# beside it), and a short summary is printed last.
#
#   ../shared/tools/gpu-wheels.sh            # once, on the CPU machine (fills .whl/)
#   run(carry=[".whl"], command="source .whl/gpu-setup.sh; bash benchmarks/gpu_session.sh")
#
# STEPS (space-separated names) picks a subset, e.g. STEPS="pallas fused-jax".
set -uo pipefail
OUT=${OUT:-results/tmp}
mkdir -p "$OUT"
# The defaults fill one 600 s call; a second call can take STEPS="floor-torch check-torch scans-jax".
STEPS=${STEPS:-"check pallas fused-jax fused-torch profile-torch"}
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
# Which (unroll, block) setting of the Pallas kernels, and how far from bandwidth.
step pallas 150 jax python3 benchmarks/pallas_kernel.py --batch 64 --units 256 --lengths 4096 \
  --json "$OUT/pallas-kernel-gpu.json"
# The whole train step: implementation="fused" against "scan" (what "auto" picks on JAX now).
step fused-jax 120 jax python3 benchmarks/fused_scan.py "${MODEL[@]}" --lengths 1024 4096 \
  --json "$OUT/fused-scan-gpu-jax.json"
step fused-torch 90 torch python3 benchmarks/fused_scan.py "${MODEL[@]}" --lengths 1024 4096 \
  --json "$OUT/fused-scan-gpu-torch.json"
# Where torch's train step spends its time (the fixed per-step cost).
step profile-torch 90 torch python3 benchmarks/profile_step.py "${MODEL[@]}" --length 4096
# That fixed cost without any recurrent layer (speed.py's Dense row), beside HSRU and LSTM.
step floor-torch 120 torch python3 benchmarks/speed.py "${MODEL[@]}" --lengths 1024 4096 \
  --layers HSRU LSTM Dense --json "$OUT/speed-floor-gpu-torch.json"
# Scan algorithms for the composed JAX path.
step scans-jax 150 jax python3 benchmarks/jax_scan_algorithms.py --batch 64 --units 256 \
  --lengths 4096 --rounds 2 --json "$OUT/jax-scan-algorithms-gpu.json"
