#pragma once
// Reference computations the tests check the models against: written the plain way (LibTorch's
// own LSTM over padded sequences, the loss over every logit), not the way the product runs them.
#include <torch/torch.h>

#include <tuple>

#include "core/model/caption_net.h"

namespace captioner::test {

// logits [..., V] predict targets [...]; positions whose target is pad_id do not count. The mean
// over the counted positions (0 when there are none): the notebook's masked loss.
inline torch::Tensor masked_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets, int64_t pad_id) {
  const auto flat_logits = logits.reshape({-1, logits.size(-1)});
  const auto flat_targets = targets.reshape({-1});
  const auto keep = flat_targets.ne(pad_id);
  if (keep.sum().item<int64_t>() == 0) return torch::zeros({}, logits.options());
  return torch::nn::functional::cross_entropy(flat_logits.index({keep}), flat_targets.index({keep}));
}

// The LSTM's hidden states [B, T, hidden] for features [B, F] and input tokens [B, T], by
// LibTorch's LSTM module over the padded sequences (no dropout).
inline torch::Tensor hidden_states(CaptionNetImpl& net, const torch::Tensor& features, const torch::Tensor& tokens) {
  const int64_t batch = features.size(0), layers = net.config().layers, hidden = net.config().hidden;
  auto layered = [&](const torch::Tensor& t) { return t.view({batch, layers, hidden}).transpose(0, 1).contiguous(); };
  const auto state = std::make_tuple(layered(net.cnn_h0(features)), layered(net.cnn_c0(features)));
  return std::get<0>(net.lstm(net.embedding(tokens), state));
}

// Vocabulary logits of hidden states [..., hidden].
inline torch::Tensor logits(CaptionNetImpl& net, const torch::Tensor& hidden) { return net.output(hidden); }

}  // namespace captioner::test
