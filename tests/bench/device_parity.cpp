// One training step on the CPU and on another device (CUDA), from the same weights and batch:
// the loss and every gradient must agree within a stated tolerance, for the LSTM and the
// attention model. Needs LibTorch alone (packaging/gpu-check.sh builds it on a GPU machine).
// Prints one JSON line per model; exit 1 when a model is outside the tolerance.
//   device_parity [--device cuda] [--loss-tolerance 1e-3] [--grad-tolerance 1e-2]
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "core/model/caption_model.h"
#include "core/model/loss.h"
#include "core/util/runtime.h"

namespace {

struct StepResult {
  double loss = 0;
  std::vector<torch::Tensor> grads;  // on the CPU, in parameter order
};

StepResult one_step(const captioner::ModelConfig& config, int64_t vocab, const torch::Tensor& features,
                    const torch::Tensor& tokens, const torch::Device& device) {
  auto model = captioner::make_caption_model(config, vocab, 0, at::make_generator<at::CPUGeneratorImpl>(7));
  model->to(device);
  model->train();
  const auto loss = captioner::caption_loss(*model, features.to(device), tokens.to(device), 0);
  loss.loss.backward();
  StepResult r;
  r.loss = loss.loss.item<double>();
  for (const auto& p : model->parameters()) r.grads.push_back(p.grad().defined() ? p.grad().cpu() : torch::zeros_like(p).cpu());
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string device_name = "cuda";
  double loss_tolerance = 1e-3, grad_tolerance = 1e-2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--device")
      device_name = argv[i + 1];
    else if (k == "--loss-tolerance")
      loss_tolerance = std::stod(argv[i + 1]);
    else if (k == "--grad-tolerance")
      grad_tolerance = std::stod(argv[i + 1]);
    else
      return std::fprintf(stderr, "unknown option %s\n", k.c_str()), 2;
  }
  const torch::Device device = captioner::resolve_device(device_name);
  const int64_t batch = 16, length = 12, vocab = 500;
  torch::manual_seed(0);
  auto tokens = torch::randint(4, vocab, {batch, length}, torch::kInt64);
  tokens.index_put_({torch::indexing::Slice(), 0}, 2);                       // START
  tokens.index_put_({torch::indexing::Slice(0, batch / 2), length - 3}, 3);  // END, then PAD, for half
  tokens.index_put_({torch::indexing::Slice(0, batch / 2), torch::indexing::Slice(length - 2)}, 0);
  tokens.index_put_({torch::indexing::Slice(batch / 2), length - 1}, 3);
  int failures = 0;
  for (const std::string kind : {"lstm", "attention"}) {
    captioner::ModelConfig config;
    config.kind = kind;
    config.feature_dim = 256;
    config.hidden = 128;
    config.embed = 64;
    config.attention_dim = 64;
    config.coverage = kind == "attention";
    config.dropout = 0;  // the same masks on both sides anyway; off to compare arithmetic alone
    const auto features = kind == "attention" ? torch::randn({batch, 64, 256}) : torch::randn({batch, 256});
    const StepResult cpu = one_step(config, vocab, features, tokens, torch::kCPU);
    const StepResult other = one_step(config, vocab, features, tokens, device);
    const double loss_error = std::abs(cpu.loss - other.loss) / std::max(1e-12, std::abs(cpu.loss));
    double grad_error = 0;
    for (size_t i = 0; i < cpu.grads.size(); ++i) {
      const double scale = cpu.grads[i].abs().max().item<double>();
      if (scale == 0) continue;
      grad_error = std::max(grad_error, (cpu.grads[i] - other.grads[i]).abs().max().item<double>() / scale);
    }
    const bool ok = loss_error <= loss_tolerance && grad_error <= grad_tolerance;
    failures += ok ? 0 : 1;
    std::printf(
        "{\"model\": \"%s\", \"device\": \"%s\", \"loss_cpu\": %.6f, \"loss_device\": %.6f, \"loss_rel_error\": %.3g, "
        "\"grad_max_rel_error\": %.3g, \"loss_tolerance\": %g, \"grad_tolerance\": %g, \"ok\": %s}\n",
        kind.c_str(), device.str().c_str(), cpu.loss, other.loss, loss_error, grad_error, loss_tolerance, grad_tolerance,
        ok ? "true" : "false");
  }
  return failures == 0 ? 0 : 1;
}
