#pragma once
// What every captioning model offers the trainer, the checkpoint and the decoders. The LSTM
// (CaptionNet) and the soft-attention decoder (AttentionNet) both implement it, so they share
// one training loop, one checkpoint format and every decoding strategy.
#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <memory>

#include "core/model/config.h"
#include "core/model/step_model.h"

namespace captioner {

// Teacher forcing restricted to real (non-PAD) target positions.
struct TeacherForcing {
  torch::Tensor hidden;   // [N, hidden]: the state that predicts each target
  torch::Tensor targets;  // [N] int64
  torch::Tensor penalty;  // scalar regulariser added to the loss; undefined when the model has none
};

// Which image features a model reads.
enum class FeatureInput {
  Pooled,  // [B, feature_dim]: the image vector
  Grid,    // [B, cells, feature_dim]: the 8x8 grid, cells row-major
};

class CaptionModelImpl : public torch::nn::Module, public StepModel {
 public:
  // features as input() says, tokens [B, T] (START ... END PAD ...). In training mode dropout draws
  // from `dropout_generator` (LibTorch's process-wide one when undefined): the trainer passes its
  // own, one per share of the batch, so no other thread moves it.
  virtual TeacherForcing teacher_forcing(const torch::Tensor& features, const torch::Tensor& tokens, int64_t pad_id,
                                         const at::Generator& dropout_generator) = 0;
  // The vocabulary projection (hidden -> logits), shared by the fused loss.
  virtual torch::nn::Linear& output_layer() = 0;
  virtual FeatureInput input() const = 0;
  virtual const ModelConfig& config() const = 0;

 protected:
  // Inverted dropout with rate config().dropout; identity in eval mode. The mask is drawn on the
  // CPU from `generator`, so a run draws the same masks on every device.
  torch::Tensor dropout(const torch::Tensor& x, const at::Generator& generator) const;
};

using CaptionModel = std::shared_ptr<CaptionModelImpl>;

// The model `config.kind` names; throws ConfigError for an unknown kind. With a generator, the
// initial weights (same distributions as LibTorch's defaults) draw from it; without one (a model
// about to receive saved weights) from LibTorch's default generator.
CaptionModel make_caption_model(const ModelConfig& config, int64_t vocab_size, int64_t pad_id, at::Generator generator = {});

}  // namespace captioner
