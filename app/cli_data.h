#pragma once
// Feature extraction's progress as `train`, `eval` and `extract` print it.
#include "core/vision/feature_cache.h"

namespace captioner::cli {

// A redrawn line on a terminal; otherwise a line every 200 images and at the end.
void print_extraction_progress(const ExtractProgress& progress);

}  // namespace captioner::cli
