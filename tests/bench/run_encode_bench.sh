#!/usr/bin/env bash
# Encoder benchmarks: extraction throughput beside torchvision in Python (same images, batch,
# threads; alternating rounds), then one-image caption latency.
# Captioner's encoder runs in PRECISION (auto: bf16 where the CPU has bf16 units); torchvision in
# fp32, PyTorch's default.
# usage: run_encode_bench.sh BUILD_DIR IMAGE_DIR ONE_MEGAPIXEL.jpg [ROUNDS] [THREADS] [PRECISION]
set -euo pipefail
build="$1"
images="$2"
one="$3"
rounds="${4:-3}"
threads="${5:-2}"
precision="${6:-auto}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export CAPTIONER_ENCODER="${CAPTIONER_ENCODER:-$build/share/captioner/inception_v3_nsfwjs.pt}"
cpp=() py=() ratios=()
for ((r = 1; r <= rounds; r++)); do
  a=$("$build/tests/bench/bench_encode" throughput "$images" --batch 8 --workers 2 --threads "$threads" --precision "$precision")
  b=$(/usr/bin/python3 "$here/torchvision_extract_reference.py" "$images" 8 "$threads")
  echo "$a"
  echo "$b"
  x=$(sed -E 's/.*"images_per_s": ([0-9.]+).*/\1/' <<<"$a")
  y=$(sed -E 's/.*"images_per_s": ([0-9.]+).*/\1/' <<<"$b")
  cpp+=("$x") py+=("$y") ratios+=("$(awk -v a="$x" -v b="$y" 'BEGIN {printf "%.3f", a / b}')")
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
used=$(sed -E 's/.*"precision": "([^"]*)".*/\1/' <<<"$a")
isa=$(sed -E 's/.*"isa": "([^"]*)".*/\1/' <<<"$a")
echo "extraction images/s, median of $rounds ($threads threads, batch 8; oneDNN ISA $isa):"
echo "  captioner (C++, $used, decode on 2 worker threads, cache written)  $(median "${cpp[@]}")"
echo "  torchvision (Python, fp32, PIL decode, nothing written)           $(median "${py[@]}")"
echo "  ratio per round ${ratios[*]}; median $(median "${ratios[@]}")"
"$build/tests/bench/bench_encode" latency "$one" --runs 30 --threads "$threads" --precision "$precision"
