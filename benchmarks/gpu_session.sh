#!/usr/bin/env bash
# Every GPU table and GPU test of the package, prepared as one run on a CUDA machine, in parts:
#
#   bash benchmarks/gpu_session.sh tests                  # tests/test_gpu.py, tests/test_fused_kernels.py
#   bash benchmarks/gpu_session.sh torch-float32          # speed.py and memory.py, one policy
#   bash benchmarks/gpu_session.sh torch-mixed_bfloat16
#   bash benchmarks/gpu_session.sh jax-float32
#   bash benchmarks/gpu_session.sh jax-mixed_bfloat16
#   bash benchmarks/gpu_session.sh chunks-torch           # time_chunks.py at B=4 and 64
#   bash benchmarks/gpu_session.sh chunks-jax
#   bash benchmarks/gpu_session.sh readout-torch          # readout.py, float32 and bfloat16
#   bash benchmarks/gpu_session.sh all                    # every part, in that order
#
# Every part has at most three steps, each stopped after STEP_LIMIT seconds (default 180), so a
# part ends within one 10-minute call of a lent machine. Logs and JSON go to $OUT (default
# outputs/gpu/), the end of each log to stdout. The tables, at B=64, Din=64, H=256 (the
# README's GPU setting):
# - speed.py, per policy: HSRU, LSTM, GRU and the Dense floor at L = 1024, 4096, 16384, HSRU
#   alone at 65536, with the lower bound and the peak memory;
# - memory.py, per policy: each layer's peak memory per train step at L = 1024 ... 65536 in
#   fresh processes, and the longest L that trains (doubling until out of memory or a first
#   step over 20 s), HSRU against LSTM;
# - time_chunks.py: the time-chunked scan against the whole sequence at B=4 and B=64;
# - readout.py (torch): tanh_dense against keras ops, float32 and bfloat16.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-outputs/gpu}
STEP_LIMIT=${STEP_LIMIT:-180}
mkdir -p "$OUT"
part=${1:-all}
SIZE=(--batch 64 --features 64 --units 256)
PARTS=(tests torch-float32 torch-mixed_bfloat16 jax-float32 jax-mixed_bfloat16 chunks-torch
    chunks-jax readout-torch)

step() {
    local name=$1
    shift
    echo "== $name"
    timeout "$STEP_LIMIT" "$@" >"$OUT/$name.log" 2>&1
    echo "== $name: exit $?"
    tail -n 20 "$OUT/$name.log"
}

tests() {
    for backend in torch jax; do
        step "tests-$backend" env KERAS_BACKEND="$backend" python -m pytest -q -rs \
            tests/test_gpu.py tests/test_fused_kernels.py
    done
}

tables() {
    local backend=$1 policy=$2
    step "speed-$backend-$policy" env KERAS_BACKEND="$backend" python benchmarks/speed.py \
        "${SIZE[@]}" --lengths 1024 4096 16384 --rounds 2 --repeats 3 --skip-after 20 \
        --layers HSRU LSTM GRU Dense --dtype-policy "$policy" \
        --json "$OUT/speed-$backend-$policy.json"
    step "speed-$backend-$policy-65536" env KERAS_BACKEND="$backend" python benchmarks/speed.py \
        "${SIZE[@]}" --lengths 65536 --rounds 1 --repeats 3 --skip-after 20 --layers HSRU \
        --dtype-policy "$policy" --json "$OUT/speed-$backend-$policy-65536.json"
    step "memory-$backend-$policy" env KERAS_BACKEND="$backend" python benchmarks/memory.py \
        "${SIZE[@]}" --layers HSRU LSTM --lengths 1024 4096 16384 65536 --longest \
        --dtype-policy "$policy" --json "$OUT/memory-$backend-$policy.json"
}

chunks() {
    local backend=$1
    for batch in 4 64; do
        step "time-chunks-$backend-b$batch" env KERAS_BACKEND="$backend" python \
            benchmarks/time_chunks.py --batch "$batch" --units 256 --lengths 4096 16384 \
            --chunks 512 2048 --dtype bfloat16 --json "$OUT/time-chunks-$backend-b$batch.json"
    done
}

readout() {
    for dtype in float32 bfloat16; do
        step "readout-torch-$dtype" env KERAS_BACKEND=torch python benchmarks/readout.py \
            --batch 64 --units 256 --lengths 4096 16384 --dtype "$dtype" \
            --json "$OUT/readout-torch-$dtype.json"
    done
}

run_part() {
    case "$1" in
        tests) tests ;;
        torch-float32 | torch-mixed_bfloat16 | jax-float32 | jax-mixed_bfloat16)
            tables "${1%%-*}" "${1#*-}" ;;
        chunks-torch | chunks-jax) chunks "${1#*-}" ;;
        readout-torch) readout ;;
        *)
            echo "usage: $0 PART, PART one of: ${PARTS[*]} all (received: $1)" >&2
            exit 2
            ;;
    esac
}

if [ "$part" = all ]; then
    for each in "${PARTS[@]}"; do run_part "$each"; done
else
    run_part "$part"
fi
