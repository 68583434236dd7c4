#!/usr/bin/env bash
# Builds libqwen3next.so (native/qwen3next.c) into OUT_DIR with the system C compiler, statically linking the SDK's
# nethost from the apphost pack (C++ inside, hence -lstdc++). Called by src/Qwen3Next.Native's build; does nothing when the library is newer
# than its sources. Usage: native/build.sh PACKS_DIR OUT_DIR
set -euo pipefail
packs="$1"; out="$2"
src="$(cd "$(dirname "$0")" && pwd)"
lib="$out/libqwen3next.so"
if [ -f "$lib" ] && [ "$lib" -nt "$src/qwen3next.c" ] && [ "$lib" -nt "$src/qwen3next.h" ] && [ "$lib" -nt "$0" ]; then exit 0; fi
cc="${CC:-gcc}"
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "warning: no C compiler ($cc): libqwen3next.so (the C ABI) not built" >&2
  exit 0
fi
rid="linux-$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/')"
host=$(ls -d "$packs"/Microsoft.NETCore.App.Host."$rid"/*/runtimes/"$rid"/native 2>/dev/null | sort -V | tail -1)
if [ -z "$host" ] || [ ! -f "$host/libnethost.a" ]; then
  echo "error: nethost not found under $packs/Microsoft.NETCore.App.Host.$rid (the .NET SDK ships it)" >&2
  exit 1
fi
mkdir -p "$out"
"$cc" -shared -fPIC -O2 -Wall -Wextra -Werror -fvisibility=default -I"$host" -o "$lib.tmp" "$src/qwen3next.c" "$host/libnethost.a" -lstdc++ -ldl -lpthread
mv "$lib.tmp" "$lib"
