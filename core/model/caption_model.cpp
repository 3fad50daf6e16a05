#include "core/model/caption_model.h"

#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/rnn.h>

#include <cmath>
#include <stdexcept>

#include "core/model/attention_net.h"
#include "core/model/caption_net.h"
#include "core/util/errors.h"

namespace captioner {

namespace {

// Draws every parameter again from `generator`, with the distributions LibTorch's own reset()
// uses: Linear U(±1/sqrt(fan_in)) for weight and bias, Embedding N(0, 1) with the padding row
// zero, LSTM U(±1/sqrt(hidden)). LayerNorm's (ones, zeros) involve no draw.
void initialise(torch::nn::Module& model, at::Generator& generator) {
  torch::NoGradGuard no_grad;
  for (const auto& module : model.modules(/*include_self=*/false)) {
    if (auto* linear = module->as<torch::nn::Linear>()) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(linear->weight.size(1)));
      linear->weight.uniform_(-bound, bound, generator);
      if (linear->bias.defined()) linear->bias.uniform_(-bound, bound, generator);
    } else if (auto* embedding = module->as<torch::nn::Embedding>()) {
      embedding->weight.normal_(0, 1, generator);
      if (const auto pad = embedding->options.padding_idx()) embedding->weight[*pad].zero_();
    } else if (auto* lstm = module->as<torch::nn::LSTM>()) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(lstm->options.hidden_size()));
      for (auto& w : lstm->all_weights()) w.uniform_(-bound, bound, generator);
    } else if (!module->as<torch::nn::LayerNorm>() && !module->parameters(/*recurse=*/false).empty()) {
      throw std::logic_error("initialise: no rule for module " + module->name());
    }
  }
}

}  // namespace

torch::Tensor CaptionModelImpl::dropout(const torch::Tensor& x, const at::Generator& generator) const {
  const double p = config().dropout;
  if (!is_training() || p <= 0) return x;
  const auto from = generator.defined() ? c10::optional<at::Generator>(generator) : c10::nullopt;
  const auto keep = torch::empty(x.sizes(), torch::kFloat).bernoulli_(1 - p, from);
  return x * keep.to(x.device(), x.scalar_type()).div_(1 - p);
}

CaptionModel make_caption_model(const ModelConfig& config, int64_t vocab_size, int64_t pad_id, at::Generator generator) {
  CaptionModel model;
  if (config.kind == "lstm")
    model = CaptionNet(config, vocab_size, pad_id).ptr();
  else if (config.kind == "attention")
    model = AttentionNet(config, vocab_size, pad_id).ptr();
  else
    throw ConfigError("unknown model kind '" + config.kind + "' (expected lstm or attention)");
  if (generator.defined()) initialise(*model, generator);
  return model;
}

}  // namespace captioner
