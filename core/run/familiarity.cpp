#include "core/run/familiarity.h"
#include "core/run/run_folder.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "core/util/errors.h"
#include "core/util/npy.h"

namespace captioner {

torch::Tensor image_signature(const torch::Tensor& model_input) {
  torch::Tensor x = model_input.to(torch::kFloat32);
  if (x.dim() == 3) x = x.mean(1);
  return x / x.norm(2, 1, true).clamp_min(1e-12);
}

void write_familiarity_reference(const std::string& run_dir, const FeatureTable& features, std::vector<int64_t> rows,
                                 uint64_t seed, int64_t count) {
  if (rows.size() < 2) return;
  std::mt19937_64 rng(seed);
  std::shuffle(rows.begin(), rows.end(), rng);
  if (static_cast<int64_t>(rows.size()) > count) rows.resize(static_cast<size_t>(count));
  std::sort(rows.begin(), rows.end());  // reads the file in order
  const torch::Tensor signatures = image_signature(features.gather(rows)).contiguous();
  write_npy_f32(RunFolder(run_dir).familiarity(), signatures.data_ptr<float>(), {signatures.size(0), signatures.size(1)});
}

double Familiarity::nearest(const torch::Tensor& model_input) const {
  if (!available()) return std::nan("");
  const torch::Tensor s = image_signature(model_input.cpu());
  if (s.size(1) != reference.size(1)) return std::nan("");
  return torch::matmul(reference, s.t()).max().item<double>();
}

Familiarity read_familiarity(const std::string& run_dir) {
  Familiarity f;
  const std::string path = RunFolder(run_dir).familiarity();
  if (!std::filesystem::exists(path)) return f;
  const FeatureTable table = FeatureTable::open(path);
  if (table.row_shape().size() != 1 || table.rows() < 2) throw DataError(path, "expected [images, features] signatures");
  std::vector<int64_t> all(static_cast<size_t>(table.rows()));
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  f.reference = table.gather(all).contiguous();
  // Each reference image's nearest other reference image.
  torch::Tensor similarity = torch::matmul(f.reference, f.reference.t());
  similarity.fill_diagonal_(-2.0);
  const torch::Tensor nearest = std::get<0>(std::get<0>(similarity.max(1)).sort());
  const int64_t k = nearest.size(0);
  f.typical = nearest[std::min<int64_t>(k - 1, static_cast<int64_t>(std::floor(0.01 * static_cast<double>(k))))].item<double>();
  return f;
}

}  // namespace captioner
