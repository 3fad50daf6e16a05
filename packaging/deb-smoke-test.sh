#!/usr/bin/env bash
# Installs a built Captioner .deb on this (fresh) Debian 12 machine and uses it as a new user
# would: version, man page, the built-in dataset, a short training run, a caption of a real photo.
#   usage (as root): packaging/deb-smoke-test.sh build/captioner_<version>_amd64.deb [PHOTO]
set -euo pipefail
deb="$(realpath "$1")"
photo="$(realpath "${2:-$(dirname "${BASH_SOURCE[0]}")/../tests/data/images/cat.png}")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
set -x
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >/dev/null
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
echo "deb-smoke-test: all commands passed"
