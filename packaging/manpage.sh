#!/usr/bin/env bash
# Writes a program's man page (gzipped) from its own --help text with help2man, with one section
# per subcommand where it has them, so the page never drifts from the program.
#   usage: manpage.sh PROGRAM OUT.1.gz "ONE-LINE DESCRIPTION"
set -euo pipefail
exe="$1"
out="$2"
name="$3"
page="${out%.gz}"
include="$(mktemp)"
trap 'rm -f "$include"' EXIT
program="$(basename "$exe")"
# The subcommands as the top-level help lists them (CLI11: a "Subcommands:" block of indented lines).
mapfile -t subcommands < <("$exe" --help | awk '/^Subcommands:/{on=1; next} on && /^  [a-z]/{print $1} on && /^$/{exit}')
{
  if ((${#subcommands[@]})); then
    echo "[SUBCOMMANDS]"
    for sub in "${subcommands[@]}"; do
      echo ".SS $sub"
      echo ".nf"
      (exec -a "$program" "$exe" "$sub" --help) | sed -e 's/\\/\\e/g' -e 's/^\([.'"'"']\)/\\\&\1/'
      echo ".fi"
    done
  fi
  echo "[FILES]"
  echo ".TP"
  echo ".I /usr/share/captioner/inception_v3_nsfwjs.pt"
  echo "The pretrained Inception-v3 encoder (nsfwjs 4.4.0's weights); CAPTIONER_ENCODER overrides it."
  echo "[SEE ALSO]"
  [[ "$program" == captioner ]] && echo "captioner-desktop(1)" || echo "captioner(1)"
} > "$include"
help2man --no-info --section=1 --name="$name" --include="$include" --output="$page" "$exe"
gzip -9nf "$page"
