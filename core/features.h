#pragma once
// Image feature vectors, one row per dataset image, read on demand from a memory-mapped .npy
// file or held in memory.
#include <torch/types.h>

#include <optional>
#include <string>
#include <vector>

#include "core/npy.h"

namespace captioner {

class FeatureTable {
 public:
  // Opens a 2-D float .npy file; throws DataError naming it when it is not one.
  static FeatureTable open(const std::string& npy_path);
  // Wraps a float tensor [rows, dim] already in memory.
  static FeatureTable from_tensor(torch::Tensor features);

  int64_t rows() const;
  int64_t dim() const;
  // Float32 CPU tensor [rows.size(), dim()].
  torch::Tensor gather(const std::vector<int64_t>& rows) const;

 private:
  std::optional<NpyArray> npy_;
  torch::Tensor memory_;
};

}  // namespace captioner
