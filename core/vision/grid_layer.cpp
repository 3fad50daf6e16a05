#include "core/vision/grid_layer.h"

#include <cstring>

#include "core/util/errors.h"

namespace captioner {

const char* grid_layer_name(GridLayer layer) { return layer == GridLayer::Mixed5 ? "mixed5" : "mixed10"; }

GridLayer parse_grid_layer(const std::string& name) {
  if (name == "mixed10") return GridLayer::Mixed10;
  if (name == "mixed5") return GridLayer::Mixed5;
  throw ConfigError("unknown encoder layer '" + name + "' (mixed10 or mixed5)");
}

int64_t grid_channels(GridLayer layer) { return layer == GridLayer::Mixed5 ? 768 : 2048; }

namespace {
constexpr const char* kCellsSuffix = "-cells";
}  // namespace

std::string encoder_id_suffix(GridLayer layer) {
  return layer == GridLayer::Mixed10 ? "" : std::string("/") + grid_layer_name(layer) + kCellsSuffix;
}

GridLayer grid_layer_of(const std::string& encoder_id) {
  const size_t slash = encoder_id.find('/');
  if (slash == std::string::npos) return GridLayer::Mixed10;
  const std::string layer = encoder_id.substr(slash + 1);
  if (layer == "mixed5")
    throw DataError("", "encoder " + encoder_id +
                            " is the earlier mixed5 grid (equal pooling windows, half a cell off at the image's "
                            "edges); extract the features and train again with --layer mixed5");
  const size_t suffix = layer.size() >= std::strlen(kCellsSuffix) ? layer.size() - std::strlen(kCellsSuffix) : 0;
  if (suffix == 0 || layer.compare(suffix, std::string::npos, kCellsSuffix) != 0)
    throw DataError("", "unknown encoder layer in id " + encoder_id);
  return parse_grid_layer(layer.substr(0, suffix));
}

std::string feature_cache_name(GridLayer layer) {
  return layer == GridLayer::Mixed10 ? "features" : std::string("features-") + grid_layer_name(layer);
}

}  // namespace captioner
