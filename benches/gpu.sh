#!/usr/bin/env bash
# Native wgpu on a real GPU, in each build variant of burn's WebGPU backend, beside PyTorch CUDA on the same card
# and the same classic step: one prepared run for a borrowed GPU machine (docs/BENCHMARKS.md records the results).
#
#   benches/gpu.sh BIN_DIR WEIGHTS OUT_DIR
#
# BIN_DIR holds release binaries of `filterlens` built here and named by variant, e.g.
#   cargo build --release --bin filterlens                              -> BIN_DIR/filterlens-plain
#   cargo build --release --bin filterlens --features wgpu-autotune     -> BIN_DIR/filterlens-autotune
#   cargo build --release --bin filterlens --features wgpu-fusion       -> BIN_DIR/filterlens-fusion
#   cargo build --release --bin filterlens --features wgpu-autotune,wgpu-fusion -> BIN_DIR/filterlens-autotune-fusion
# (stripped; xz-compressed they travel in ~10 MB each: decompress before). WEIGHTS is the f16 file the page uses (computed in
# f32 by both sides). Every variant and PyTorch run the same cases: conv3_1 and conv5_3, 128 and 224 px, batch 1,
# 20 timed steps after 3 warm-up steps (the warm-up absorbs shader compilation and autotuning), then a batch of 16
# at 224 px (a 16-tile grid).
set -u
bins=$1 weights=$2 out=$3
mkdir -p "$out"
cases=(--layers conv3_1,conv5_3 --sizes 128,224 --steps 20 --warmup 3)
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
for bin in "$bins"/filterlens-*; do
    case $bin in *.xz) continue ;; esac
    variant=${bin##*/filterlens-}
    echo "== wgpu, $variant"
    timeout 150 "$bin" bench --backends wgpu "${cases[@]}" --batches 1,16 --weights "$weights" \
        --json "$out/wgpu-$variant.json" --markdown "$out/wgpu-$variant.md" 2>&1 | grep -v "^\s*$" | tail -12
done
# Flex on this machine's cores, for scale (the plain build: Flex does not change with the WebGPU variants).
echo "== flex"
timeout 120 "$bins/filterlens-plain" bench --backends flex --layers conv3_1,conv5_3 --sizes 128,224 --steps 5 --warmup 2 \
    --weights "$weights" --json "$out/flex.json" --markdown "$out/flex.md" 2>&1 | tail -5
for tf32 in default off; do
    echo "== pytorch cuda, tf32 $tf32"
    timeout 120 python3 benches/torch_step.py --device cuda --tf32 "$tf32" "${cases[@]}" --weights "$weights" \
        --json "$out/torch-cuda-tf32-$tf32.json" --markdown "$out/torch-cuda-tf32-$tf32.md" 2>&1 | tail -7
done
