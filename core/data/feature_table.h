#pragma once
// Image features, one row per dataset image, read on demand from a memory-mapped .npy file or
// held in memory. A row is a vector [dim] (pooled features) or a grid [cells, dim].
#include <torch/types.h>

#include <optional>
#include <string>
#include <vector>

#include "core/util/npy.h"

namespace captioner {

class FeatureTable {
 public:
  // Opens a float .npy file of 2 or 3 dimensions; throws DataError naming it when it is not one.
  static FeatureTable open(const std::string& npy_path);
  // Wraps a float tensor [rows, dim] or [rows, cells, dim] already in memory.
  static FeatureTable from_tensor(const torch::Tensor& features);

  int64_t rows() const;
  int64_t dim() const;                     // the last dimension: the width of one feature vector
  std::vector<int64_t> row_shape() const;  // [dim] or [cells, dim]
  // Float32 CPU tensor [rows.size(), row_shape()...].
  torch::Tensor gather(const std::vector<int64_t>& rows) const;

 private:
  std::optional<NpyArray> npy_;
  torch::Tensor memory_;
};

}  // namespace captioner
