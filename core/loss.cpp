#include "core/loss.h"

#include <torch/nn/functional/loss.h>

#include "core/projection.h"

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
  CaptionLoss result;
  const auto [hidden, targets] = model.real_positions(features, tokens, pad_id);
  result.tokens = targets.size(0);
  result.loss = projected_cross_entropy(hidden, model.output->weight, model.output->bias, targets);
  return result;
}

}  // namespace captioner
