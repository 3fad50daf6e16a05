#include "app/cli_data.h"

#include <cstdio>
#include <iostream>

#include "app/cli_output.h"
#include "core/util/duration.h"
#include "core/util/errors.h"
#include "core/vision/encoder.h"
#include "core/vision/feature_cache.h"

namespace captioner::cli {

void print_extraction_progress(const ExtractProgress& p) {
  if (p.done == p.total || p.done % 200 < 8)
    std::fprintf(stderr, "features: %lld/%lld images, %.1f images/s, ETA %s\n", static_cast<long long>(p.done),
                 static_cast<long long>(p.total), p.images_per_s, format_duration(p.eta_s).c_str());
}

std::string extract_with_console_progress(CaptionDataset& dataset, const DatasetImages& where, Encoder& encoder) {
  class Progress : public ExtractObserver {
    void on_progress(const ExtractProgress& p) override { print_extraction_progress(p); }
  } progress;
  const DatasetExtraction x = extract_dataset_features(encoder, dataset, where.image_dir, where.cache, &progress);
  for (const auto& failed : x.result.failed) std::cerr << "skipped image: " << failed.second << '\n';
  if (!x.result.refreshed.empty())
    std::cerr << "features: " << x.result.refreshed.size() << " image(s) changed since they were cached and were encoded again\n";
  return x.pooled;
}

}  // namespace captioner::cli
