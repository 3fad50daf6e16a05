#!/usr/bin/env bash
# The pretrained Inception-v3: nsfwjs 4.4.0's weights from npm (MIT), checksum-verified, converted
# into LibTorch's format by Captioner itself. Fetching needs the network; converting does not, so
# the Debian package build (debian/rules) converts a tarball fetched beforehand.
#   encoder-weights.sh fetch DIR                    DIR/nsfwjs-4.4.0.tgz, verified (kept if already there)
#   encoder-weights.sh convert CAPTIONER TARBALL OUT  verifies TARBALL, writes OUT with CAPTIONER import-weights
set -euo pipefail
version=4.4.0
sha256=585cd178f3b994337c4d10a87b080d342fc52f8b9bf0085c4d1f345a3a1c5382

verify() {
  if ! echo "$sha256  $1" | sha256sum -c --quiet; then
    echo "error: $1: not nsfwjs $version's tarball (SHA-256 differs)" >&2
    return 1
  fi
}

case "${1:-}" in
  fetch)
    dir="$2"
    tarball="$dir/nsfwjs-$version.tgz"
    mkdir -p "$dir"
    [[ -f "$tarball" ]] || (cd "$dir" && npm pack "nsfwjs@$version" --silent >/dev/null)
    verify "$tarball" || { rm -f "$tarball"; echo "removed it; run again" >&2; exit 1; }
    ;;
  convert)
    captioner="$2" tarball="$3" out="$4"
    [[ -f "$tarball" ]] || { echo "error: $tarball: no such file (packaging/encoder-weights.sh fetch DIR gets it)" >&2; exit 1; }
    verify "$tarball"
    unpacked="$(mktemp -d)"
    trap 'rm -rf "$unpacked"' EXIT
    tar xzf "$tarball" -C "$unpacked" package/dist/models/inception_v3
    mkdir -p "$(dirname "$out")"
    "$captioner" import-weights --nsfwjs "$unpacked/package" --out "$out"
    ;;
  *)
    echo "usage: $0 fetch DIR | convert CAPTIONER TARBALL OUT" >&2
    exit 2
    ;;
esac
