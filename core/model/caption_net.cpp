#include "core/model/caption_net.h"

#include <torch/nn/utils/rnn.h>

#include "core/model/projection.h"

namespace captioner {

namespace nn = torch::nn;

CaptionNetImpl::CaptionNetImpl(const ModelConfig& config, int64_t vocab_size, int64_t pad_id) : config_(config) {
  // One h0/c0 slice per LSTM layer, all from the same image vector.
  cnn_h0 = register_module("cnn_h0", nn::Linear(config.feature_dim, config.hidden * config.layers));
  cnn_c0 = register_module("cnn_c0", nn::Linear(config.feature_dim, config.hidden * config.layers));
  embedding = register_module("embedding", nn::Embedding(nn::EmbeddingOptions(vocab_size, config.embed).padding_idx(pad_id)));
  // No dropout inside LibTorch's LSTM: it would draw from the process-wide generator (see run_layers).
  lstm =
      register_module("lstm", nn::LSTM(nn::LSTMOptions(config.embed, config.hidden).num_layers(config.layers).batch_first(true)));
  output = register_module("output", nn::Linear(config.hidden, vocab_size));
}

std::tuple<torch::Tensor, torch::Tensor> CaptionNetImpl::initial_state(const torch::Tensor& features) {
  const int64_t batch = features.size(0);
  auto layered = [&](const torch::Tensor& t) {
    return t.view({batch, config_.layers, config_.hidden}).transpose(0, 1).contiguous();
  };
  return {layered(cnn_h0(features)), layered(cnn_c0(features))};
}

torch::Tensor CaptionNetImpl::run_layers(torch::Tensor x, const torch::Tensor& h0, const torch::Tensor& c0,
                                         const torch::Tensor& batch_sizes, const at::Generator& dropout_generator) {
  const auto weights = lstm->all_weights();  // per layer: w_ih, w_hh, b_ih, b_hh
  for (int64_t layer = 0; layer < config_.layers; ++layer) {
    if (layer > 0) x = dropout(x, dropout_generator);
    const std::vector<torch::Tensor> w(weights.begin() + 4 * layer, weights.begin() + 4 * (layer + 1));
    const std::vector<torch::Tensor> hx{h0.narrow(0, layer, 1), c0.narrow(0, layer, 1)};
    x = std::get<0>(torch::lstm(x, batch_sizes, hx, w, /*has_biases=*/true, 1, 0.0, is_training(), false));
  }
  return x;
}

std::pair<torch::Tensor, torch::Tensor> CaptionNetImpl::real_positions(const torch::Tensor& features, const torch::Tensor& tokens,
                                                                       int64_t pad_id, const at::Generator& dropout_generator) {
  using torch::indexing::Slice;
  namespace rnn = torch::nn::utils::rnn;
  const auto inputs = tokens.index({Slice(), Slice(0, -1)});
  const auto targets = tokens.index({Slice(), Slice(1, torch::indexing::None)});
  // Real targets form a prefix of each row; rows may be in any length order.
  const auto lengths = targets.ne(pad_id).sum(1).to(torch::kCPU);
  const auto packed = rnn::pack_padded_sequence(dropout(embedding(inputs), dropout_generator), lengths, /*batch_first=*/true,
                                                /*enforce_sorted=*/false);
  const auto [h0, c0] = initial_state(features);
  const auto order = packed.sorted_indices();  // packed rows run longest first
  const auto out =
      run_layers(packed.data(), h0.index_select(1, order), c0.index_select(1, order), packed.batch_sizes(), dropout_generator);
  const auto packed_targets = rnn::pack_padded_sequence(targets, lengths, true, false);
  return {dropout(out, dropout_generator), packed_targets.data()};
}

TeacherForcing CaptionNetImpl::teacher_forcing(const torch::Tensor& features, const torch::Tensor& tokens, int64_t pad_id,
                                               const at::Generator& dropout_generator) {
  auto [hidden, targets] = real_positions(features, tokens, pad_id, dropout_generator);
  return {hidden, targets, {}};
}

torch::Tensor CaptionNetImpl::logits(const torch::Tensor& hidden) {
  if (hidden.dim() == 2) return fast_linear(hidden, output->weight, output->bias);
  return output(hidden);
}

DecoderState CaptionNetImpl::start(const torch::Tensor& features) {
  auto [h, c] = initial_state(features);
  DecoderState state;
  state.tensors = {{h, 1}, {c, 1}};
  return state;
}

torch::Tensor CaptionNetImpl::step(const torch::Tensor& tokens, DecoderState& state) {
  auto embedded = embedding(tokens).unsqueeze(1);  // [B, 1, embed]
  auto out = lstm(embedded, std::make_tuple(state.tensors[0].first, state.tensors[1].first));
  state.tensors[0].first = std::get<0>(std::get<1>(out));
  state.tensors[1].first = std::get<1>(std::get<1>(out));
  return logits(std::get<0>(out).squeeze(1));
}

}  // namespace captioner
