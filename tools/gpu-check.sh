#!/usr/bin/env bash
# The GPU check: runs on a machine with an NVIDIA GPU and driver but no .NET and no network, from the repository
# root with .gpu/ beside it (see docs/gpu-check.md). Writes at most 8 files into RESULTS_DIR:
# log.txt, nvidia-smi.txt, verify-ilgpu.json, verify-ptx.json, bench-ilgpu.json, bench-ptx.json, tests.txt, kernel-times.json,
# stats-ptx-streaming.json.
#   bash .gpu/check.sh RESULTS_DIR
set -uo pipefail
results="${1:?usage: check.sh RESULTS_DIR}"
mkdir -p "$results"
exec > >(tee "$results/log.txt") 2>&1
cd "$(dirname "$0")/.."
pack=.gpu
step() { echo; echo "== $* ($(date +%T))"; }

step "unpack"
mkdir -p /tmp/dn .gpu/run
tar xJf "$pack/dotnet.txz" -C /tmp/dn && tar xJf "$pack/app.txz" -C .gpu/run || exit 1
export DOTNET_ROOT=/tmp/dn PATH=/tmp/dn:$PATH DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
ldconfig -p | grep -q libicu || export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
if ! ldconfig -p | grep -q 'libcuda.so.1'; then
  lib=$(find /usr/local/nvidia /usr/lib /usr/lib64 -name 'libcuda.so.1' 2>/dev/null | head -1)
  [ -n "$lib" ] && export LD_LIBRARY_PATH="$(dirname "$lib"):${LD_LIBRARY_PATH:-}"
fi
# BenchmarkDotNet refuses to run from a temp folder, so the programs unpack inside .gpu/.
ln -sfn "$PWD/tests/data/golden" .gpu/run/tests/data/golden
# The tiny model the CLI and the batched-decode benchmark find beside their assemblies is the tree's copy too.
for prog in app bench; do mkdir -p .gpu/run/$prog/models && ln -sfn "$PWD/tests/data/golden/models/tiny-qwen3-next" .gpu/run/$prog/models/tiny-qwen3-next; done

step "device"
nvidia-smi >"$results/nvidia-smi.txt" 2>&1; head -15 "$results/nvidia-smi.txt"

step "verify: ILGPU kernels on CUDA"
timeout 120 dotnet .gpu/run/app/kernels.dll verify tests/data/golden --backend ilgpu --json "$results/verify-ilgpu.json" | tail -25

step "verify: hand-written CUDA C (PTX), fast precision (JSON) and exact precision"
timeout 120 dotnet .gpu/run/app/kernels.dll verify tests/data/golden --backend ptx --precision fast --json "$results/verify-ptx.json" | tail -25
timeout 120 dotnet .gpu/run/app/kernels.dll verify tests/data/golden --backend ptx --precision exact | tail -25

step "bench: real Qwen3-Next shapes, ceilings measured in the same run"
timeout 90 dotnet .gpu/run/app/kernels.dll bench --backend ilgpu --scale real --iterations 20 --peak-tflops 67 --json "$results/bench-ilgpu.json"
timeout 90 dotnet .gpu/run/app/kernels.dll bench --backend ptx --precision fast --scale real --iterations 20 --peak-tflops 989 --json "$results/bench-ptx.json"
timeout 90 dotnet .gpu/run/app/kernels.dll bench --backend ptx --precision exact --scale real --iterations 20 --peak-tflops 67

step "per-kernel device times (CUDA events) of every op workload: calibrates the H200 model"
# Back on the build machine: kernels profile --backend ptx-emu --scale real --measured kernel-times.json
timeout 90 dotnet .gpu/run/app/kernels.dll profile --backend ptx --precision fast --scale real --repetitions 10 --json "$results/kernel-times.json"
timeout 90 dotnet .gpu/run/app/kernels.dll profile --backend ptx --precision exact --scale real --repetitions 10

step "run: tiny model, ptx and ilgpu, with expert streaming"
timeout 60 dotnet .gpu/run/app/kernels.dll run --model tests/data/golden/models/tiny-qwen3-next --backend ptx
# Device-side expert streaming on real hardware: 38 slots for 256 experts (mapped host memory, the last-CTA routing,
# the prefetch events); the output must be the golden tokens [301,471,365,298,382,76,304,434].
timeout 60 dotnet .gpu/run/app/kernels.dll run --model tests/data/golden/models/tiny-qwen3-next --backend ptx --device-memory 3.7MiB --stats "$results/stats-ptx-streaming.json"
timeout 60 dotnet .gpu/run/app/kernels.dll run --model tests/data/golden/models/tiny-qwen3-next --backend ilgpu --device-memory 3.7MiB

step "BenchmarkDotNet, in-process: the op workloads on the GPU backends at the real shapes"
QWEN3NEXT_BENCH_BACKENDS=ilgpu,ptx:exact,ptx:fast QWEN3NEXT_BENCH_SCALE=Real timeout 120 dotnet .gpu/run/bench/Qwen3Next.Bench.dll --filter '*OpBenchmarks*' --inProcess --job short | grep -E '^\||error' | tail -30

step "tests in the GPU category"
(cd .gpu/run/tests && timeout 60 dotnet Qwen3Next.Tests.dll --treenode-filter "/*/*/*/*[Category=Gpu]"; timeout 60 dotnet Qwen3Next.Tests.dll --filter "FullyQualifiedName~Ptx") >"$results/tests.txt" 2>&1
tail -8 "$results/tests.txt"
echo "done $(date +%T)"
