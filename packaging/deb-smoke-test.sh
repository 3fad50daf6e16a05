#!/usr/bin/env bash
# Installs built Captioner packages on this (fresh) Debian 12 or 13 machine and uses them as a new
# user would. First the server's set: captioner and captioner-encoder alone, with no Qt installed
# (checked; on Debian 12 no Qt 6, as its LibTorch brings Qt 5): version, man page, the built-in dataset, a short training run, captions of a real
# photo, and the service started by its systemd unit's own command line. Then captioner-desktop
# on top: its program, its libraries, its desktop entry. Each argument is a .deb or a folder of
# them; PHOTO overrides the photo captioned.
#   usage (as root): packaging/deb-smoke-test.sh build/
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
server=() desktop=()
for deb in "${debs[@]}"; do
  case "$(dpkg-deb -f "$deb" Package)" in
    captioner | captioner-encoder) server+=("$deb") ;;
    captioner-desktop) desktop+=("$deb") ;;
  esac
done
((${#server[@]} == 2 && ${#desktop[@]} == 1)) || { echo "deb-smoke-test: give captioner, captioner-encoder and captioner-desktop .debs" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
set -x
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${server[@]}" >/dev/null
# No Qt: none at all on Debian 13. Debian 12's LibTorch (1.13) itself depends on OpenCV's highgui
# and, through it, on Qt 5, so there only Qt 6 (the desktop app's) must be absent.
qt='libqt*'
grep -q '^VERSION_ID="12"' /etc/os-release && qt='libqt6*'
if dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "$qt" 2>/dev/null | grep '^ii'; then
  echo "deb-smoke-test: the command line's packages installed Qt" >&2
  exit 1
fi
captioner --version
for package in captioner captioner-encoder; do test -f "/usr/share/doc/$package/copyright"; done
test -f /usr/share/man/man1/captioner.1.gz
# The service's settings are a conffile, and the service is not enabled by installing it.
dpkg-query -W -f='${Conffiles}\n' captioner | grep -q '^ /etc/default/captioner '
test ! -e /etc/systemd/system/multi-user.target.wants/captioner.service
dpkg-query -W -f='${Package} ${Architecture} ${Section} ${Maintainer}\n${Depends}\n' captioner captioner-encoder
cd "$work"
captioner shapes --out shapes --count 120 --seed 1
captioner train --data shapes --out run --steps 40 --batch-size 16 --val-every 20
captioner caption "$photo" --model run
captioner caption shapes/images/000001.png --model run --mode beam --beam 3
# Without the desktop package, `captioner` alone says where the app is.
status=0
DISPLAY=:0 captioner 2>err.txt || status=$?
if [[ $status != 2 ]] || ! grep -q "captioner-desktop package" err.txt; then
  echo "deb-smoke-test: captioner alone, without the desktop package, did not say where the app is" >&2
  exit 1
fi

# The service as its systemd unit runs it (a chroot has no systemd): the unit's own command line
# with its default settings, but this run and another port; then SIGTERM drains it.
unit=/usr/lib/systemd/system/captioner.service
[[ -f "$unit" ]] || unit=/lib/systemd/system/captioner.service
test -f "$unit"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends curl >/dev/null
exec_start="$(sed -n 's/^ExecStart=//p' "$unit")"
# shellcheck disable=SC2016  # the variables are the unit's, expanded by the inner shell as systemd would
CAPTIONER_MODEL="$work/run" CAPTIONER_OPTIONS="--host 127.0.0.1 --port 18080" bash -c "exec $exec_start" &
server_pid=$!
for _ in $(seq 120); do curl -fsS http://127.0.0.1:18080/healthz >/dev/null 2>&1 && break; sleep 0.5; done
curl -fsS http://127.0.0.1:18080/healthz
curl -fsS http://127.0.0.1:18080/caption -H 'Content-Type: image/png' --data-binary @shapes/images/000002.png | grep -q generated_text
kill -TERM "$server_pid"
wait "$server_pid"

# The desktop app on top: its program finds every library, and its desktop entry runs it.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${desktop[@]}" >/dev/null
test -f /usr/share/doc/captioner-desktop/copyright
test -f /usr/share/applications/captioner.desktop
test -f /usr/share/man/man1/captioner-desktop.1.gz
grep -q '^Exec=captioner-desktop ' /usr/share/applications/captioner.desktop
if ldd /usr/bin/captioner-desktop | grep 'not found'; then exit 1; fi
captioner-desktop --version
dpkg-query -W -f='${Package} ${Architecture} ${Section}\n${Depends}\n' captioner-desktop
echo "deb-smoke-test: all commands passed"
