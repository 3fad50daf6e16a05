#include "core/features.h"

#include "core/errors.h"

namespace captioner {

FeatureTable FeatureTable::open(const std::string& npy_path) {
  FeatureTable table;
  table.npy_ = NpyArray::open(npy_path);
  if (table.npy_->shape().size() != 2)
    throw DataError(npy_path, "expected a 2-D feature array [images, features], found " +
                                  std::to_string(table.npy_->shape().size()) + " dimension(s)");
  if (table.npy_->rows() == 0 || table.npy_->row_size() == 0) throw DataError(npy_path, "feature array is empty");
  return table;
}

FeatureTable FeatureTable::from_tensor(torch::Tensor features) {
  if (features.dim() != 2) throw DataError("", "feature tensor must be 2-D [images, features]");
  FeatureTable table;
  table.memory_ = features.to(torch::kFloat32).contiguous();
  return table;
}

int64_t FeatureTable::rows() const { return npy_ ? npy_->rows() : memory_.size(0); }
int64_t FeatureTable::dim() const { return npy_ ? npy_->row_size() : memory_.size(1); }

torch::Tensor FeatureTable::gather(const std::vector<int64_t>& rows) const {
  if (!npy_) {
    return memory_.index_select(0, torch::tensor(rows, torch::kInt64));
  }
  auto out = torch::empty({static_cast<int64_t>(rows.size()), dim()}, torch::kFloat32);
  float* dst = out.data_ptr<float>();
  for (size_t i = 0; i < rows.size(); ++i) npy_->read_row(rows[i], dst + static_cast<int64_t>(i) * dim());
  return out;
}

}  // namespace captioner
