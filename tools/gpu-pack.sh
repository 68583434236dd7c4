#!/usr/bin/env bash
# Builds the GPU check pack in .gpu/ (ignored): a trimmed .NET runtime, the published CLI, tests and benchmarks
# (in-process), and check.sh. The PTX of the CUDA C kernels is embedded in the runtime library; golden cases are
# read from tests/data in the working tree, which travels with the pack. Fails when tree + pack exceed 64 MiB.
#   ./build.sh gpu-pack        then, on a GPU machine:  bash .gpu/check.sh RESULTS_DIR
set -euo pipefail
export XZ_OPT="-9e"  # 64 MiB dictionary: the three publishes share most assemblies
cd "$(dirname "$0")/.."
CONFIG="${CONFIG:-Release}"
rm -rf .gpu && mkdir -p .gpu
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

if ! ls kernels/build/ptx/*/*.ptx >/dev/null 2>&1; then
  echo "warning: no PTX in kernels/build/ptx (nvcc missing?): the ptx backend in this pack will report itself unavailable" >&2
fi

# Framework-dependent publishes, no trimming (ILGPU reads IL at run time). The tiny model and golden data are not
# copied: the check reads them from the working tree.
dotnet publish src/Qwen3Next.Cli -c "$CONFIG" -o "$stage/app" --nologo -v quiet -p:UseAppHost=false
dotnet publish tests/Qwen3Next.Tests -c "$CONFIG" -o "$stage/tests" --nologo -v quiet -p:UseAppHost=false
dotnet publish bench/Qwen3Next.Bench -c "$CONFIG" -o "$stage/bench" --nologo -v quiet -p:UseAppHost=false
# Golden data stays in the tree (check.sh links it in); BenchmarkDotNet's Windows PDB readers, disassemblers and
# ETW reader serve diagnosers this pack never enables.
rm -rf "$stage/app/models" "$stage/tests/data/golden" "$stage/tests/models" "$stage"/*/*.pdb \
  "$stage"/bench/{x86,amd64,arm64} "$stage"/bench/runtimes/{win*,osx*,linux-arm*,linux-musl*} "$stage"/bench/runtimes/linux-x64/native/libcapstone.so \
  "$stage"/bench/Iced.dll "$stage"/bench/Microsoft.Diagnostics.Tracing.TraceEvent.dll \
  "$stage"/tests/Microsoft.CodeAnalysis*.dll \
  "$stage"/*/runtimes/linux-x64/native/libhf_tokenizers.so
# Roslyn serves only the README snippet test, which the GPU check does not run; nor does it tokenize (1.1 MB of HF's
# tokenizers library: loading a tokenizer.json there says the library is missing).
tar cJf .gpu/app.txz -C "$stage" app tests bench

# The shared runtime without what these programs never load (XML, networking, data, debugging, standalone GCs).
root=$(dirname "$(readlink -f "$(command -v dotnet)")")
fw=$(ls -d "$root"/shared/Microsoft.NETCore.App/* | sort -V | tail -1)
mkdir -p "$stage/dn/shared/Microsoft.NETCore.App"
cp -a "$root/dotnet" "$root/host" "$stage/dn/"
cp -a "$fw" "$stage/dn/shared/Microsoft.NETCore.App/"
v="$stage/dn/shared/Microsoft.NETCore.App/$(basename "$fw")"
# (The test platform needs XML for its settings and BenchmarkDotNet System.Net.Primitives; both stay.)
rm -f "$v"/System.Data*.dll "$v"/Microsoft.VisualBasic*.dll \
      "$v"/System.Net.Http*.dll "$v"/System.Net.Mail.dll "$v"/System.Net.Quic.dll "$v"/System.Net.Security.dll "$v"/System.Net.Requests.dll \
      "$v"/System.Net.HttpListener.dll "$v"/System.Net.WebSockets*.dll "$v"/System.Net.WebClient.dll "$v"/System.Net.Ping.dll \
      "$v"/System.Private.DataContractSerialization.dll "$v"/System.Runtime.Serialization*.dll "$v"/libmscordaccore.so "$v"/libmscordbi.so \
      "$v"/createdump "$v"/libclrgc*.so "$v"/libcoreclrtraceptprovider.so "$v"/System.ServiceModel.Web.dll "$v"/System.Transactions*.dll \
      "$v"/System.Linq.AsyncEnumerable.dll "$v"/Microsoft.CSharp.dll "$v"/System.Security.Cryptography.dll "$v"/System.IO.Compression*.dll \
      "$v"/libSystem.IO.Compression.Native.so "$v"/libSystem.Security.Cryptography.Native.OpenSsl.so "$v"/System.Threading.Tasks.Dataflow.dll
tar cJf .gpu/dotnet.txz -C "$stage/dn" .
cp tools/gpu-check.sh .gpu/check.sh

tree=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
pack=$(du -cb .gpu/* | tail -1 | cut -f1)
total=$((tree + pack))
printf 'gpu pack: %s (runtime %s, programs %s); working tree %s; together %s of 64 MiB\n' \
  "$(numfmt --to=iec "$pack")" "$(numfmt --to=iec "$(stat -c %s .gpu/dotnet.txz)")" "$(numfmt --to=iec "$(stat -c %s .gpu/app.txz)")" \
  "$(numfmt --to=iec "$tree")" "$(numfmt --to=iec "$total")"
if [ "$total" -gt $((64 * 1024 * 1024)) ]; then
  echo "error: the working tree and the pack exceed 64 MiB" >&2
  exit 1
fi
