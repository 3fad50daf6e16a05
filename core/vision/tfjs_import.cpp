#include "core/vision/tfjs_import.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <regex>

#include "core/util/atomic_file.h"
#include "core/util/base64.h"
#include "core/util/errors.h"

namespace captioner {

namespace {

// The longest double-quoted run of base64 characters in a shard module (a linear scan: the run is
// megabytes long, too long for a backtracking regex).
std::string base64_payload(const std::string& module, const std::string& path) {
  size_t best_start = 0, best_len = 0;
  for (size_t i = 0; i < module.size(); ++i) {
    if (module[i] != '"') continue;
    size_t j = i + 1;
    while (j < module.size() &&
           (std::isalnum(static_cast<unsigned char>(module[j])) || module[j] == '+' || module[j] == '/' || module[j] == '='))
      ++j;
    if (j < module.size() && module[j] == '"' && j - i - 1 > best_len) {
      best_start = i + 1;
      best_len = j - i - 1;
    }
    i = j;
  }
  if (best_len < 1024) throw DataError(path, "holds no base64 weight data");
  return module.substr(best_start, best_len);
}

// The weight bytes of every shard the manifest lists, in order. The shard list is found by plain
// search: a backtracking regex over a long list can exhaust the stack.
std::string read_shards(const std::string& model, const std::string& model_path, const std::string& model_dir) {
  const size_t paths_at = model.find("paths:[");
  const size_t paths_end = paths_at == std::string::npos ? std::string::npos : model.find(']', paths_at);
  if (paths_end == std::string::npos) throw DataError(model_path, "no weights manifest (paths) found");
  std::vector<std::string> shards;
  for (size_t i = model.find('"', paths_at); i < paths_end;) {
    const size_t close = model.find('"', i + 1);
    if (close == std::string::npos || close > paths_end) break;
    if (close > i + 1) shards.push_back(model.substr(i + 1, close - i - 1));
    i = model.find('"', close + 1);
  }
  if (shards.empty()) throw DataError(model_path, "the weights manifest lists no shard");
  std::string bytes;
  for (const auto& shard : shards) {
    const std::string shard_path = model_dir + "/" + shard + ".min.js";
    try {
      bytes += decode_base64(base64_payload(read_file(shard_path), shard_path));
    } catch (const std::invalid_argument& e) {
      throw DataError(shard_path, e.what());
    }
  }
  return bytes;
}

}  // namespace

std::vector<NamedTensor> read_tfjs_weights(const std::string& model_dir) {
  const std::string model_path = model_dir + "/model.min.js";
  const std::string model = read_file(model_path);

  std::string bytes = read_shards(model, model_path, model_dir);  // from_blob takes a mutable pointer
  const std::string number = R"re((-?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?))re";
  const std::regex entry(R"re(\{name:"([^"]+)",shape:\[([0-9,]*)\],dtype:"float32",quantization:\{min:)re" + number +
                         ",scale:" + number + R"re(,dtype:"uint8"\}\})re");
  const std::regex digits("[0-9]+");
  std::vector<NamedTensor> tensors;
  size_t offset = 0;
  for (auto it = std::sregex_iterator(model.begin(), model.end(), entry); it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    std::vector<int64_t> shape;
    int64_t count = 1;
    const std::string dims = m[2].str();
    for (auto d = std::sregex_iterator(dims.begin(), dims.end(), digits); d != std::sregex_iterator(); ++d) {
      const std::string text = d->str();
      int64_t dim = 0;
      const auto parsed = std::from_chars(text.data(), text.data() + text.size(), dim);
      if (parsed.ec != std::errc() || __builtin_mul_overflow(count, dim, &count))
        throw DataError(model_path, "tensor " + m[1].str() + " has a shape too large to hold");
      shape.push_back(dim);
    }
    if (static_cast<uint64_t>(count) > bytes.size() - offset)
      throw DataError(model_dir, "weight data ends inside tensor " + m[1].str());
    char* end = nullptr;
    const std::string min_text = m[3].str(), scale_text = m[4].str();
    const double min = std::strtod(min_text.c_str(), &end);
    const double scale = std::strtod(scale_text.c_str(), &end);
    if (!std::isfinite(min) || !std::isfinite(scale))
      throw DataError(model_path, "tensor " + m[1].str() + " has a quantization range that is not finite");
    auto q = torch::from_blob(bytes.data() + offset, {count}, torch::kUInt8).to(torch::kFloat64);
    tensors.push_back({m[1].str(), (q * scale + min).to(torch::kFloat32).reshape(shape)});
    offset += static_cast<size_t>(count);
  }
  if (tensors.empty()) throw DataError(model_path, "no uint8-quantized float32 weights in the manifest");
  if (offset != bytes.size())
    throw DataError(model_dir, "the manifest covers " + std::to_string(offset) + " bytes but the shards hold " +
                                   std::to_string(bytes.size()));
  return tensors;
}

}  // namespace captioner
