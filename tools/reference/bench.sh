#!/usr/bin/env bash
# MlpKit against plain PyTorch on this CPU, interleaved in one run (bench/MlpKit.Bench/Compare): MiniLM full and LoRA
# fine-tuning steps (batch 16 x 128) and inference (batch 1 and 32), a GPT-2-small-shape training step, one matmul, the
# dense FFN and sigma-MoE forward+backward, on 1 and 2 threads. Both sides load the same weights from one safetensors
# file and their outputs are compared before anything is timed.
# Installs the reference's dependencies first (Debian's python3-torch 1.13 and OpenBLAS; without libopenblas0-openmp
# PyTorch runs on the reference BLAS, ~30x slower). Benchmarks only: no test needs them.
# Usage: tools/reference/bench.sh [compare options]   e.g. --cases bert-full,bert-lora --threads 1 --blocks 5 --block 3
# Writes artifacts/compare/compare.md (the tables) and compare.json.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
if ! /usr/bin/python3 -c "import torch, numpy" 2>/dev/null || ! dpkg -s libopenblas0-openmp >/dev/null 2>&1; then
  echo "installing python3-torch, python3-numpy and libopenblas0-openmp (apt-get)" >&2
  sudo_cmd=""; [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq python3-torch python3-numpy libopenblas0-openmp >/dev/null
fi
dotnet build bench/MlpKit.Bench -c Release -nologo -v q >/dev/null
mkdir -p artifacts/compare
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores" >&2
dotnet bench/MlpKit.Bench/bin/Release/net10.0/MlpKit.Bench.dll compare --json artifacts/compare/compare.json "$@" | tee artifacts/compare/compare.md
