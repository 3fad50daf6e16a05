#pragma once
// Next-token cross-entropy with PAD positions excluded, averaged over real tokens.
#include <torch/types.h>

#include "core/model/caption_model.h"

namespace captioner {

struct CaptionLoss {
  torch::Tensor loss;           // scalar to minimise: cross_entropy plus the model's regulariser
  torch::Tensor cross_entropy;  // scalar, mean over real tokens (what is reported as the loss)
  int64_t tokens = 0;           // how many positions counted
};

// Teacher-forced loss of `tokens` [B, T] (START ... END PAD ...) given the model's features;
// dropout (in training mode) draws from `dropout_generator` (teacher_forcing).
// The mean over real tokens of the cross-entropy of all logits (the notebook's masked loss), but
// the vocabulary projection, by far the costliest layer, is computed only at real (non-PAD)
// target positions.
CaptionLoss caption_loss(CaptionModelImpl& model, const torch::Tensor& features, const torch::Tensor& tokens, int64_t pad_id,
                         const at::Generator& dropout_generator = {});

}  // namespace captioner
