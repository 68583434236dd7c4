#!/usr/bin/env bash
# Unpacks CUDA 12.4's nvcc and ptxas (Debian trixie's non-free nvidia-cuda-toolkit and nvidia-cuda-dev) into
# .toolchain/cuda-12.4 (ignored), without installing anything from trixie over the system: the trixie source is
# pinned at priority 1 (never chosen by an install or upgrade), the two packages are fetched with `apt-get download`
# and unpacked with `dpkg -x`, and the toolkit's nvcc.profile is pointed at the unpacked tree. The system's CUDA 11.8
# stays the default; kernels/build.sh uses this nvcc only for the kernels that need sm_90a (wgmma, PTX ISA 8.x).
#   tools/cuda12-toolchain.sh           fetch and unpack when missing (about 1 GB download); prints the nvcc path
#   tools/cuda12-toolchain.sh --check   exit 0 when the unpacked toolchain compiles an sm_90a wgmma test, else 1
# Needs root for the apt source (CI and the developer machines run as root). Idempotent.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.toolchain/cuda-12.4"
bin="$dest/usr/lib/nvidia-cuda-toolkit/bin"
nvcc="$bin/nvcc"

# A wgmma that only PTX ISA 8.0+ for sm_90a accepts: the proof that this is the toolchain the kernels need.
check() {
    local tmp; tmp="$(mktemp -d)"
    cat > "$tmp/probe.cu" <<'EOF'
extern "C" __global__ void probe(float* out) {
    float d[4] = {0, 0, 0, 0};
    unsigned long long desc = 0;
    asm volatile("wgmma.fence.sync.aligned;\n"
                 "wgmma.mma_async.sync.aligned.m64n8k16.f32.bf16.bf16 {%0,%1,%2,%3}, %4, %5, 1, 1, 1, 0, 0;\n"
                 "wgmma.commit_group.sync.aligned;\nwgmma.wait_group.sync.aligned 0;\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]) : "l"(desc), "l"(desc));
    out[threadIdx.x] = d[0] + d[1] + d[2] + d[3];
}
EOF
    local ccbin=(); command -v clang-14 >/dev/null 2>&1 && ccbin=(-ccbin clang-14)
    "$nvcc" -ptx -arch=sm_90a "${ccbin[@]}" "$tmp/probe.cu" -o "$tmp/probe.ptx" >"$tmp/log" 2>&1 \
        && "$bin/ptxas" -arch=sm_90a "$tmp/probe.ptx" -o "$tmp/probe.cubin" >>"$tmp/log" 2>&1
    local rc=$?
    [ $rc -ne 0 ] && cat "$tmp/log" >&2
    rm -rf "$tmp"
    return $rc
}

if [ "${1:-}" = "--check" ]; then
    [ -x "$nvcc" ] && check
    exit $?
fi

if [ -x "$nvcc" ] && check 2>/dev/null; then
    echo "$nvcc"
    exit 0
fi

# The downloaded packages are kept in apt's own archive cache, so a fresh clone (CI) unpacks them without
# downloading again.
cache=/var/cache/apt/archives
debs() { ls "$cache"/nvidia-cuda-toolkit_12.4.*_amd64.deb "$cache"/nvidia-cuda-dev_12.4.*_amd64.deb 2>/dev/null; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
if [ "$(debs | wc -l)" -ne 2 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "cuda12-toolchain: needs root to add the pinned trixie apt source; sm_90a kernels will not be built" >&2
        exit 1
    fi
    # trixie, pinned so low that apt never installs or upgrades anything from it on its own.
    cat > /etc/apt/sources.list.d/trixie-cuda.sources <<'EOF2'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main contrib non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF2
    cat > /etc/apt/preferences.d/trixie-cuda <<'EOF2'
Package: *
Pin: release n=trixie
Pin-Priority: 1
EOF2
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get update -qq >"$work/apt.log" 2>&1; then
        tail -5 "$work/apt.log" >&2; echo "cuda12-toolchain: apt-get update failed" >&2; exit 1
    fi
    if ! (cd "$work" && apt-get download nvidia-cuda-toolkit/trixie nvidia-cuda-dev/trixie >>"$work/apt.log" 2>&1); then
        tail -5 "$work/apt.log" >&2; echo "cuda12-toolchain: apt-get download failed" >&2; exit 1
    fi
    mkdir -p "$cache" && cp "$work"/*.deb "$cache"/
fi

rm -rf "$dest.partial"
mkdir -p "$dest.partial"
for deb in $(debs); do
    dpkg -x "$deb" "$dest.partial" || { echo "cuda12-toolchain: dpkg -x $deb failed" >&2; exit 1; }
done

# Only compiling to PTX is needed: the CUDA libraries (2.5 GB) and documentation go.
rm -rf "$dest.partial/usr/lib/x86_64-linux-gnu" "$dest.partial/usr/share"

# nvcc reads nvcc.profile beside its binary (_HERE_); the packaged one (a link to /etc/nvcc.profile) names the
# system's paths, so it is replaced with one naming the unpacked tree: its cicc, its libdevice, its headers first.
pbin="$dest.partial/usr/lib/nvidia-cuda-toolkit/bin"
rm -f "$pbin/nvcc.profile"
cat > "$pbin/nvcc.profile" <<EOF
NVVMIR_LIBRARY_DIR = $dest/usr/lib/nvidia-cuda-toolkit/libdevice
PATH += $dest/usr/lib/nvidia-cuda-toolkit/bin:
INCLUDES += "-I$dest/usr/include" \$(_SPACE_)
EOF
# ptxas lives in /usr/bin in the package; keep it beside nvcc so both come from one place.
[ -x "$pbin/ptxas" ] || ln -sf ../../../bin/ptxas "$pbin/ptxas"

rm -rf "$dest"
mv "$dest.partial" "$dest"
if ! check; then
    echo "cuda12-toolchain: the unpacked nvcc does not compile sm_90a wgmma" >&2
    exit 1
fi
echo "$nvcc"
