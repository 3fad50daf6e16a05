#pragma once
// Inception-v3 image encoder: image [B, 3, 299, 299] in [0, 1] -> the mixed10 / Mixed_7c grid
// [B, 2048, 8, 8] and its global average [B, 2048] (or, on request, an earlier layer's grid; see
// GridLayer). One definition serves two weight families:
// Keras/TF (nsfwjs; BN without gamma, 'same' average pooling that excludes padding) and
// torchvision (padding counted in average pooling, optional transform_input). Module names
// follow torchvision, so its state_dict loads by name; Keras layers map by creation order.
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

#include "core/vision/grid_layer.h"

namespace captioner {

enum class EncoderFamily { Keras, Torchvision };
const char* family_name(EncoderFamily family);

// Where mixed5's 8x8 cells sample the 17x17 map, for an input of height x width pixels: a
// grid_sample grid [1, 8 * 4, 8 * 4, 2] (x, y in [-1, 1], align_corners) of 4x4 points per cell,
// evenly spread over the cell's pixels; points beyond the map's outer centres clamp to its edge.
torch::Tensor mixed5_cell_sampling_grid(int64_t height, int64_t width);

struct InceptionOptions {
  EncoderFamily family = EncoderFamily::Keras;
  bool transform_input = false;  // torchvision: map [0,1] input the way torchvision's flag does
  bool classifier_head = false;  // nsfwjs's dense 2048-256-128-5 head, for parity checks only
};

// Conv (no bias) + BatchNorm (eps 1e-3) + ReLU. fold() merges the BN into the convolution.
struct ConvBnImpl : torch::nn::Module {
  ConvBnImpl(int64_t in, int64_t out, const std::vector<int64_t>& kernel, const std::vector<int64_t>& stride,
             const std::vector<int64_t>& padding);
  torch::Tensor forward(const torch::Tensor& x);
  void fold();
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::Tensor folded_bias;  // defined once folded

 private:
  bool folded_ = false;
};
TORCH_MODULE(ConvBn);

struct EncodedImages {
  torch::Tensor grid;    // [B, C, 8, 8], C = grid_channels(layer): 2048 for mixed10
  torch::Tensor pooled;  // [B, C]: the grid's average
};

struct InceptionV3Impl : torch::nn::Module {
  explicit InceptionV3Impl(const InceptionOptions& options = {});
  EncodedImages forward(const torch::Tensor& images);
  // nsfwjs class probabilities [B, 5] (Drawing, Hentai, Neutral, Porn, Sexy) from pooled features.
  torch::Tensor classify(const torch::Tensor& pooled);
  // Inference fast path: BN folded into the convolutions (call once, after loading weights).
  void fold_batchnorm();
  // Channels-last (NHWC) weights and activations, oneDNN's preferred layout: on CPU here about
  // 1.6x the throughput of NCHW for batches of 8 and 25% less latency for one image.
  void set_channels_last(bool on);
  bool channels_last() const { return channels_last_; }
  // bf16 weights and activations (after fold_batchnorm), fp32 in and out: where the CPU has bf16
  // units, about 1.6 times the convolutions' fp32 rate here, features within cosine 0.999.
  void set_bf16(bool on);
  bool bf16() const { return bf16_; }
  // The layer forward() returns; the blocks after it are not run.
  void set_grid_layer(GridLayer layer) { grid_layer_ = layer; }
  GridLayer grid_layer() const { return grid_layer_; }

  const InceptionOptions& options() const { return options_; }
  // The 94 conv+BN units in the order Keras creates them (conv2d_1 ... conv2d_94).
  const std::vector<ConvBn>& units() const { return units_; }

  torch::nn::Linear dense1{nullptr}, dense2{nullptr}, dense3{nullptr};

 private:
  ConvBn unit(torch::nn::Module& parent, const std::string& name, int64_t in, int64_t out, const std::vector<int64_t>& kernel,
              const std::vector<int64_t>& stride = {1, 1}, const std::vector<int64_t>& padding = {0, 0});
  torch::Tensor avg_pool_same(const torch::Tensor& x) const;
  InceptionOptions options_;
  bool channels_last_ = false;
  bool bf16_ = false;
  GridLayer grid_layer_ = GridLayer::Mixed10;
  std::vector<ConvBn> units_;
  std::vector<std::shared_ptr<torch::nn::Module>> blocks_;  // Mixed_5b ... Mixed_7c, in order
};
TORCH_MODULE(InceptionV3);

}  // namespace captioner
