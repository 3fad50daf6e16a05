#!/usr/bin/env bash
# Training throughput, Captioner (C++) beside the notebook's model in Python, same machine, same
# threads, same batch, alternating C P A C P A ... so drift hits all three: Captioner with
# PRECISION (auto: bf16 products where the CPU has bf16 units), the Python reference in fp32
# (PyTorch's default) and with torch.autocast("cpu", bfloat16) (the best a PyTorch user would turn
# on). Prints each run, the medians, and each round's ratios, naming the CPU's ISA.
# usage: run_train_bench.sh PATH/TO/bench_train [ROUNDS] [THREADS] [STEPS] [coco|full] [PRECISION]
set -euo pipefail
bench="$1"
rounds="${2:-5}"
threads="${3:-2}"
steps="${4:-15}"
lengths="${5:-coco}"
precision="${6:-auto}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python=/usr/bin/python3
cpp=() py=() amp=()
rate() { sed -E 's/.*"captions_per_s": ([0-9.]+).*/\1/' <<<"$1"; }
for ((r = 1; r <= rounds; r++)); do
  a=$("$bench" --threads "$threads" --steps "$steps" --lengths "$lengths" --precision "$precision")
  b=$("$python" "$here/notebook_reference.py" --threads "$threads" --steps "$steps" --lengths "$lengths")
  c=$("$python" "$here/notebook_reference.py" --threads "$threads" --steps "$steps" --lengths "$lengths" --autocast bf16)
  printf '%s\n%s\n%s\n' "$a" "$b" "$c"
  cpp+=("$(rate "$a")") py+=("$(rate "$b")") amp+=("$(rate "$c")")
done
isa=$(sed -E 's/.*"isa": "([^"]*)".*/\1/' <<<"$a")
used=$(sed -E 's/.*"precision": "([^"]*)".*/\1/' <<<"$a")
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
fp32=() bf16=()
for ((i = 0; i < rounds; i++)); do fp32+=("$(ratio "${cpp[$i]}" "${py[$i]}")") bf16+=("$(ratio "${cpp[$i]}" "${amp[$i]}")"); done
range() { printf '%s\n' "$@" | sort -g | sed -n '1p;$p' | paste -sd- -; }
echo "captions/s, median of $rounds ($threads threads, batch 128, length 20, vocab 10403, $lengths lengths; oneDNN ISA $isa):"
echo "  captioner (C++), $used products          $(median "${cpp[@]}")"
echo "  python reference, fp32                  $(median "${py[@]}")"
echo "  python reference, autocast bf16         $(median "${amp[@]}")"
echo "  ratio to fp32 python per round          ${fp32[*]}; median $(median "${fp32[@]}") (range $(range "${fp32[@]}"))"
echo "  ratio to autocast-bf16 python per round ${bf16[*]}; median $(median "${bf16[@]}") (range $(range "${bf16[@]}"))"
