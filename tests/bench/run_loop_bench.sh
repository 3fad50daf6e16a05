#!/usr/bin/env bash
# The product's training loop beside the bare training step, on the same data and shapes:
# `captioner train` on a synthetic handout-like set (make_feature_cache: 4,000 images, bench_train's
# captions, vocabulary 10,403, batch 128) against bench_train, alternating rounds so drift hits
# both; then the same run on 2 local ranks (1 thread each) against 1 process with 2 threads.
# captions/s of a `captioner train` run: the median over steps 20-60 of history.csv.
# usage: run_loop_bench.sh BUILD_DIR [ROUNDS] [WORK_DIR]
set -euo pipefail
build="$1"
rounds="${2:-3}"
work="${3:-$(mktemp -d)}"
captioner="$build/app/captioner"
data="$work/loop-data"
[[ -f "$data/dataset.json" ]] || "$build/tests/bench/make_feature_cache" "$data" --images 4000 >/dev/null 2>&1
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
# captions/s of one run: median of history.csv's captions_per_s over steps 20-60.
run_cli() {  # run_cli NAME extra-options...
  local out="$work/$1"; shift
  rm -rf "$out"
  "$captioner" train --data "$data/dataset.json" --features "$data/features/pooled.npy" --out "$out" --model lstm \
      --batch-size 128 --steps 60 --val-every 1000 --checkpoint-every 1000 --log-every 1000 "$@" >/dev/null 2>&1
  awk -F, 'NR > 1 && $1 >= 20 && $1 <= 60 {print $4}' "$out/history.csv" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}
bench=() cli=() two=() ratios=()
for ((r = 1; r <= rounds; r++)); do
  b=$("$build/tests/bench/bench_train" --threads 2 --steps 40 --lengths coco | sed -E 's/.*"captions_per_s": ([0-9.]+).*/\1/')
  c=$(run_cli one --threads 2)
  t=$(run_cli two --nproc 2)
  echo "round $r: bench_train $b, captioner train $c, captioner train --nproc 2 $t captions/s"
  bench+=("$b") cli+=("$c") two+=("$t") ratios+=("$(awk -v a="$c" -v b="$b" 'BEGIN {printf "%.3f", a / b}')")
done
echo "captions/s, median of $rounds (batch 128, vocabulary 10,403, COCO-like lengths):"
echo "  bench_train, 2 threads                 $(median "${bench[@]}")"
echo "  captioner train, 2 threads             $(median "${cli[@]}")"
echo "  captioner train --nproc 2, 1 thread    $(median "${two[@]}")"
echo "  captioner train / bench_train per round ${ratios[*]}; median $(median "${ratios[@]}")"
