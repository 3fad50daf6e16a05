#!/usr/bin/env bash
# CUDA, proven on a GPU machine that has an NVIDIA GPU, a CUDA PyTorch in its Python (whose
# package carries a full LibTorch) and no network. Two steps:
#
#   packaging/gpu-check.sh prepare   here, on Debian 12 with its package registry: writes
#                                    build-gpu-deps/ (the libraries the core and the CLI link
#                                    besides LibTorch, as built here, and their headers; the
#                                    encoder weights' npm tarball), to travel with the tree
#   packaging/gpu-check.sh [run]     on the GPU machine (about 5 minutes):
#     1. builds bench_train and device_parity against that PyTorch's LibTorch (LibTorch alone);
#     2. device_parity: one training step of each model on the CPU and on CUDA from the same
#        weights and batch; loss within 1e-3 (relative) and every gradient within 1e-2 of its
#        largest entry, or the check fails;
#     3. bench_train --device cuda beside the notebook's model in that Python on CUDA, 3 rounds
#        alternating, the ratio of each round (the notebook's shapes: batch 128, vocabulary
#        10,403);
#     4. with build-gpu-deps/: builds the core and the CLI (no Qt, no oneDNN: both are CPU-side),
#        converts the encoder weights, generates 400 Shapes scenes, trains 300 steps with
#        --device cuda and evaluates the run.
# Output goes to stdout and to $GPU_CHECK_OUT (default build-gpu/) as gpu-check.log. Exit status:
# non-zero when a step fails. The Qt Test suite is not run there: Qt is not carried (with ICU it
# would not fit what travels); the CPU suite covers the device-independent logic.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps="$root/build-gpu-deps"
mode="${1:-run}"

prepare() {
  local build="${BUILD_DIR:-$root/build}"
  local exe="$build/app/captioner"
  [[ -x "$exe" ]] || { echo "error: $exe: build first (packaging/quickstart.sh test)" >&2; exit 1; }
  rm -rf "$deps" && mkdir -p "$deps/lib" "$deps/include" "$deps/pkgconfig"
  # The shared libraries the CLI links, as resolved here, except LibTorch's own (the GPU
  # machine's PyTorch brings those), the C and C++ runtimes (the machine has newer ones) and Qt.
  # OpenCV's BLAS: the small reference implementation instead of OpenBLAS's 36 MB.
  ldd "$exe" | awk '/=> \//{print $1, $3}' | while read -r name path; do
    case "$name" in
      libtorch*|libc10*|libc.so*|libm.so*|libstdc++*|libgcc_s*|libpthread*|libdl.so*|librt.so*|ld-linux*|libQt6*|libicu*|\
      libqcustomplot*|libdnnl*|libgloo*|libprotobuf*|libsleef*|libopenblas*|libblas.so*|liblapack.so*|libgomp*) ;;
      *) cp -L "$path" "$deps/lib/$name" ;;
    esac
  done
  local downloads="$deps/downloads"
  mkdir -p "$downloads"
  (cd "$downloads" && apt-get download -qq libblas3 liblapack3 nlohmann-json3-dev libcli11-dev libcpp-httplib-dev \
     libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libssl-dev)
  for deb in "$downloads"/*.deb; do dpkg -x "$deb" "$downloads/root"; done
  cp -L "$downloads"/root/usr/lib/x86_64-linux-gnu/blas/libblas.so.3 "$downloads"/root/usr/lib/x86_64-linux-gnu/lapack/liblapack.so.3 "$deps/lib/"
  cp -a "$downloads"/root/usr/include/. "$deps/include/"
  cp -a "$downloads"/root/usr/share/cmake "$downloads"/root/usr/lib/x86_64-linux-gnu/cmake "$deps/" 2>/dev/null || true
  cp -a "$downloads"/root/usr/lib/x86_64-linux-gnu/pkgconfig/cpp-httplib.pc "$deps/pkgconfig/"
  # Development symlinks (libX.so) for what CMake links by name.
  for lib in "$deps"/lib/*.so.*; do
    local base="${lib%%.so.*}.so"
    [[ -e "$base" ]] || ln -s "$(basename "$lib")" "$base"
  done
  cp "$build/downloads/nsfwjs-4.4.0.tgz" "$deps/" 2>/dev/null ||
    (cd "$deps" && npm pack nsfwjs@4.4.0 --silent >/dev/null)
  rm -rf "$downloads"
  tar -C "$root" -cJf "$root/build-gpu-deps.tar.xz" build-gpu-deps
  rm -rf "$deps"
  echo "wrote $root/build-gpu-deps.tar.xz ($(du -h "$root/build-gpu-deps.tar.xz" | cut -f1)); carry it with the tree and run: packaging/gpu-check.sh"
}

run() {
  local out="${GPU_CHECK_OUT:-$root/build-gpu}"
  mkdir -p "$out"
  exec > >(tee "$out/gpu-check.log") 2>&1
  local python="${PYTHON:-python3}"
  local torch_prefix
  torch_prefix="$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')"
  echo "== LibTorch: $torch_prefix; $("$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))')"
  local jobs
  jobs="$(nproc)"
  local status=0

  echo "== 1. bench_train and device_parity against this LibTorch"
  cmake -S "$root/tests/bench" -B "$out/bench" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix" \
    -DCAPTIONER_WITH_DNNL=OFF >"$out/bench-configure.log"
  cmake --build "$out/bench" -j "$jobs" --target bench_train device_parity >"$out/bench-build.log"

  echo "== 2. one training step, CPU against CUDA"
  "$out/bench/device_parity" --device cuda || status=1

  echo "== 3. training throughput on CUDA, Captioner beside the notebook's model in PyTorch (3 rounds)"
  for round in 1 2 3; do
    local a b
    a="$("$out/bench/bench_train" --device cuda --steps 50 --warmup 5)"
    b="$("$python" "$root/tests/bench/notebook_reference.py" --device cuda --steps 50 --warmup 5)"
    echo "$a"
    echo "$b"
    awk -v a="$(sed -E 's/.*"captions_per_s": ([0-9.]+).*/\1/' <<<"$a")" -v b="$(sed -E 's/.*"captions_per_s": ([0-9.]+).*/\1/' <<<"$b")" \
      -v r="$round" 'BEGIN {printf "round %d: ratio %.3f\n", r, a / b}'
  done

  if [[ ! -f "$root/build-gpu-deps.tar.xz" && ! -d "$deps" ]]; then
    echo "== 4. skipped: no build-gpu-deps.tar.xz (run packaging/gpu-check.sh prepare on Debian 12 and carry it)"
    return $status
  fi
  echo "== 4. the CLI on CUDA: train the built-in Shapes data and evaluate"
  [[ -d "$deps" ]] || tar -C "$root" -xJf "$root/build-gpu-deps.tar.xz"
  # The carried pkg-config file says prefix=/usr: the sysroot moves its paths into the prefix.
  export PKG_CONFIG_LIBDIR="$deps/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$deps"
  sed -i 's|^prefix=.*|prefix=|; s|^libdir=.*|libdir=/lib|; s|^includedir=.*|includedir=/include|' "$deps/pkgconfig/cpp-httplib.pc"
  cmake -S "$root" -B "$out/core" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCAPTIONER_WITH_QT=OFF -DCAPTIONER_WITH_DNNL=OFF \
    -DCAPTIONER_DISTRIBUTED=OFF -DCAPTIONER_BUILD_BENCHMARKS=OFF -DCAPTIONER_PRECOMPILE_HEADERS=OFF \
    -DCMAKE_PREFIX_PATH="$torch_prefix;$deps" -DCMAKE_INCLUDE_PATH="$deps/include" -DCMAKE_LIBRARY_PATH="$deps/lib" \
    -DOpenCV_DIR="$deps/cmake/opencv4" -DOPENSSL_ROOT_DIR="$deps" \
    -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$deps/lib -Wl,-rpath,$deps/lib" >"$out/core-configure.log"
  cmake --build "$out/core" -j "$jobs" --target captioner >"$out/core-build.log"
  local exe="$out/core/app/captioner" work="$out/work"
  rm -rf "$work" && mkdir -p "$work/nsfwjs"
  tar xzf "$deps/nsfwjs-4.4.0.tgz" -C "$work/nsfwjs" package/dist/models/inception_v3
  export CAPTIONER_ENCODER="$work/encoder.pt"
  "$exe" import-weights --nsfwjs "$work/nsfwjs/package" --out "$CAPTIONER_ENCODER"
  "$exe" shapes --out "$work/shapes" --count 400 --seed 1
  "$exe" train --data "$work/shapes" --out "$work/run" --device cuda --steps 300 --val-every 100 || status=1
  "$exe" eval --model "$work/run" --data "$work/shapes" --split test --device cuda --json || status=1
  return $status
}

case "$mode" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: $0 [prepare|run]" >&2; exit 2 ;;
esac
