#include "core/util/runtime.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <chrono>
#include <thread>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "core/util/errors.h"

namespace captioner {

bool cuda_available() { return torch::cuda::is_available(); }

torch::Device resolve_device(const std::string& choice) {
  if (choice == "cpu") return torch::kCPU;
  const bool cuda = cuda_available();
  if (choice == "cuda") {
    if (!cuda) throw ConfigError("device 'cuda' requested, but this LibTorch has no CUDA support or no GPU is visible");
    return torch::Device(torch::kCUDA, 0);
  }
  if (choice != "auto") throw ConfigError("unknown device '" + choice + "' (expected auto, cpu or cuda)");
  return cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
}

int configure_threads(int64_t requested) {
  int n = static_cast<int>(requested);
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
  return at::get_num_threads();
}

void keep_freed_memory() {
#ifdef __GLIBC__
  // Blocks under 256 MiB come from the heap (the encoder's largest activations are about 45 MiB
  // at batch 8), and up to 256 MiB of free heap stays mapped. Setting either also stops glibc's
  // own adjustment of the thresholds, which never goes above 32 MiB.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

BlasCheck check_blas_speed() {
  constexpr int64_t n = 256;
  const auto a = torch::full({n, n}, 0.5);  // values do not matter; no draw from the shared generator
  const auto b = torch::full({n, n}, 0.25);
  auto c = torch::mm(a, b);  // warm-up
  int reps = 0;
  const auto start = std::chrono::steady_clock::now();
  double seconds = 0;
  while (seconds < 0.05) {
    c = torch::mm(a, b);
    ++reps;
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  BlasCheck check;
  check.gflops = 2.0 * n * n * n * reps / seconds / 1e9;
  // OpenBLAS does 50+ GFLOP/s per core here; the reference BLAS about 8 in all.
  check.slow = check.gflops < 15;
  if (check.slow)
    check.advice = "matrix multiply runs at " + std::to_string(static_cast<int>(check.gflops)) +
                   " GFLOP/s: LibTorch is probably using the reference BLAS; install an optimised one "
                   "(Debian: apt-get install libopenblas0-openmp)";
  return check;
}

std::string runtime_summary(const torch::Device& device) {
  std::string s = "LibTorch " + std::string(TORCH_VERSION) + ", ";
  s += device.is_cuda() ? "CUDA" : "CPU";
  s += ", " + std::to_string(at::get_num_threads()) + " thread(s)";
  return s;
}

}  // namespace captioner
