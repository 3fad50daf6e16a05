#pragma once
// Where and how fast tensors are computed: device choice, thread count, BLAS sanity check.
#include <torch/types.h>

#include <string>

namespace captioner {

// Whether this LibTorch build has CUDA and a GPU is visible.
bool cuda_available();

// "auto" -> CUDA when this LibTorch has it and a GPU is present, else CPU. "cuda" without one
// throws ConfigError. Decided at run time so one binary serves CPU and CUDA builds of LibTorch.
torch::Device resolve_device(const std::string& choice);

// Sets LibTorch's intra-op threads (requested <= 0: every core) and returns the count in use.
// Needed because some LibTorch builds start with a single thread.
int configure_threads(int64_t requested);

// Lets glibc's allocator keep freed memory for the next tensors instead of handing each large
// block back to the kernel: training steps and encoder batches free and allocate the same
// buffers over and over, and pages returned and faulted in again cost more than the arithmetic
// (twice the step time with two threads, twice the extraction time, measured). Process-wide and
// lasting, a no-op without glibc: each program calls it once at its start.
void keep_freed_memory();

// Measured single-precision matmul speed on this machine, to warn when LibTorch fell back to a
// reference BLAS (tens of times slower than OpenBLAS/MKL).
struct BlasCheck {
  double gflops = 0;
  bool slow = false;
  std::string advice;  // what to do when slow
};
BlasCheck check_blas_speed();

// "LibTorch 1.13.1, CPU, 2 threads" and the like.
std::string runtime_summary(const torch::Device& device);

}  // namespace captioner
