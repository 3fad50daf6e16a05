#include "core/vision/inception.h"

#include <torch/nn/functional/pooling.h>
#include <torch/nn/functional/vision.h>

#include <cmath>

#include "core/util/errors.h"

namespace captioner {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

const char* family_name(EncoderFamily family) { return family == EncoderFamily::Keras ? "keras" : "torchvision"; }

namespace {
// The receptive-field centre of 17x17 position p is input pixel kMixed5Offset + kMixed5Stride * p.
constexpr double kMixed5Stride = 16, kMixed5Offset = 21;
constexpr int64_t kMixed5Positions = 17, kCells = 8, kSamplesPerCell = 4;

// Sample coordinates along one axis of `pixels` pixels, normalised for grid_sample.
std::vector<float> mixed5_axis_samples(int64_t pixels) {
  std::vector<float> out;
  const double cell = static_cast<double>(pixels) / kCells;
  for (int64_t i = 0; i < kCells * kSamplesPerCell; ++i) {
    const double centre = (static_cast<double>(i) + 0.5) * cell / kSamplesPerCell - 0.5;  // pixel index
    const double position = (centre - kMixed5Offset) / kMixed5Stride;
    out.push_back(static_cast<float>(position / ((kMixed5Positions - 1) / 2.0) - 1));
  }
  return out;
}

constexpr size_t kMixed5Block = 5;  // Mixed_5b, 5c, 5d, 6a, 6b, 6c: Keras's mixed0 ... mixed5
}  // namespace

torch::Tensor mixed5_cell_sampling_grid(int64_t height, int64_t width) {
  const auto xs = mixed5_axis_samples(width), ys = mixed5_axis_samples(height);
  const auto n = static_cast<int64_t>(xs.size());
  auto grid = torch::empty({1, n, n, 2});
  auto g = grid.accessor<float, 4>();
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < n; ++c) {
      g[0][r][c][0] = xs[static_cast<size_t>(c)];
      g[0][r][c][1] = ys[static_cast<size_t>(r)];
    }
  return grid;
}

ConvBnImpl::ConvBnImpl(int64_t in, int64_t out, const std::vector<int64_t>& kernel, const std::vector<int64_t>& stride,
                       const std::vector<int64_t>& padding) {
  conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(in, out, torch::IntArrayRef(kernel))
                                                .stride(torch::IntArrayRef(stride))
                                                .padding(torch::IntArrayRef(padding))
                                                .bias(false)));
  bn = register_module("bn", nn::BatchNorm2d(nn::BatchNormOptions(out).eps(0.001)));
}

torch::Tensor ConvBnImpl::forward(const torch::Tensor& x) {
  if (folded_) return torch::relu(conv(x).add_(folded_bias.view({1, -1, 1, 1})));
  return torch::relu(bn(conv(x)));
}

void ConvBnImpl::fold() {
  if (folded_) return;
  torch::NoGradGuard no_grad;
  const auto scale = bn->weight / torch::sqrt(bn->running_var + bn->options.eps());
  conv->weight.mul_(scale.view({-1, 1, 1, 1}));
  folded_bias = register_buffer("folded_bias", bn->bias - bn->running_mean * scale);
  folded_ = true;
}

namespace {

// Each block keeps its units in creation order; forward concatenates branches on channels.
struct Block : nn::Module {
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
};

}  // namespace

ConvBn InceptionV3Impl::unit(nn::Module& parent, const std::string& name, int64_t in, int64_t out,
                             const std::vector<int64_t>& kernel, const std::vector<int64_t>& stride,
                             const std::vector<int64_t>& padding) {
  auto u = parent.register_module(name, ConvBn(in, out, kernel, stride, padding));
  units_.push_back(u);
  return u;
}

torch::Tensor InceptionV3Impl::avg_pool_same(const torch::Tensor& x) const {
  // TF 'same' average pooling divides by the number of real pixels; torchvision counts padding.
  return F::avg_pool2d(
      x, F::AvgPool2dFuncOptions(3).stride(1).padding(1).count_include_pad(options_.family == EncoderFamily::Torchvision));
}

namespace {

using Unit = std::function<ConvBn(nn::Module&, const std::string&, int64_t, int64_t, const std::vector<int64_t>&,
                                  const std::vector<int64_t>&, const std::vector<int64_t>&)>;
using Pool = std::function<torch::Tensor(const torch::Tensor&)>;

struct BlockA : Block {  // mixed0-2 / Mixed_5b-d
  ConvBn b1{nullptr}, b5_1{nullptr}, b5_2{nullptr}, b3_1{nullptr}, b3_2{nullptr}, b3_3{nullptr}, pool{nullptr};
  Pool avg;
  BlockA(const Unit& u, int64_t in, int64_t pool_features, Pool avg_pool) : avg(std::move(avg_pool)) {
    b1 = u(*this, "branch1x1", in, 64, {1, 1}, {1, 1}, {0, 0});
    b5_1 = u(*this, "branch5x5_1", in, 48, {1, 1}, {1, 1}, {0, 0});
    b5_2 = u(*this, "branch5x5_2", 48, 64, {5, 5}, {1, 1}, {2, 2});
    b3_1 = u(*this, "branch3x3dbl_1", in, 64, {1, 1}, {1, 1}, {0, 0});
    b3_2 = u(*this, "branch3x3dbl_2", 64, 96, {3, 3}, {1, 1}, {1, 1});
    b3_3 = u(*this, "branch3x3dbl_3", 96, 96, {3, 3}, {1, 1}, {1, 1});
    pool = u(*this, "branch_pool", in, pool_features, {1, 1}, {1, 1}, {0, 0});
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    return torch::cat({b1(x), b5_2(b5_1(x)), b3_3(b3_2(b3_1(x))), pool(avg(x))}, 1);
  }
};

struct BlockB : Block {  // mixed3 / Mixed_6a
  ConvBn b3{nullptr}, d1{nullptr}, d2{nullptr}, d3{nullptr};
  BlockB(const Unit& u, int64_t in) {
    b3 = u(*this, "branch3x3", in, 384, {3, 3}, {2, 2}, {0, 0});
    d1 = u(*this, "branch3x3dbl_1", in, 64, {1, 1}, {1, 1}, {0, 0});
    d2 = u(*this, "branch3x3dbl_2", 64, 96, {3, 3}, {1, 1}, {1, 1});
    d3 = u(*this, "branch3x3dbl_3", 96, 96, {3, 3}, {2, 2}, {0, 0});
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    return torch::cat({b3(x), d3(d2(d1(x))), F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2))}, 1);
  }
};

struct BlockC : Block {  // mixed4-7 / Mixed_6b-e
  ConvBn b1{nullptr}, s1{nullptr}, s2{nullptr}, s3{nullptr}, d1{nullptr}, d2{nullptr}, d3{nullptr}, d4{nullptr}, d5{nullptr},
      pool{nullptr};
  Pool avg;
  BlockC(const Unit& u, int64_t c7, Pool avg_pool) : avg(std::move(avg_pool)) {
    b1 = u(*this, "branch1x1", 768, 192, {1, 1}, {1, 1}, {0, 0});
    s1 = u(*this, "branch7x7_1", 768, c7, {1, 1}, {1, 1}, {0, 0});
    s2 = u(*this, "branch7x7_2", c7, c7, {1, 7}, {1, 1}, {0, 3});
    s3 = u(*this, "branch7x7_3", c7, 192, {7, 1}, {1, 1}, {3, 0});
    d1 = u(*this, "branch7x7dbl_1", 768, c7, {1, 1}, {1, 1}, {0, 0});
    d2 = u(*this, "branch7x7dbl_2", c7, c7, {7, 1}, {1, 1}, {3, 0});
    d3 = u(*this, "branch7x7dbl_3", c7, c7, {1, 7}, {1, 1}, {0, 3});
    d4 = u(*this, "branch7x7dbl_4", c7, c7, {7, 1}, {1, 1}, {3, 0});
    d5 = u(*this, "branch7x7dbl_5", c7, 192, {1, 7}, {1, 1}, {0, 3});
    pool = u(*this, "branch_pool", 768, 192, {1, 1}, {1, 1}, {0, 0});
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    return torch::cat({b1(x), s3(s2(s1(x))), d5(d4(d3(d2(d1(x))))), pool(avg(x))}, 1);
  }
};

struct BlockD : Block {  // mixed8 / Mixed_7a
  ConvBn a1{nullptr}, a2{nullptr}, b1{nullptr}, b2{nullptr}, b3{nullptr}, b4{nullptr};
  explicit BlockD(const Unit& u) {
    a1 = u(*this, "branch3x3_1", 768, 192, {1, 1}, {1, 1}, {0, 0});
    a2 = u(*this, "branch3x3_2", 192, 320, {3, 3}, {2, 2}, {0, 0});
    b1 = u(*this, "branch7x7x3_1", 768, 192, {1, 1}, {1, 1}, {0, 0});
    b2 = u(*this, "branch7x7x3_2", 192, 192, {1, 7}, {1, 1}, {0, 3});
    b3 = u(*this, "branch7x7x3_3", 192, 192, {7, 1}, {1, 1}, {3, 0});
    b4 = u(*this, "branch7x7x3_4", 192, 192, {3, 3}, {2, 2}, {0, 0});
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    return torch::cat({a2(a1(x)), b4(b3(b2(b1(x)))), F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2))}, 1);
  }
};

struct BlockE : Block {  // mixed9-10 / Mixed_7b-c
  ConvBn b1{nullptr}, s1{nullptr}, s2a{nullptr}, s2b{nullptr}, d1{nullptr}, d2{nullptr}, d3a{nullptr}, d3b{nullptr},
      pool{nullptr};
  Pool avg;
  BlockE(const Unit& u, int64_t in, Pool avg_pool) : avg(std::move(avg_pool)) {
    b1 = u(*this, "branch1x1", in, 320, {1, 1}, {1, 1}, {0, 0});
    s1 = u(*this, "branch3x3_1", in, 384, {1, 1}, {1, 1}, {0, 0});
    s2a = u(*this, "branch3x3_2a", 384, 384, {1, 3}, {1, 1}, {0, 1});
    s2b = u(*this, "branch3x3_2b", 384, 384, {3, 1}, {1, 1}, {1, 0});
    d1 = u(*this, "branch3x3dbl_1", in, 448, {1, 1}, {1, 1}, {0, 0});
    d2 = u(*this, "branch3x3dbl_2", 448, 384, {3, 3}, {1, 1}, {1, 1});
    d3a = u(*this, "branch3x3dbl_3a", 384, 384, {1, 3}, {1, 1}, {0, 1});
    d3b = u(*this, "branch3x3dbl_3b", 384, 384, {3, 1}, {1, 1}, {1, 0});
    pool = u(*this, "branch_pool", in, 192, {1, 1}, {1, 1}, {0, 0});
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    const auto s = s1(x);
    const auto d = d2(d1(x));
    return torch::cat({b1(x), s2a(s), s2b(s), d3a(d), d3b(d), pool(avg(x))}, 1);
  }
};

}  // namespace

InceptionV3Impl::InceptionV3Impl(const InceptionOptions& options) : options_(options) {
  const Unit u = [this](nn::Module& parent, const std::string& name, int64_t in, int64_t out, const std::vector<int64_t>& k,
                        const std::vector<int64_t>& s,
                        const std::vector<int64_t>& p) { return unit(parent, name, in, out, k, s, p); };
  const Pool avg = [this](const torch::Tensor& x) { return avg_pool_same(x); };
  unit(*this, "Conv2d_1a_3x3", 3, 32, {3, 3}, {2, 2});
  unit(*this, "Conv2d_2a_3x3", 32, 32, {3, 3});
  unit(*this, "Conv2d_2b_3x3", 32, 64, {3, 3}, {1, 1}, {1, 1});
  unit(*this, "Conv2d_3b_1x1", 64, 80, {1, 1});
  unit(*this, "Conv2d_4a_3x3", 80, 192, {3, 3});
  auto add = [this](const std::string& name, std::shared_ptr<nn::Module> block) {
    blocks_.push_back(register_module(name, std::move(block)));
  };
  // Blocks register their units on construction, so creation order is Keras's conv2d_N order.
  add("Mixed_5b", std::make_shared<BlockA>(u, 192, 32, avg));
  add("Mixed_5c", std::make_shared<BlockA>(u, 256, 64, avg));
  add("Mixed_5d", std::make_shared<BlockA>(u, 288, 64, avg));
  add("Mixed_6a", std::make_shared<BlockB>(u, 288));
  add("Mixed_6b", std::make_shared<BlockC>(u, 128, avg));
  add("Mixed_6c", std::make_shared<BlockC>(u, 160, avg));
  add("Mixed_6d", std::make_shared<BlockC>(u, 160, avg));
  add("Mixed_6e", std::make_shared<BlockC>(u, 192, avg));
  add("Mixed_7a", std::make_shared<BlockD>(u));
  add("Mixed_7b", std::make_shared<BlockE>(u, 1280, avg));
  add("Mixed_7c", std::make_shared<BlockE>(u, 2048, avg));
  if (options.classifier_head) {
    dense1 = register_module("dense_1", nn::Linear(2048, 256));
    dense2 = register_module("dense_2", nn::Linear(256, 128));
    dense3 = register_module("dense_3", nn::Linear(128, 5));
  }
}

void InceptionV3Impl::set_bf16(bool on) {
  to(on ? torch::kBFloat16 : torch::kFloat32);
  bf16_ = on;
}

EncodedImages InceptionV3Impl::forward(const torch::Tensor& images) {
  auto x = channels_last_ ? images.contiguous(torch::MemoryFormat::ChannelsLast) : images;
  if (bf16_) x = x.to(torch::kBFloat16);
  if (options_.transform_input) {
    // torchvision's transform_input, the same per-channel affine map (torchvision documents it
    // for ImageNet-normalised input); here it maps the network's [0, 1] input.
    const auto mean = torch::tensor({0.485, 0.456, 0.406}, x.options()).view({1, 3, 1, 1});
    const auto stdev = torch::tensor({0.229, 0.224, 0.225}, x.options()).view({1, 3, 1, 1});
    x = x * (stdev / 0.5) + (mean - 0.5) / 0.5;
  }
  x = units_[0](x);
  x = units_[1](x);
  x = units_[2](x);
  x = F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2));
  x = units_[3](x);
  x = units_[4](x);
  x = F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2));
  const size_t last = grid_layer_ == GridLayer::Mixed5 ? kMixed5Block : blocks_.size() - 1;
  for (size_t i = 0; i <= last; ++i) x = static_cast<Block&>(*blocks_[i]).forward(x);
  x = x.to(torch::kFloat32);  // the grid is fp32 whatever the network ran in
  if (grid_layer_ == GridLayer::Mixed5) {
    const auto where = mixed5_cell_sampling_grid(images.size(2), images.size(3)).to(x.device(), x.scalar_type());
    const auto samples =
        F::grid_sample(x, where.expand({x.size(0), -1, -1, -1}),
                       F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(true));
    x = F::avg_pool2d(samples, F::AvgPool2dFuncOptions(kSamplesPerCell));
  }
  return {x.contiguous(), x.mean({2, 3})};
}

torch::Tensor InceptionV3Impl::classify(const torch::Tensor& pooled) {
  if (dense1.is_empty()) throw std::logic_error("this encoder has no classifier head");
  return torch::softmax(dense3(torch::relu(dense2(torch::relu(dense1(pooled))))), 1);
}

void InceptionV3Impl::set_channels_last(bool on) {
  if (on == channels_last_) return;
  const auto format = on ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
  torch::NoGradGuard no_grad;
  for (auto& u : units_) u->conv->weight.set_data(u->conv->weight.contiguous(format));
  channels_last_ = on;
}

void InceptionV3Impl::fold_batchnorm() {
  for (auto& u : units_) u->fold();
}

}  // namespace captioner
