#!/usr/bin/env bash
# Writes captioner's man page (gzipped) from its own --help text with help2man, one section per
# subcommand, so the page never drifts from the program.   usage: manpage.sh CAPTIONER OUT.1.gz
set -euo pipefail
exe="$1"
out="$2"
page="${out%.gz}"
include="$(mktemp)"
trap 'rm -f "$include"' EXIT
# The subcommands as the top-level help lists them (CLI11: a "Subcommands:" block of indented lines).
mapfile -t subcommands < <("$exe" --help | awk '/^Subcommands:/{on=1; next} on && /^  [a-z]/{print $1} on && /^$/{exit}')
((${#subcommands[@]})) || { echo "manpage.sh: no subcommands found in '$exe --help'" >&2; exit 1; }
{
  echo "[SUBCOMMANDS]"
  for sub in "${subcommands[@]}"; do
    echo ".SS $sub"
    echo ".nf"
    (exec -a captioner "$exe" "$sub" --help) | sed -e 's/\\/\\e/g' -e 's/^\([.'"'"']\)/\\\&\1/'
    echo ".fi"
  done
  echo "[FILES]"
  echo ".TP"
  echo ".I /usr/share/captioner/inception_v3_nsfwjs.pt"
  echo "The pretrained Inception-v3 encoder (nsfwjs 4.4.0's weights); CAPTIONER_ENCODER overrides it."
} > "$include"
help2man --no-info --section=1 --name="train image-captioning models and caption images" \
  --include="$include" --output="$page" "$exe"
gzip -9nf "$page"
