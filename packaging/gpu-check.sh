#!/usr/bin/env bash
# CUDA, proven on a GPU machine that has an NVIDIA GPU, a CUDA PyTorch in its Python (whose
# package carries a full LibTorch) and no network. Two steps:
#
#   packaging/gpu-check.sh prepare   here, on Debian 12 with its package registry: writes
#                                    build-gpu-deps.tar.xz (the libraries the core and the CLI
#                                    link besides LibTorch, with everything they load, and their
#                                    headers), to travel with the tree (under 64 MiB)
#   packaging/gpu-check.sh [run]     on the GPU machine (about 5 minutes):
#     1. builds bench_train and device_parity against that PyTorch's LibTorch (LibTorch alone);
#     2. device_parity: one training step of each model on the CPU and on CUDA from the same
#        weights and batch; loss within 1e-3 (relative) and every gradient within 1e-2 of its
#        largest entry, or the check fails;
#     3. bench_train --device cuda beside the notebook's model in that Python on CUDA, 3 rounds
#        alternating, the ratio of each round (the notebook's shapes: batch 128, vocabulary
#        10,403);
#     4. with the tarball: builds the core, the CLI and make_feature_cache (no Qt, no oneDNN: both
#        are CPU-side), makes a synthetic feature cache of 2,000 images (8x8 grids, bench_train's
#        captions; the encoder's weights do not travel), trains the attention model 300 steps with
#        --device cuda and evaluates the run on CUDA.
# Output goes to stdout and to $GPU_CHECK_OUT (default build-gpu/) as gpu-check.log. Exit status:
# non-zero when a step fails. The Qt Test suite is not run there: Qt is not carried (with ICU it
# would not fit what travels); the CPU suite covers the device-independent logic.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps="$root/build-gpu-deps"
mode="${1:-run}"

prepare() {
  rm -rf "$deps" && mkdir -p "$deps/lib" "$deps/include" "$deps/pkgconfig"
  local downloads="$deps/downloads"
  mkdir -p "$downloads"
  (cd "$downloads" && apt-get download -qq libblas3 liblapack3 nlohmann-json3-dev libcli11-dev libcpp-httplib-dev \
     libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libssl-dev libjpeg62-turbo-dev)
  for deb in "$downloads"/*.deb; do dpkg -x "$deb" "$downloads/root"; done
  # The libraries the core links besides LibTorch, and every library they load, as installed here
  # (quickstart installed them), but for the C and C++ runtimes (the GPU machine has newer ones).
  # BLAS and LAPACK: the small reference ones instead of OpenBLAS (36 MB); OpenCV barely uses them.
  local libs=() lib
  for lib in libopencv_core.so.406 libopencv_imgproc.so.406 libopencv_imgcodecs.so.406 libcpp-httplib.so.0.11 \
             libjpeg.so.62 libcrypto.so.3 libssl.so.3; do
    libs+=("$(ldconfig -p | awk -v n="$lib" '$1 == n && /x86-64/ {found = $NF} END {print found}')")
  done
  { printf '%s\n' "${libs[@]}"; ldd "${libs[@]}" | awk '/=> \//{print $3}'; } | sort -u | while read -r path; do
    case "$(basename "$path")" in
      libc.so*|libm.so*|libstdc++*|libgcc_s*|libpthread*|libdl.so*|librt.so*|ld-linux*|libblas.so*|liblapack.so*) ;;
      *) cp -L "$path" "$deps/lib/" ;;
    esac
  done
  cp -L "$downloads"/root/usr/lib/x86_64-linux-gnu/blas/libblas.so.3 "$downloads"/root/usr/lib/x86_64-linux-gnu/lapack/liblapack.so.3 "$deps/lib/"
  cp -a "$downloads"/root/usr/include/. "$deps/include/"
  cp -a "$downloads"/root/usr/share/cmake "$downloads"/root/usr/lib/x86_64-linux-gnu/cmake "$deps/" 2>/dev/null || true
  cp -a "$downloads"/root/usr/lib/x86_64-linux-gnu/pkgconfig/cpp-httplib.pc "$deps/pkgconfig/"
  # Development symlinks (libX.so) for what CMake links by name.
  for lib in "$deps"/lib/*.so.*; do
    local base="${lib%%.so.*}.so"
    [[ -e "$base" ]] || ln -s "$(basename "$lib")" "$base"
  done
  rm -rf "$downloads"
  tar -C "$root" -cf - build-gpu-deps | xz -9 -T2 >"$root/build-gpu-deps.tar.xz"
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

  if [[ ! -f "$root/build-gpu-deps.tar.xz" ]]; then
    echo "== 4. skipped: no build-gpu-deps.tar.xz (run packaging/gpu-check.sh prepare on Debian 12 and carry it)"
    return $status
  fi
  echo "== 4. the CLI on CUDA: train the built-in Shapes data and evaluate"
  rm -rf "$deps" && tar -C "$root" -xJf "$root/build-gpu-deps.tar.xz"
  # The carried pkg-config file says prefix=/usr: the sysroot moves its paths into the prefix.
  export PKG_CONFIG_LIBDIR="$deps/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$deps"
  sed -i 's|^prefix=.*|prefix=|; s|^libdir=.*|libdir=/lib|; s|^includedir=.*|includedir=/include|' "$deps/pkgconfig/cpp-httplib.pc"
  cmake -S "$root" -B "$out/core" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCAPTIONER_WITH_QT=OFF -DCAPTIONER_WITH_DNNL=OFF \
    -DCAPTIONER_DISTRIBUTED=OFF -DCAPTIONER_PRECOMPILE_HEADERS=OFF \
    -DCMAKE_PREFIX_PATH="$torch_prefix;$deps" -DCMAKE_INCLUDE_PATH="$deps/include" -DCMAKE_LIBRARY_PATH="$deps/lib" \
    -DOpenCV_DIR="$deps/cmake/opencv4" -DOPENSSL_ROOT_DIR="$deps" \
    -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$deps/lib -Wl,-rpath,$deps/lib" >"$out/core-configure.log"
  cmake --build "$out/core" -j "$jobs" --target captioner make_feature_cache >"$out/core-build.log"
  local exe="$out/core/app/captioner" work="$out/work"
  rm -rf "$work" && mkdir -p "$work"
  "$out/core/tests/bench/make_feature_cache" "$work/data" --images 2000
  local features=("--features" "$work/data/features/pooled.npy")
  "$exe" train --data "$work/data/dataset.json" "${features[@]}" --out "$work/run" --model attention --device cuda \
    --steps 300 --batch-size 64 --val-every 100 || status=1
  "$exe" eval --model "$work/run" --data "$work/data/dataset.json" "${features[@]}" --split all --device cuda --json || status=1
  return $status
}

case "$mode" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: $0 [prepare|run]" >&2; exit 2 ;;
esac
