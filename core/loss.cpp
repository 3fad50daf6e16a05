#include "core/loss.h"

#include <torch/nn/functional/loss.h>

namespace captioner {

namespace F = torch::nn::functional;

torch::Tensor masked_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets, int64_t pad_id) {
  const auto flat_logits = logits.reshape({-1, logits.size(-1)});
  const auto flat_targets = targets.reshape({-1});
  const auto keep = flat_targets.ne(pad_id);
  if (keep.sum().item<int64_t>() == 0) return torch::zeros({}, logits.options());
  return F::cross_entropy(flat_logits.index({keep}), flat_targets.index({keep}));
}

CaptionLoss caption_loss(CaptionNetImpl& model, const torch::Tensor& features, const torch::Tensor& tokens,
                         int64_t pad_id) {
  using torch::indexing::Slice;
  const auto inputs = tokens.index({Slice(), Slice(0, -1)});
  const auto targets = tokens.index({Slice(), Slice(1, torch::indexing::None)});
  const auto keep = targets.ne(pad_id);  // [B, T-1]
  CaptionLoss result;
  result.tokens = keep.sum().item<int64_t>();
  if (result.tokens == 0) {
    result.loss = torch::zeros({}, features.options());
    return result;
  }
  const auto hidden = model.hidden_states(features, inputs);  // [B, T-1, H]
  const auto real_hidden = hidden.index({keep});              // [N, H]
  result.loss = F::cross_entropy(model.logits(real_hidden), targets.index({keep}));
  return result;
}

}  // namespace captioner
