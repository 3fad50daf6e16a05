#include "core/model/attention_net.h"

#include <torch/nn/functional/padding.h>

#include <algorithm>
#include <numeric>

#include "core/model/caption_net.h"
#include "core/model/projection.h"
#include "core/util/errors.h"

namespace captioner {

namespace nn = torch::nn;

AttentionNetImpl::AttentionNetImpl(const ModelConfig& config, int64_t vocab_size, int64_t pad_id) : config_(config) {
  const int64_t a = config.attention_dim;
  cell_norm = register_module("cell_norm", nn::LayerNorm(nn::LayerNormOptions({config.feature_dim})));
  init_h = register_module("init_h", nn::Linear(config.feature_dim, config.hidden));
  init_c = register_module("init_c", nn::Linear(config.feature_dim, config.hidden));
  cell_proj = register_module("cell_proj", nn::Linear(config.feature_dim, a));
  cell_key = register_module("cell_key", nn::Linear(a, a));
  hidden_key = register_module("hidden_key", nn::Linear(config.hidden, a));
  if (config.word_in_query) word_key = register_module("word_key", nn::Linear(nn::LinearOptions(config.embed, a).bias(false)));
  score = register_module("score", nn::Linear(a, 1));
  gate = register_module("gate", nn::Linear(config.hidden, 1));
  embedding = register_module("embedding", nn::Embedding(nn::EmbeddingOptions(vocab_size, config.embed).padding_idx(pad_id)));
  gates = register_module("gates", nn::Linear(config.embed + a + config.hidden, 4 * config.hidden));
  if (config.context_to_output) context_out = register_module("context_out", nn::Linear(a, config.hidden));
  output = register_module("output", nn::Linear(config.hidden, vocab_size));
  if (config.coverage) coverage_key = register_module("coverage_key", nn::Linear(nn::LinearOptions(1, a).bias(false)));
}

torch::Tensor AttentionNetImpl::output_input(const torch::Tensor& h, const torch::Tensor& context) {
  if (!context_out) return h;
  return h + fast_linear(context, context_out->weight, context_out->bias);
}

std::pair<torch::Tensor, torch::Tensor> AttentionNetImpl::attend(const torch::Tensor& h, const torch::Tensor& word_query,
                                                                 const torch::Tensor& cells, const torch::Tensor& keys,
                                                                 const torch::Tensor& coverage) {
  auto query = fast_linear(h, hidden_key->weight, hidden_key->bias);
  if (word_query.defined()) query = query + word_query;
  auto pre = keys + query.unsqueeze(1);  // [B, cells, a]
  if (coverage_key) pre = pre + coverage.unsqueeze(2) * coverage_key->weight.squeeze(1);
  const auto scores = fast_linear(torch::tanh(pre).view({-1, pre.size(2)}), score->weight, score->bias)
                          .view({pre.size(0), pre.size(1)});  // [B, cells]
  const auto weights = torch::softmax(scores, 1);
  // A weighted sum, not a [1 x cells] x [cells x a] bmm per image: those tiny products ran on
  // OpenBLAS's generic kernel here and took longer.
  const auto context = (weights.unsqueeze(2) * cells).sum(1);  // [B, a]
  return {weights, torch::sigmoid(fast_linear(h, gate->weight, gate->bias)) * context};
}

std::pair<torch::Tensor, torch::Tensor> AttentionNetImpl::lstm_update(const torch::Tensor& gate_sums, const torch::Tensor& c) {
  const auto all = gate_sums.chunk(4, 1);
  const auto next_c = torch::sigmoid(all[1]) * c + torch::sigmoid(all[0]) * torch::tanh(all[2]);
  return {torch::sigmoid(all[3]) * torch::tanh(next_c), next_c};
}

DecoderState AttentionNetImpl::start(const torch::Tensor& raw_grid) {
  const auto grid = cell_norm(raw_grid);
  const auto mean = grid.mean(1);
  // [B * cells, feature_dim] x [feature_dim, a]: the model's largest product, on the fast GEMM.
  const auto flat = fast_linear(grid.reshape({-1, grid.size(2)}), cell_proj->weight, cell_proj->bias);
  // Linear, not rectified: a ReLU could zero every cell but the interesting ones, and the context
  // would then name the object without the weights ever pointing at it.
  const auto cells = flat.view({grid.size(0), grid.size(1), -1});
  DecoderState state;
  const auto keys = fast_linear(flat, cell_key->weight, cell_key->bias).view_as(cells);
  state.tensors = {{fast_linear(mean, init_h->weight, init_h->bias), 0},
                   {fast_linear(mean, init_c->weight, init_c->bias), 0},
                   {cells, 0},
                   {keys, 0}};
  if (coverage_key) state.tensors.emplace_back(torch::zeros({grid.size(0), grid.size(1)}, grid.options()), 0);
  return state;
}

torch::Tensor AttentionNetImpl::step(const torch::Tensor& tokens, DecoderState& state) {
  auto& h = state.tensors[0].first;
  auto& c = state.tensors[1].first;
  const auto word = embedding(tokens);
  const torch::Tensor no_coverage;
  const auto& coverage = coverage_key ? state.tensors[4].first : no_coverage;
  const auto word_query = word_key ? fast_linear(word, word_key->weight, torch::Tensor()) : torch::Tensor();
  const auto [weights, context] = attend(h, word_query, state.tensors[2].first, state.tensors[3].first, coverage);
  std::tie(h, c) = lstm_update(fast_linear(torch::cat({word, context, h}, 1), gates->weight, gates->bias), c);
  if (coverage_key) state.tensors[4].first = coverage + weights;
  state.attention = weights;
  return fast_linear(output_input(h, context), output->weight, output->bias);
}

AttentionNetImpl::WordProducts AttentionNetImpl::word_products(const torch::Tensor& embedded) {
  const int64_t batch = embedded.size(0), steps = embedded.size(1), e = config_.embed;
  const auto flat = embedded.reshape({-1, e});
  WordProducts out;
  if (word_key) out.queries = fast_linear(flat, word_key->weight, torch::Tensor()).view({batch, steps, -1});
  out.gates = fast_linear(flat, gates->weight.narrow(1, 0, e), gates->bias).view({batch, steps, -1});
  out.recurrent_weight = gates->weight.narrow(1, e, gates->weight.size(1) - e).contiguous();
  out.no_bias = torch::zeros({out.recurrent_weight.size(0)}, out.recurrent_weight.options());
  return out;
}

TeacherForcing AttentionNetImpl::teacher_forcing(const torch::Tensor& grid, const torch::Tensor& tokens, int64_t pad_id,
                                                 const at::Generator& dropout_generator) {
  using torch::indexing::Slice;
  const int64_t batch = tokens.size(0);
  const auto targets_all = tokens.index({Slice(), Slice(1, torch::indexing::None)});
  const auto lengths_t = targets_all.ne(pad_id).sum(1).to(torch::kCPU);
  std::vector<int64_t> lengths(lengths_t.data_ptr<int64_t>(), lengths_t.data_ptr<int64_t>() + batch);
  // Longest first, so the captions still running at step t are always the first rows.
  std::vector<int64_t> order(static_cast<size_t>(batch));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t x, int64_t y) { return lengths[static_cast<size_t>(x)] > lengths[static_cast<size_t>(y)]; });
  const auto index = torch::tensor(order, torch::kInt64).to(tokens.device());
  const auto inputs = tokens.index_select(0, index).index({Slice(), Slice(0, -1)});
  const auto targets = targets_all.index_select(0, index);
  const WordProducts words = word_products(dropout(embedding(inputs), dropout_generator));

  DecoderState state = start(grid.index_select(0, index));
  auto h = state.tensors[0].first, c = state.tensors[1].first;
  auto cells = state.tensors[2].first, keys = state.tensors[3].first;
  torch::Tensor coverage = coverage_key ? state.tensors[4].first : torch::Tensor();
  const int64_t longest = batch == 0 ? 0 : lengths[static_cast<size_t>(order[0])];
  std::vector<torch::Tensor> hidden, wanted, weights_per_step;
  for (int64_t t = 0; t < longest; ++t) {
    int64_t running = 0;
    while (running < batch && lengths[static_cast<size_t>(order[static_cast<size_t>(running)])] > t) ++running;
    if (running < h.size(0)) {
      h = h.narrow(0, 0, running);
      c = c.narrow(0, 0, running);
      cells = cells.narrow(0, 0, running);
      keys = keys.narrow(0, 0, running);
      if (coverage.defined()) coverage = coverage.narrow(0, 0, running);
    }
    const auto word_query = words.queries.defined() ? words.queries.narrow(0, 0, running).select(1, t) : torch::Tensor();
    const auto [weights, context] = attend(h, word_query, cells, keys, coverage);
    const auto gate_sums = words.gates.narrow(0, 0, running).select(1, t) +
                           fast_linear(torch::cat({context, h}, 1), words.recurrent_weight, words.no_bias);
    std::tie(h, c) = lstm_update(gate_sums, c);
    if (coverage.defined()) coverage = coverage + weights;
    hidden.push_back(output_input(h, context));
    wanted.push_back(targets.narrow(0, 0, running).select(1, t));
    if (config_.attention_penalty > 0)
      weights_per_step.push_back(
          torch::nn::functional::pad(weights, torch::nn::functional::PadFuncOptions({0, 0, 0, batch - running})));
  }
  TeacherForcing out;
  if (hidden.empty()) {
    out.hidden = torch::zeros({0, config_.hidden}, grid.options());
    out.targets = torch::zeros({0}, tokens.options());
    return out;
  }
  out.hidden = dropout(torch::cat(hidden, 0), dropout_generator);
  out.targets = torch::cat(wanted, 0);
  if (config_.attention_penalty > 0) {
    const auto total = torch::stack(weights_per_step, 0).sum(0);  // [B, cells]: each cell's total weight
    out.penalty = config_.attention_penalty * (1 - total).pow(2).mean();
  }
  return out;
}

}  // namespace captioner
