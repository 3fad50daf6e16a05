#pragma once
// Getting image features for a dataset of image files, shared by `train` and `eval`.
#include <cstdint>
#include <string>

#include "core/data/dataset.h"
#include "core/vision/encoder.h"

namespace captioner::cli {

struct DatasetImages {
  std::string image_dir;  // where the dataset's image paths are relative to; empty: no image files
  std::string cache;      // feature cache folder
};

// Where the images and the cache of `dataset` are: --images/--cache when given (the cache then
// defaults to CACHE_DIR/<cache name>); otherwise a dataset folder whose JSON lists images beside
// it (such as Shapes) uses its own folder and DATASET/<cache name>, the name depending on the
// encoder layer (feature_cache_name). Empty image_dir when the dataset has no image files.
DatasetImages locate_images(const CaptionDataset& dataset, const std::string& images_arg, const std::string& cache_arg,
                            const std::string& cache_dir, GridLayer layer);

// The encoder at `path`, or the installed default, returning `layer`'s grid.
Encoder load_encoder_or_default(const std::string& path, GridLayer layer = GridLayer::Mixed10);

// Encodes every image of `dataset` into the cache with progress on stderr (skipping what is
// there already), drops the images that could not be read (saying why), and returns the cache's
// pooled feature file. Throws DataError when no image could be read.
std::string extract_dataset_features(CaptionDataset& dataset, const DatasetImages& where, Encoder& encoder);

}  // namespace captioner::cli
