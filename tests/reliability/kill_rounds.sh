#!/usr/bin/env bash
# Crash-safety measurement (not a test: its kill moments are random on purpose). Trains the same
# Shapes run twice: once straight through, once killed with SIGKILL at a random moment of each
# round (during feature extraction, training or a checkpoint write; a checkpoint is written every
# 5 steps) and resumed, until it finishes or ROUNDS kills were made. Passes when every resume
# started cleanly and the killed run ends exactly where the straight one does: the same feature
# cache bytes, the same losses at every step and the same weights (the checkpoint's checksum).
#   tests/reliability/kill_rounds.sh CAPTIONER [ROUNDS] [WORK_DIR]
set -euo pipefail
captioner="$(realpath "$1")"
rounds="${2:-20}"
work="${3:-$(mktemp -d)}"
mkdir -p "$work"
train=(train --steps 400 --log-every 1000 --threads 1)
# What a run is made of: given when it starts (a resume refuses options that would change it).
recipe=(--model attention --layer mixed5 --batch-size 32 --val-every 20 --checkpoint-every 5)

"$captioner" shapes --out "$work/straight-data" --count 120 --seed 3 >/dev/null
cp -r "$work/straight-data" "$work/killed-data"
"$captioner" "${train[@]}" "${recipe[@]}" --data "$work/straight-data" --out "$work/straight" >/dev/null

# Before the first checkpoint a run folder holds no run yet: start it again instead of resuming.
start_or_resume() {
  local resume=("${recipe[@]}")
  [[ -f "$work/killed/checkpoint.pt" ]] && resume=(--resume)
  "$captioner" "${train[@]}" --data "$work/killed-data" --out "$work/killed" "${resume[@]}" \
    >>"$work/killed.log" 2>&1
}

# A round that printed the trainer's start line was killed while training (or saving).
training_starts() { grep -c '^LibTorch' "$work/killed.log" || true; }
in_extraction=0 in_training=0 finished=0
while ((in_extraction + in_training < rounds)); do
  before=$(training_starts)
  start_or_resume &
  pid=$!
  sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.5 + 5.5 * r / 32767 }')"
  if pkill -KILL -P "$pid" -f "captioner" 2>/dev/null; then
    wait "$pid" || true
    if (($(training_starts) > before)); then in_training=$((in_training + 1)); else in_extraction=$((in_extraction + 1)); fi
  else
    wait "$pid"  # it ended before the kill: it must have ended well
    finished=1
    break
  fi
done
((finished)) || start_or_resume  # to the end

weights() { unzip -p "$1" '*/data.pkl' | strings | grep -o '"weights_fnv1a":"[0-9a-f]*"'; }
status=0
for f in "$work"/straight-data/features*/*.npy; do
  cmp -s "$f" "$work/killed-data/${f#"$work/straight-data/"}" || { echo "differs: ${f#"$work/"}"; status=1; }
done
# step, train_loss, val_loss and lr; the other columns are timings.
columns() { cut -d, -f1-3,5 "$1"; }
if ! diff <(columns "$work/straight/history.csv") <(columns "$work/killed/history.csv") >/dev/null; then
  echo "differs: history.csv"; status=1
fi
[[ "$(weights "$work/straight/checkpoint.pt")" == "$(weights "$work/killed/checkpoint.pt")" ]] || { echo "differs: weights"; status=1; }
echo "SIGKILLs: $in_extraction during feature extraction, $in_training during training; work folder: $work"
[[ $status == 0 ]] && echo "the killed run ended identical to the straight one" || echo "FAILED"
exit $status
