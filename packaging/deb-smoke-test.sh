#!/usr/bin/env bash
# Installs built Captioner packages on this (fresh) Debian 12 or 13 machine and uses them as a new
# user would: version, man page, the built-in dataset, a short training run, a caption of a real
# photo. Each argument is a .deb or a folder of them; PHOTO overrides the photo captioned.
#   usage (as root): packaging/deb-smoke-test.sh build/captioner_<version>_amd64.deb
set -euo pipefail
photo="$(realpath "${PHOTO:-$(dirname "${BASH_SOURCE[0]}")/../tests/data/images/cat.png}")"
debs=()
for arg in "$@"; do
  if [[ -d "$arg" ]]; then
    for deb in "$arg"/*.deb; do debs+=("$(realpath "$deb")"); done
  else
    debs+=("$(realpath "$arg")")
  fi
done
((${#debs[@]})) || { echo "deb-smoke-test: no .deb given" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
set -x
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${debs[@]}" >/dev/null
captioner --version
test -f /usr/share/doc/captioner/copyright
test -f /usr/share/man/man1/captioner.1.gz
test -f /usr/share/applications/captioner.desktop
dpkg-query -W -f='${Section} ${Maintainer}\n${Depends}\n' captioner
cd "$work"
captioner shapes --out shapes --count 120 --seed 1
captioner train --data shapes --out run --steps 40 --batch-size 16 --val-every 20
captioner caption "$photo" --model run
captioner caption shapes/images/000001.png --model run --mode beam --beam 3

# The service as its systemd unit runs it (a chroot has no systemd): the unit's own command line
# with its default settings, but this run and another port; then SIGTERM drains it.
unit=/usr/lib/systemd/system/captioner.service
test -f "$unit"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends curl >/dev/null
exec_start="$(sed -n 's/^ExecStart=//p' "$unit")"
# shellcheck disable=SC2016  # the variables are the unit's, expanded by the inner shell as systemd would
CAPTIONER_MODEL="$work/run" CAPTIONER_OPTIONS="--host 127.0.0.1 --port 18080" bash -c "exec $exec_start" &
server=$!
for _ in $(seq 120); do curl -fsS http://127.0.0.1:18080/healthz >/dev/null 2>&1 && break; sleep 0.5; done
curl -fsS http://127.0.0.1:18080/healthz
curl -fsS http://127.0.0.1:18080/caption -H 'Content-Type: image/png' --data-binary @shapes/images/000002.png | grep -q generated_text
kill -TERM "$server"
wait "$server"
echo "deb-smoke-test: all commands passed"
