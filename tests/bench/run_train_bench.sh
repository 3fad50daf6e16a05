#!/usr/bin/env bash
# Training throughput, Captioner (C++) beside the notebook's model in Python, same machine, same
# threads, same batch, alternating A B A B so drift hits both. Prints each run and the medians.
# usage: run_train_bench.sh PATH/TO/bench_train [ROUNDS] [THREADS] [STEPS] [coco|full]
set -euo pipefail
bench="$1"
rounds="${2:-5}"
threads="${3:-2}"
steps="${4:-15}"
lengths="${5:-coco}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python=/usr/bin/python3
cpp=() py=()
for ((r = 1; r <= rounds; r++)); do
  a=$("$bench" --threads "$threads" --steps "$steps" --lengths "$lengths")
  b=$("$python" "$here/notebook_reference.py" --threads "$threads" --steps "$steps" --lengths "$lengths")
  echo "$a"
  echo "$b"
  cpp+=("$(sed -E 's/.*"captions_per_s": ([0-9.]+).*/\1/' <<<"$a")")
  py+=("$(sed -E 's/.*"captions_per_s": ([0-9.]+).*/\1/' <<<"$b")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
ratios=()
for ((i = 0; i < rounds; i++)); do ratios+=("$(awk -v a="${cpp[$i]}" -v b="${py[$i]}" 'BEGIN {printf "%.3f", a / b}')"); done
echo "captions/s, median of $rounds ($threads threads, batch 128, length 20, vocab 10403, $lengths lengths):"
echo "  captioner (C++)    $(median "${cpp[@]}")"
echo "  python reference   $(median "${py[@]}")"
echo "  ratio per round    ${ratios[*]}"
echo "  median ratio       $(median "${ratios[@]}")"
