#pragma once
// Soft-attention decoder in the style of Show, Attend and Tell, over the encoder's 8x8 grid.
// Each grid cell (feature_dim wide: 2048 on the mixed10 grid, 768 on mixed5; layer-normalised:
// the encoder's grid is sparse and small, mostly zeros with a small spread) is projected once per
// image to attention_dim (linearly); at every step additive attention scores the cells against
// a query, a sigmoid gate of the previous hidden state scales the attended context, and the LSTM
// cell reads [word embedding, context]. h0/c0
// come from the mean grid vector. The query is the previous hidden state plus, with
// word_in_query (the default), the embedding of the word just read: in Show, Attend and Tell the
// query is the state from before that word, so after "red" the map for the next word is chosen
// without knowing that "red" was said; on Shapes the word made the maps find the named object
// far more often (README). With context_to_output the context is also added (projected) to h
// before the output layer, Show, Attend and Tell's deep output. With coverage, each cell's score
// also reads the weight the cell has received so far (a learned vector times that sum, added
// inside the tanh, as in Tu et al. 2016 and See et al. 2017): without it, the only memory of what
// was already named is h, and a caption could name one object twice. Training adds the doubly
// stochastic regulariser penalty * mean over images and cells of (1 - sum over steps of the
// cell's weight)^2.
// Projecting the cells first keeps the per-step LSTM input small (attention_dim instead of 2048),
// which is what makes CPU training practical. The LSTM cell is written out (one `gates` layer
// over [embedding, context, h], PyTorch's gate order i, f, g, o) so its products run on the
// fast GEMM of projection.h.
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/pimpl.h>

#include "core/model/caption_model.h"
#include "core/model/config.h"

namespace captioner {

struct AttentionNetImpl : CaptionModelImpl {
  AttentionNetImpl(const ModelConfig& config, int64_t vocab_size, int64_t pad_id);

  TeacherForcing teacher_forcing(const torch::Tensor& grid, const torch::Tensor& tokens, int64_t pad_id,
                                 const at::Generator& dropout_generator) override;
  torch::nn::Linear& output_layer() override { return output; }
  FeatureInput input() const override { return FeatureInput::Grid; }
  // grid: [B, cells, feature_dim]. State: h, c, projected cells, their attention keys and, with
  // coverage, each cell's weight summed over the steps so far.
  DecoderState start(const torch::Tensor& grid) override;
  // Also sets state.attention to this step's weights over the cells [B, cells].
  torch::Tensor step(const torch::Tensor& tokens, DecoderState& state) override;
  const ModelConfig& config() const override { return config_; }

  torch::nn::LayerNorm cell_norm{nullptr};                                   // each cell to zero mean, unit variance
  torch::nn::Linear init_h{nullptr}, init_c{nullptr};                        // mean grid vector -> h0, c0
  torch::nn::Linear cell_proj{nullptr};                                      // grid cell -> attention_dim
  torch::nn::Linear cell_key{nullptr}, hidden_key{nullptr}, score{nullptr};  // additive attention
  torch::nn::Linear word_key{nullptr};                                       // word embedding -> query (word_in_query)
  torch::nn::Linear gate{nullptr};                                           // h -> scalar gate on the context
  torch::nn::Embedding embedding{nullptr};
  torch::nn::Linear gates{nullptr};        // [embedding, context, h] -> 4 * hidden
  torch::nn::Linear context_out{nullptr};  // context -> hidden, added to h before `output`
  torch::nn::Linear output{nullptr};
  torch::nn::Linear coverage_key{nullptr};  // a cell's coverage -> its score (coverage); last, so
                                            // the other weights draw as without it

 private:
  // Attention weights [B, cells] and gated context [B, attention_dim] for hidden state h, the
  // input word's part of the query (word_key of its embedding; undefined without word_in_query)
  // and, with coverage, the cells' summed weights so far [B, cells].
  std::pair<torch::Tensor, torch::Tensor> attend(const torch::Tensor& h, const torch::Tensor& word_query,
                                                 const torch::Tensor& cells, const torch::Tensor& keys,
                                                 const torch::Tensor& coverage);
  // The input words' parts of the query and of the LSTM's gates for a whole batch [B, T, embed]
  // at once: one large product each instead of a small one per step (step() forms the same sums
  // a word at a time).
  struct WordProducts {
    torch::Tensor queries;           // [B, T, attention_dim]; undefined without word_in_query
    torch::Tensor gates;             // [B, T, 4 * hidden], the gates' bias included
    torch::Tensor recurrent_weight;  // the gates' weight over [context, h]
    torch::Tensor no_bias;           // zeros: the bias is in `gates`
  };
  WordProducts word_products(const torch::Tensor& embedded);
  // What `output` reads: h, plus the projected context when context_to_output is on.
  torch::Tensor output_input(const torch::Tensor& h, const torch::Tensor& context);
  // The LSTM's update from its summed gate inputs [B, 4 * hidden] (the `gates` layer applied to
  // [word, context, h]): returns (h, c).
  static std::pair<torch::Tensor, torch::Tensor> lstm_update(const torch::Tensor& gate_sums, const torch::Tensor& c);
  ModelConfig config_;
};
TORCH_MODULE(AttentionNet);

}  // namespace captioner
