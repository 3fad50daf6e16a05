#!/usr/bin/env bash
# Crash safety. Trains the same Shapes run twice: once straight through, once killed with SIGKILL
# at a random moment of each round (during feature extraction, training, validation or a
# checkpoint write) and resumed, until it finishes or ROUNDS kills were made. Passes when every
# resume started cleanly and the killed run ends exactly where the straight one does: the same
# feature cache bytes, the same losses at every step and the same weights (the checkpoint's
# checksum). The kill moments are random on purpose; any moment must pass.
#   tests/reliability/kill_rounds.sh CAPTIONER [ROUNDS] [SIZE] [WORK_DIR]
# SIZE small: 120 images, 400 steps, a checkpoint every 5 steps, rounds of 0.5-6 s.
# SIZE quick: the app's first run, the built-in 2,000 scenes with the Quick preset and its own
#   checkpoint cadence (every 150 steps); rounds last a random 1 s to twice the straight run's
#   time / ROUNDS. Extraction takes most of that time, so once half the kills were made during
#   extraction the other rounds wait for training to start and kill 0.5-15 s into it (steps,
#   validations, checkpoint writes). The slow-labelled CTest `kill_rounds_quick` runs it.
set -euo pipefail
captioner="$(realpath "$1")"
rounds="${2:-20}"
size="${3:-small}"
work="${4:-$(mktemp -d)}"
mkdir -p "$work"
case "$size" in
  small)
    train=(train --steps 400 --log-every 1000 --threads 1)
    # What a run is made of: given when it starts (a resume refuses options that would change it).
    recipe=(--model attention --layer mixed5 --batch-size 32 --val-every 20 --checkpoint-every 5)
    shapes=(--count 120 --seed 3)
    ;;
  quick)
    train=(train --log-every 100000 --threads 1)
    recipe=(--preset quick)
    shapes=(--count 2000 --seed 1)  # scenes as the app makes its built-in data (2,000 of its 4,000)
    ;;
  *) echo "kill_rounds.sh: SIZE is small or quick, not '$size'" >&2; exit 2 ;;
esac

"$captioner" shapes --out "$work/straight-data" "${shapes[@]}" >/dev/null
cp -r "$work/straight-data" "$work/killed-data"
started=$SECONDS
"$captioner" "${train[@]}" "${recipe[@]}" --data "$work/straight-data" --out "$work/straight" >/dev/null
straight_seconds=$((SECONDS - started))
# A round's length in seconds, at random.
round_seconds() {
  if [[ $size == small ]]; then
    awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.5 + 5.5 * r / 32767 }'
  else
    awk -v r="$RANDOM" -v t="$straight_seconds" -v n="$rounds" 'BEGIN { printf "%.2f", 1 + (2 * t / n - 1) * r / 32767 }'
  fi
}

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
  if [[ $size == quick ]] && ((in_extraction >= rounds / 2)); then
    while (($(training_starts) == before)) && kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.5 + 14.5 * r / 32767 }')"
  else
    sleep "$(round_seconds)"
  fi
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

# The weights' checksum that the checkpoint's metadata record holds.
weights() {
  python3 -c 'import re, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
meta = b"".join(z.read(n) for n in z.namelist() if n.endswith("data.pkl"))
print(re.search(rb"\"weights_fnv1a\":\"[0-9a-f]*\"", meta).group().decode())' "$1"
}
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
echo "SIGKILLs: $in_extraction during feature extraction, $in_training during training; straight run: ${straight_seconds} s; work folder: $work"
if [[ $status == 0 ]]; then
  echo "the killed run ended identical to the straight one"
  [[ -n "${KILL_ROUNDS_CLEAN:-}" ]] && rm -rf "$work"
else
  echo "FAILED"
fi
exit $status
