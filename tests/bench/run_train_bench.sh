#!/usr/bin/env bash
# Training throughput, Captioner beside the notebook's model in Python, same machine, same
# threads, same batch, alternating runs within each round so drift hits all of them:
#   captioner train  the product's own loop (batches drawn from a memory-mapped feature cache,
#                    validation and logging as configured), on a handout-sized set made by
#                    make_feature_cache (4,000 images, captions of the notebook's lengths,
#                    vocabulary 10,403), LSTM hidden 256, embedding 128, batch 128, PRECISION;
#                    captions/s is the median of history.csv's steps 20 to the end;
#   bench_train      the bare training step on the same shapes, PRECISION;
#   python fp32      the notebook's model in PyTorch, its default precision;
#   python autocast  the same under torch.autocast("cpu", bfloat16), the best a PyTorch user
#                    would turn on.
# Prints each run, the medians, each round's ratios, and the ISA oneDNN uses (which says whether
# the CPU has bf16 units).
# usage: run_train_bench.sh BUILD_DIR [ROUNDS] [THREADS] [STEPS] [coco|full] [PRECISION] [WORK_DIR]
set -euo pipefail
build="$1"
rounds="${2:-5}"
threads="${3:-2}"
steps="${4:-15}"
lengths="${5:-coco}"
precision="${6:-auto}"
work="${7:-$(mktemp -d)}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python=/usr/bin/python3
data="$work/handout-sized"
[[ -f "$data/dataset.json" ]] || "$build/tests/bench/make_feature_cache" "$data" --images 4000 >/dev/null 2>&1
loop_steps=$((steps * 4 > 60 ? steps * 4 : 60))
product_loop() {
  rm -rf "$work/run"
  "$build/app/captioner" train --data "$data/dataset.json" --features "$data/features/pooled.npy" --out "$work/run" \
      --model lstm --batch-size 128 --steps "$loop_steps" --val-every 100000 --checkpoint-every 100000 --log-every 100000 \
      --threads "$threads" --precision "$precision" >/dev/null 2>&1
  awk -F, 'NR > 1 && $1 >= 20 {print $4}' "$work/run/history.csv" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}
rate() { sed -E 's/.*"captions_per_s": ([0-9.]+).*/\1/' <<<"$1"; }
field() { sed -E "s/.*\"$1\": ([0-9.]+).*/\\1/" <<<"$2"; }
loop=() cpp=() py=() amp=() step_gflops=() gemm32=() gemm16=()
for ((r = 1; r <= rounds; r++)); do
  l=$(product_loop)
  a=$("$build/tests/bench/bench_train" --threads "$threads" --steps "$steps" --lengths "$lengths" --precision "$precision")
  b=$("$python" "$here/notebook_reference.py" --threads "$threads" --steps "$steps" --lengths "$lengths")
  c=$("$python" "$here/notebook_reference.py" --threads "$threads" --steps "$steps" --lengths "$lengths" --autocast bf16)
  printf 'captioner train: %s captions/s\n%s\n%s\n%s\n' "$l" "$a" "$b" "$c"
  loop+=("$l") cpp+=("$(rate "$a")") py+=("$(rate "$b")") amp+=("$(rate "$c")")
  step_gflops+=("$(field step_gflop_per_s "$a")") gemm32+=("$(field gemm_fp32_gflop_per_s "$a")")
  gemm16+=("$(field gemm_bf16_gflop_per_s "$a")")
done
isa=$(sed -E 's/.*"isa": "([^"]*)".*/\1/' <<<"$a")
used=$(sed -E 's/.*"precision": "([^"]*)".*/\1/' <<<"$a")
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
range() { printf '%s\n' "$@" | sort -g | sed -n '1p;$p' | paste -sd- -; }
report() {  # report LABEL NUMERATORS DENOMINATORS (names of arrays): each round's ratio, median, range
  local -n num="$2" den="$3"
  local per=()
  for ((i = 0; i < rounds; i++)); do per+=("$(ratio "${num[$i]}" "${den[$i]}")"); done
  echo "  $1: ${per[*]}; median $(median "${per[@]}") (range $(range "${per[@]}"))"
}
echo "captions/s, median of $rounds ($threads threads, batch 128, length 20, vocab 10403, $lengths lengths;"
echo "oneDNN ISA $isa (bf16 units: avx512_core_bf16 or avx512_core_amx); Captioner's products in $used):"
echo "  captioner train (the product's loop)    $(median "${loop[@]}")"
echo "  bench_train (the bare step)             $(median "${cpp[@]}")"
echo "  python reference, fp32                  $(median "${py[@]}")"
echo "  python reference, autocast bf16         $(median "${amp[@]}")"
echo "GFLOP/s, median: the bare step's matrix products $(median "${step_gflops[@]}"); LibTorch's GEMM at the projection's"
echo "  shape, fp32 $(median "${gemm32[@]}"), bf16 $(median "${gemm16[@]}") (0: no bf16 units)"
echo "ratios per round:"
report "captioner train / python fp32" loop py
report "captioner train / python autocast bf16" loop amp
report "bench_train / python fp32" cpp py
report "bench_train / python autocast bf16" cpp amp
