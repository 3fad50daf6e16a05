#pragma once
// Getting image features for a dataset of image files, shared by `train` and `eval`.
#include <string>

#include "core/data/dataset.h"
#include "core/vision/encoder.h"
#include "core/vision/feature_cache.h"

namespace captioner::cli {

// One line on stderr every 200 images and at the end.
void print_extraction_progress(const ExtractProgress& progress);

// Encodes every image of `dataset` into the cache with progress on stderr (skipping what is
// there already), drops the images that could not be read (saying why), and returns the cache's
// pooled feature file. Throws DataError when no image could be read.
std::string extract_with_console_progress(CaptionDataset& dataset, const DatasetImages& where, Encoder& encoder);

}  // namespace captioner::cli
