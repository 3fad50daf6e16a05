#pragma once
// Reads a TensorFlow.js layers model as the npm package nsfwjs ships it: model.min.js (a JS
// module holding the topology and the weights manifest) and group1-shardKofN.min.js (JS modules
// each holding a base64 string; decoded and concatenated they are the weight bytes). Tensors
// are uint8-quantized per tensor: value = min + scale * q.
#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace captioner {

struct NamedTensor {
  std::string name;  // e.g. "conv2d_1/kernel"
  torch::Tensor value;
};

// `model_dir` holds model.min.js and its shards. Throws DataError naming the file at fault.
std::vector<NamedTensor> read_tfjs_weights(const std::string& model_dir);

}  // namespace captioner
