#include "app/cli_data.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <set>

#include "app/cli_output.h"
#include "core/encoder.h"
#include "core/errors.h"
#include "core/feature_cache.h"
#include "core/runtime.h"

namespace captioner::cli {

DatasetImages locate_images(const CaptionDataset& dataset, const std::string& images_arg, const std::string& cache_arg,
                            const std::string& default_cache) {
  DatasetImages where;
  if (dataset.format == DatasetFormat::Handout) {
    if (!images_arg.empty()) throw ConfigError("--images is for COCO or Karpathy data; a handout folder has its features");
    return where;
  }
  if (!images_arg.empty()) {
    where.image_dir = images_arg;
    where.cache = cache_arg.empty() ? default_cache : cache_arg;
    return where;
  }
  // A dataset that keeps its images beside its JSON (Shapes does) needs no --images.
  if (!dataset.images.empty() && std::filesystem::exists(dataset.image_root + "/" + dataset.images.front().file)) {
    where.image_dir = dataset.image_root;
    where.cache = cache_arg.empty() ? dataset.image_root + "/features" : cache_arg;
  }
  return where;
}

std::string extract_dataset_features(CaptionDataset& dataset, const DatasetImages& where, const std::string& encoder_path,
                                     int64_t threads) {
  configure_threads(threads);
  Encoder encoder = load_encoder(encoder_path.empty() ? find_default_encoder() : encoder_path, resolve_device("auto"));
  std::vector<std::string> files;
  for (const auto& image : dataset.images) files.push_back(where.image_dir + "/" + image.file);
  class Progress : public ExtractObserver {
    void on_progress(const ExtractProgress& p) override {
      if (p.done == p.total || p.done % 200 < 8)
        std::fprintf(stderr, "features: %lld/%lld images, %.1f images/s, ETA %s\n", static_cast<long long>(p.done),
                     static_cast<long long>(p.total), p.images_per_s, format_duration(p.eta_s).c_str());
    }
  } progress;
  const ExtractResult r = extract_features(encoder, files, where.cache, {}, &progress);
  std::set<std::string> bad;
  for (const auto& [path, reason] : r.failed) {
    std::cerr << "skipped image: " << reason << '\n';
    bad.insert(path);
  }
  std::vector<ImageRecord> kept;
  for (size_t i = 0; i < dataset.images.size(); ++i) {
    if (bad.count(files[i])) continue;
    dataset.images[i].feature_row = static_cast<int64_t>(i);
    kept.push_back(std::move(dataset.images[i]));
  }
  if (kept.empty()) throw DataError(where.image_dir, "none of the dataset's images could be read");
  dataset.images = std::move(kept);
  return cache_files(where.cache, false).pooled;
}

}  // namespace captioner::cli
