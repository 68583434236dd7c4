#!/usr/bin/env bash
# One entry point for building, testing and running; every verb builds what it needs first.
#   ./build.sh              build everything (and the CUDA C kernels to PTX when nvcc is found)
#   ./build.sh test         run every test (NUnit on Microsoft.Testing.Platform)
#   ./build.sh run [ARGS]   kernels run [ARGS]   (no ARGS: the embedded tiny model)
#   ./build.sh cli ARGS     kernels ARGS
#   ./build.sh bench [ARGS] BenchmarkDotNet benchmarks (in-process; ARGS go to BenchmarkDotNet)
#   ./build.sh ptx          compile kernels/*.cu to PTX and write the ptxas report
#   ./build.sh gpu-pack     build the .gpu/ check pack for a GPU machine (see docs/gpu-check.md)
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
CONFIG="${CONFIG:-Release}"

if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET 10 SDK (dotnet) is not on PATH; see https://dot.net" >&2
  exit 2
fi

ptx() {
  bash kernels/build.sh kernels/build/ptx docs/ptxas-report.md
}

# MSBuild's own up-to-date check of the whole solution costs 3-4 s on 2 cores even when nothing changed, so the
# build is skipped when no input is newer than the stamp of the last successful build: sources, projects, props,
# test data and the PTX (directories count too, so a deleted file is seen). FORCE_BUILD=1 always builds.
stamp="artifacts/build-stamp-$CONFIG"
outputs=("src/Qwen3Next.Cli/bin/$CONFIG/net10.0/kernels.dll" "tests/Qwen3Next.Tests/bin/$CONFIG/net10.0/Qwen3Next.Tests.dll"
  "bench/Qwen3Next.Bench/bin/$CONFIG/net10.0/Qwen3Next.Bench.dll")
up_to_date() {
  [ "${FORCE_BUILD:-0}" = 1 ] && return 1
  [ -f "$stamp" ] || return 1
  for o in "${outputs[@]}"; do [ -f "$o" ] || return 1; done
  local inputs=(src tests bench native kernels/README.md README.md Kernels.sln global.json Directory.Build.props Directory.Packages.props .editorconfig)
  [ -d kernels/build/ptx ] && inputs+=(kernels/build/ptx)
  [ -z "$(find "${inputs[@]}" \( -name bin -o -name obj \) -prune -o -newer "$stamp" -print -quit 2>/dev/null)" ]
}

build() {
  if command -v nvcc >/dev/null 2>&1; then ptx; fi
  if up_to_date; then return 0; fi
  mkdir -p artifacts
  touch "$stamp.next"   # taken before the build: a file saved during it is newer and triggers the next build
  dotnet build Kernels.sln -c "$CONFIG" --nologo -v quiet -clp:ErrorsOnly
  mv "$stamp.next" "$stamp"
}

cli_dll() { echo "src/Qwen3Next.Cli/bin/$CONFIG/net10.0/kernels.dll"; }

verb="${1:-build}"
[ $# -gt 0 ] && shift
case "$verb" in
  build) build ;;
  test)
    build
    bash tools/fetch-test-data.sh || true
    dotnet run --no-build -c "$CONFIG" --project tests/Qwen3Next.Tests -- "$@"
    ;;
  run)
    build
    dotnet "$(cli_dll)" run "$@"
    ;;
  cli)
    build
    dotnet "$(cli_dll)" "$@"
    ;;
  bench)
    build
    dotnet run --no-build -c "$CONFIG" --project bench/Qwen3Next.Bench -- "$@"
    ;;
  ptx) ptx ;;
  gpu-pack)
    build
    bash tools/gpu-pack.sh
    ;;
  *)
    echo "usage: ./build.sh [build|test|run [ARGS]|cli ARGS|bench [ARGS]|ptx|gpu-pack]" >&2
    exit 2
    ;;
esac
