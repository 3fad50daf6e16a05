#pragma once
// The notebook's CaptionNet: image vector -> LSTM initial state, word embedding with PAD
// padding_idx, LSTM (1..n layers, dropout), linear projection to vocabulary logits.
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/pimpl.h>

#include "core/model/caption_model.h"
#include "core/model/config.h"

namespace captioner {

struct CaptionNetImpl : CaptionModelImpl {
  CaptionNetImpl(const ModelConfig& config, int64_t vocab_size, int64_t pad_id);

  TeacherForcing teacher_forcing(const torch::Tensor& features, const torch::Tensor& tokens, int64_t pad_id,
                                 const at::Generator& dropout_generator) override;
  torch::nn::Linear& output_layer() override { return output; }
  FeatureInput input() const override { return FeatureInput::Pooled; }
  DecoderState start(const torch::Tensor& features) override;
  torch::Tensor step(const torch::Tensor& tokens, DecoderState& state) override;

  const ModelConfig& config() const override { return config_; }

  torch::nn::Linear cnn_h0{nullptr}, cnn_c0{nullptr};
  torch::nn::Embedding embedding{nullptr};
  torch::nn::LSTM lstm{nullptr};
  torch::nn::Linear output{nullptr};

 private:
  std::tuple<torch::Tensor, torch::Tensor> initial_state(const torch::Tensor& features);
  // The LSTM one layer at a time over packed data (with its batch_sizes), so that dropout between
  // layers draws from the model's generator; h0/c0 [layers, B, hidden] in packed order.
  torch::Tensor run_layers(torch::Tensor x, const torch::Tensor& h0, const torch::Tensor& c0, const torch::Tensor& batch_sizes,
                           const at::Generator& dropout_generator);
  // Teacher forcing on whole captions [B, T] (START ... END PAD ...), computed only where the
  // next token is real: the LSTM runs on packed sequences, so PAD positions cost nothing.
  // Returns the hidden states [N, hidden] and their next tokens [N], N = real targets, in the
  // same (packed) order.
  std::pair<torch::Tensor, torch::Tensor> real_positions(const torch::Tensor& features, const torch::Tensor& tokens,
                                                         int64_t pad_id, const at::Generator& dropout_generator);
  // Vocabulary logits for any [..., hidden] tensor.
  torch::Tensor logits(const torch::Tensor& hidden);

  ModelConfig config_;
};
TORCH_MODULE(CaptionNet);

}  // namespace captioner
