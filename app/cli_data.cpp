#include "app/cli_data.h"

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "app/cli_output.h"
#include "core/util/errors.h"
#include "core/util/runtime.h"
#include "core/vision/encoder.h"
#include "core/vision/feature_cache.h"

namespace captioner::cli {

DatasetImages locate_images(const CaptionDataset& dataset, const std::string& images_arg, const std::string& cache_arg,
                            const std::string& cache_dir, GridLayer layer) {
  DatasetImages where;
  if (dataset.format == DatasetFormat::Handout) {
    if (!images_arg.empty()) throw ConfigError("--images is for COCO or Karpathy data; a handout folder has its features");
    return where;
  }
  if (!images_arg.empty()) {
    where.image_dir = images_arg;
    where.cache = cache_arg.empty() ? cache_dir + "/" + feature_cache_name(layer) : cache_arg;
    return where;
  }
  // A dataset that keeps its images beside its JSON (Shapes does) needs no --images.
  if (!dataset.images.empty() && std::filesystem::exists(dataset.image_root + "/" + dataset.images.front().file)) {
    where.image_dir = dataset.image_root;
    where.cache = cache_arg.empty() ? dataset.image_root + "/" + feature_cache_name(layer) : cache_arg;
  }
  return where;
}

Encoder load_encoder_or_default(const std::string& path, GridLayer layer) {
  Encoder encoder = load_encoder(path.empty() ? find_default_encoder() : path, resolve_device("auto"));
  use_grid_layer(encoder, layer);
  return encoder;
}

std::string extract_dataset_features(CaptionDataset& dataset, const DatasetImages& where, Encoder& encoder) {
  class Progress : public ExtractObserver {
    void on_progress(const ExtractProgress& p) override {
      if (p.done == p.total || p.done % 200 < 8)
        std::fprintf(stderr, "features: %lld/%lld images, %.1f images/s, ETA %s\n", static_cast<long long>(p.done),
                     static_cast<long long>(p.total), p.images_per_s, format_duration(p.eta_s).c_str());
    }
  } progress;
  const DatasetExtraction x = extract_dataset_features(encoder, dataset, where.image_dir, where.cache, &progress);
  for (const auto& failed : x.result.failed) std::cerr << "skipped image: " << failed.second << '\n';
  if (!x.result.refreshed.empty())
    std::cerr << "features: " << x.result.refreshed.size() << " image(s) changed since they were cached and were encoded again\n";
  if (dataset.images.empty()) throw DataError(where.image_dir, "none of the dataset's images could be read");
  return x.pooled;
}

}  // namespace captioner::cli
