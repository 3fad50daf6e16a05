#include "core/data/feature_table.h"

#include "core/util/errors.h"

namespace captioner {

namespace {
constexpr size_t kReleasedAbove = size_t{1} << 30;
}  // namespace

FeatureTable FeatureTable::open(const std::string& npy_path) {
  FeatureTable table;
  table.npy_ = NpyArray::open(npy_path);
  if (table.npy_->mapped_bytes() > kReleasedAbove) table.npy_->read_rows_by_hand();
  const auto dims = table.npy_->shape().size();
  if (dims != 2 && dims != 3)
    throw DataError(npy_path, "expected a feature array [images, features] or [images, cells, features], found " +
                                  std::to_string(dims) + " dimension(s)");
  if (table.npy_->rows() == 0 || table.npy_->row_size() == 0) throw DataError(npy_path, "feature array is empty");
  return table;
}

FeatureTable FeatureTable::from_tensor(const torch::Tensor& features) {
  if (features.dim() != 2 && features.dim() != 3)
    throw DataError("", "feature tensor must be [images, features] or [images, cells, features]");
  FeatureTable table;
  table.memory_ = features.to(torch::kFloat32).contiguous();
  return table;
}

int64_t FeatureTable::rows() const { return npy_ ? npy_->rows() : memory_.size(0); }
int64_t FeatureTable::dim() const { return npy_ ? npy_->shape().back() : memory_.size(-1); }

std::vector<int64_t> FeatureTable::row_shape() const {
  if (npy_) return {npy_->shape().begin() + 1, npy_->shape().end()};
  return {memory_.sizes().begin() + 1, memory_.sizes().end()};
}

torch::Tensor FeatureTable::gather(const std::vector<int64_t>& rows) const {
  if (!npy_) {
    return memory_.index_select(0, torch::tensor(rows, torch::kInt64));
  }
  std::vector<int64_t> shape = row_shape();
  shape.insert(shape.begin(), static_cast<int64_t>(rows.size()));
  auto out = torch::empty(shape, torch::kFloat32);
  float* dst = out.data_ptr<float>();
  const int64_t row_size = npy_->row_size();
  // Native float16 rows (the grid cache) convert with ATen's vectorised copy: 10x the scalar loop.
  const bool half = npy_->descr().substr(1) == "f2" && npy_->native_byte_order() && !npy_->fortran_order();
  // Rows of an array of more than 1 GiB are fetched together and released after the copy: a
  // COCO-sized grid (31 GB) would otherwise stay mapped into the process as it is read, up to
  // all of memory, and be read many times over by the kernel's read-ahead.
  const bool release = npy_->mapped_bytes() > kReleasedAbove;
  if (release)
    for (int64_t row : rows) npy_->prefetch_row(row);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (half) {
      const auto source = torch::from_blob(const_cast<void*>(npy_->row_data(rows[i])), {row_size}, torch::kHalf);
      out.view({-1, row_size})[static_cast<int64_t>(i)].copy_(source);
    } else {
      npy_->read_row(rows[i], dst + static_cast<int64_t>(i) * row_size);
    }
    if (release) npy_->release_row(rows[i]);
  }
  return out;
}

}  // namespace captioner
