// Training-step throughput of the notebook's model at its exact shapes (batch 128, length 20,
// vocabulary 10,403, hidden 256, embedding 128), as the trainer runs it: PAD-skipping loss,
// backward, gradient clipping, Adam. Prints one JSON line; run_train_bench.sh sets it beside the
// Python reference. Inputs are described in bench_inputs.md. Also the GFLOP/s the step's matrix
// products reach, beside LibTorch's own GEMM at the projection's shape in fp32 and in bf16 (0
// where the CPU has no bf16 units): what the chip gives the step's largest product.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/model/caption_net.h"
#include "core/model/loss.h"
#include "core/util/precision.h"
#include "core/util/runtime.h"

namespace {

struct Args {
  int64_t batch = 128, length = 20, vocab = 10403, hidden = 256, embed = 128, features = 2048;
  int steps = 30, warmup = 3, threads = 2;
  std::string lengths = "coco";  // coco | full
  std::string device = "cpu";
  std::string precision = "auto";  // auto | fp32 | bf16, as `captioner train --precision`
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--batch")
      a.batch = std::stoll(v);
    else if (k == "--length")
      a.length = std::stoll(v);
    else if (k == "--vocab")
      a.vocab = std::stoll(v);
    else if (k == "--hidden")
      a.hidden = std::stoll(v);
    else if (k == "--embed")
      a.embed = std::stoll(v);
    else if (k == "--steps")
      a.steps = std::stoi(v);
    else if (k == "--warmup")
      a.warmup = std::stoi(v);
    else if (k == "--threads")
      a.threads = std::stoi(v);
    else if (k == "--lengths")
      a.lengths = v;
    else if (k == "--device")
      a.device = v;
    else if (k == "--precision")
      a.precision = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

torch::Tensor make_tokens(const Args& a) {
  uint64_t x = 1;
  auto next = [&x] { return x = (1103515245ull * x + 12345ull) % 2147483648ull; };
  auto tokens = torch::zeros({a.batch, a.length}, torch::kInt64);
  auto* t = tokens.data_ptr<int64_t>();
  for (int64_t i = 0; i < a.batch; ++i) {
    const int64_t len = a.lengths == "full" ? a.length : std::min<int64_t>(a.length, 8 + static_cast<int64_t>(next() % 13));
    t[i * a.length] = 2;
    for (int64_t j = 1; j + 1 < len; ++j)
      t[i * a.length + j] = 4 + static_cast<int64_t>(next() % static_cast<uint64_t>(a.vocab - 4));
    t[i * a.length + len - 1] = 3;
  }
  return tokens;
}

// Matrix-product FLOPs of one training step (forward and both backward products): the
// projection to the vocabulary and the LSTM at every predicted token, the initial state once per
// caption. Embedding, softmax and the optimizer are not products and are left out.
double step_flops(const Args& a, const torch::Tensor& tokens) {
  const auto lengths = tokens.ne(0).sum(1);
  const double predicted = static_cast<double>((lengths - 1).sum().item<int64_t>());
  const double h = static_cast<double>(a.hidden), e = static_cast<double>(a.embed), v = static_cast<double>(a.vocab);
  const double initial = 2 * 6 * static_cast<double>(a.features) * h * static_cast<double>(a.batch);
  return predicted * (6 * h * v + 6 * 4 * h * (e + h)) + initial;
}

// GFLOP/s of LibTorch's own matrix product at the projection's shape (1,792 x 256 by 256 x
// vocab) in `dtype`, into a reused output: what this chip's GEMM gives at that shape, the ceiling
// for the step's products.
double gemm_gflops(const Args& a, torch::Dtype dtype, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({1792, a.hidden}).to(device, dtype);
  const auto w = torch::randn({a.hidden, a.vocab}).to(device, dtype);
  auto out = torch::matmul(x, w);
  for (int i = 0; i < 2; ++i) torch::matmul_out(out, x, w);
  const int runs = 10;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < runs; ++i) torch::matmul_out(out, x, w);
  if (device.is_cuda()) torch::cuda::synchronize();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return 2.0 * 1792 * static_cast<double>(a.hidden) * static_cast<double>(a.vocab) * runs / seconds / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  captioner::configure_threads(a.threads);
  captioner::keep_freed_memory();  // as the product's programs do
  const torch::Device device = captioner::resolve_device(a.device);
  torch::manual_seed(0);
  captioner::ModelConfig config;
  config.feature_dim = a.features;
  config.hidden = a.hidden;
  config.embed = a.embed;
  captioner::CaptionNet model(config, a.vocab, 0);
  model->to(device);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-3));
  const auto features = torch::randn({a.batch, a.features}).to(device);
  const auto tokens = make_tokens(a).to(device);

  const captioner::MatmulPrecision precision =
      captioner::choose_precision(a.precision, device.is_cpu(), captioner::cpu_has_native_bf16());
  auto step = [&] {
    const captioner::MatmulPrecisionScope mixed(precision);
    optimizer.zero_grad();
    auto loss = captioner::caption_loss(*model, features, tokens, 0);
    loss.loss.backward();
    torch::nn::utils::clip_grad_norm_(model->parameters(), 5.0);
    optimizer.step();
    return loss.loss.item<double>();
  };
  for (int i = 0; i < a.warmup; ++i) step();
  if (device.is_cuda()) torch::cuda::synchronize();
  const auto start = std::chrono::steady_clock::now();
  double last = 0;
  for (int i = 0; i < a.steps; ++i) last = step();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double step_gflops = step_flops(a, tokens) * a.steps / seconds / 1e9;
  std::printf(
      "{\"impl\": \"captioner-cpp\", \"device\": \"%s\", \"precision\": \"%s\", \"isa\": \"%s\", "
      "\"threads\": %d, \"lengths\": \"%s\", \"steps\": %d, "
      "\"captions_per_s\": %.1f, \"steps_per_s\": %.3f, \"last_loss\": %.4f, \"step_gflop_per_s\": %.1f, "
      "\"gemm_fp32_gflop_per_s\": %.1f, \"gemm_bf16_gflop_per_s\": %.1f}\n",
      device.is_cuda() ? "cuda" : "cpu", captioner::precision_name(precision), captioner::cpu_matmul_isa().c_str(),
      at::get_num_threads(), a.lengths.c_str(), a.steps, a.batch * a.steps / seconds, a.steps / seconds, last, step_gflops,
      gemm_gflops(a, torch::kFloat32, device),
      device.is_cuda() || captioner::cpu_has_native_bf16() ? gemm_gflops(a, torch::kBFloat16, device) : 0.0);
  return 0;
}
