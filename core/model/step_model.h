#pragma once
// What a decoder needs from a captioning model: a start state from image features, then one
// step at a time. Both model kinds implement it, so every decoding strategy serves both.
#include <torch/types.h>

#include <utility>
#include <vector>

namespace captioner {

// Recurrent state of a batch of partial captions. Each tensor has its batch along `dim`.
struct DecoderState {
  std::vector<std::pair<torch::Tensor, int64_t>> tensors;  // (tensor, batch dimension)
  torch::Tensor attention;  // [B, cells]: weights of the last step; undefined for models without attention
  // Keeps the rows `index` (int64, on the state's device), in that order: for beams and samples.
  void select(const torch::Tensor& index) {
    for (auto& [t, dim] : tensors) t = t.index_select(dim, index);
    if (attention.defined()) attention = attention.index_select(0, index);
  }
};

class StepModel {
 public:
  virtual ~StepModel() = default;
  // features: [B, feature_dim] (or [B, cells, feature_dim] for grid models) on the model's device.
  virtual DecoderState start(const torch::Tensor& features) = 0;
  // tokens: [B] int64, the previous word of each caption. Returns next-word logits [B, vocab].
  virtual torch::Tensor step(const torch::Tensor& tokens, DecoderState& state) = 0;
};

}  // namespace captioner
