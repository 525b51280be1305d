#!/usr/bin/env bash
# The benchmark on a machine with a GPU and nothing else: no Node, no network (issue 5). Runs
# from the repository root with gpu-pack/ (made by `node dist/scripts/pack-gpu.js`) beside it:
#
#   bash bench/gpu/run.sh [--limit N] [--peers]
#
# 1. unpacks Node (gpu-pack/node.xz) and the bundled project (gpu-pack/nnc.tar.xz) into $WORK;
# 2. uses the system's Vulkan loader, else the carried one (gpu-pack/debs/*.deb, unpacked into
#    $WORK/sys, found through LD_LIBRARY_PATH; nothing is written outside $WORK);
# 3. probes the adapter with NNC_DEVICE=gpu (Dawn's Vulkan backend on a real GPU; no silent CPU
#    fallback); if none is found, retries with the NVIDIA driver's ICD file named explicitly;
# 4. runs the bench's nnc row for the seed CNN over one full MNIST epoch (the timed phase spans
#    the epoch), then `nnc train examples/mnist.nn --epochs 1` with NNC_DEBUG=1, whose stderr
#    ends with the per-kernel table (GPU timestamp queries where the adapter has them);
#    --peers adds TF.js and jax-js webgpu rows for the CNN (20 s timed, 120 s of training at
#    most each), on the adapter bench/gpu.ts gives them;
# 5. writes to $OUT (default /tmp/nnc-gpu-out): probe.json, bench.json, peers.json, bench.log,
#    train.json, train.log, metrics.jsonl, summary.txt (8 files: all the device tool returns).
#
# --limit N trains and tests on N images only (a smoke run). NNC_GPU_DEVICE overrides the device
# (e.g. llvmpipe, to try the package on a machine without a GPU).
set -u -o pipefail

limit=""
peers=0
while [ $# -gt 0 ]; do
  case "$1" in
    --limit) limit="$2"; shift 2 ;;
    --peers) peers=1; shift ;;
    *) echo "usage: bash bench/gpu/run.sh [--limit N] [--peers]" >&2; exit 2 ;;
  esac
done

here=$(cd "$(dirname "$0")/../.." && pwd)
pack="${NNC_GPU_PACK:-$here/gpu-pack}"
out="${OUT:-/tmp/nnc-gpu-out}"
work="${WORK:-/tmp/nnc-gpu}"
mkdir -p "$out"
summary="$out/summary.txt"
say() { echo "[gpu] $*" | tee -a "$summary" >&2; }
: > "$summary"

for f in node.xz nnc.tar.xz; do
  [ -f "$pack/$f" ] || { say "missing $pack/$f: run 'npx tsc -p . && node dist/scripts/pack-gpu.js' first"; exit 1; }
done

# xz through the xz command, else Python's lzma module.
unxz_to() {
  if command -v xz >/dev/null; then xz -dc "$1" > "$2"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  fi
}

rm -rf "$work" && mkdir -p "$work/sys"
t0=$(date +%s)
unxz_to "$pack/node.xz" "$work/node" && chmod +x "$work/node" || { say "cannot unpack node"; exit 1; }
unxz_to "$pack/nnc.tar.xz" "$work/nnc.tar" && tar -C "$work" -xf "$work/nnc.tar" && rm "$work/nnc.tar" \
  || { say "cannot unpack nnc.tar.xz"; exit 1; }
node="$work/node"
nnc="$work/nnc"
say "unpacked in $(( $(date +%s) - t0 )) s: node $("$node" --version), $(grep -o '"commit": "[0-9a-f]*"' "$nnc/PACK.json")"

# The Vulkan loader: the system's, else the carried packages'.
if ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  say "Vulkan loader: the system's"
else
  for f in "$pack"/debs/*.deb; do
    [ -f "$f" ] && dpkg-deb -x "$f" "$work/sys"
  done
  export LD_LIBRARY_PATH="$work/sys/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "Vulkan loader: carried ($(ls "$work/sys/usr/lib/x86_64-linux-gnu" 2>/dev/null | grep -c 'so') libraries)"
fi
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
done

export NNC_DEVICE="${NNC_GPU_DEVICE:-gpu}"
export EGL_PLATFORM="${EGL_PLATFORM:-surfaceless}"
cd "$nnc" || exit 1

probe() { "$node" dist/bench/gpu-probe.js > "$out/probe.json" 2>> "$out/bench.log"; }
if ! probe; then
  icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -f "$icd" ] && [ -z "${VK_DRIVER_FILES:-}" ]; then
    say "no adapter; retrying with VK_DRIVER_FILES=$icd"
    export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
    probe || { say "no adapter: $(cat "$out/probe.json")"; exit 1; }
  else
    say "no adapter: $(cat "$out/probe.json")"; exit 1
  fi
fi
say "adapter: $(grep -o '"description": "[^"]*"' "$out/probe.json" | head -1)"
grep -q '"timestamp-query"' "$out/probe.json" && say "timestamp-query: yes" || say "timestamp-query: no (host-timed kernel table)"

# One epoch of the seed CNN through the bench protocol: the timed phase runs until the epoch's
# images are seen, so timed_seconds is the epoch's training time.
images=${limit:-60000}
test_images=$(( images < 10000 ? images : 10000 ))
bench() { "$node" dist/bench/run.js --models cnn --train-images "$images" --test-images "$test_images" "$@"; }
t0=$(date +%s)
bench --only nnc --seconds 100000 --rounds 1 --epoch-limit-seconds 900 --row-timeout-seconds 1200 \
  --out "$out/bench.json" > "$out/table.txt" 2>> "$out/bench.log"
say "bench (nnc) exit $? in $(( $(date +%s) - t0 )) s"
tee -a "$summary" < "$out/table.txt" >&2

# The peers on the same adapter: 20 s timed, at most 120 s of training each.
if [ "$peers" = 1 ]; then
  t0=$(date +%s)
  bench --only tfjs:webgpu,jax-js:webgpu --seconds 20 --epoch-limit-seconds 120 \
    --row-timeout-seconds 400 --out "$out/peers.json" > "$out/table.txt" 2>> "$out/bench.log"
  say "bench (peers) exit $? in $(( $(date +%s) - t0 )) s"
  tee -a "$summary" < "$out/table.txt" >&2
fi
rm -f "$out/table.txt"

# nnc train, one epoch with validation, NNC_DEBUG: the kernel table at the end of train.log.
t0=$(date +%s)
NNC_DEBUG=1 "$node" dist/bench/gpu-train.js examples/mnist.nn --epochs 1 --json -o "$work/train" \
  ${limit:+--limit "$limit"} > "$out/train.json" 2> "$out/train.log"
say "nnc train exit $? in $(( $(date +%s) - t0 )) s: $(cat "$out/train.json")"
cp "$work/train/metrics.jsonl" "$out/metrics.jsonl" 2>/dev/null
sed -n '/^nnc: kernel times/,$p' "$out/train.log" | tee -a "$summary" >&2
