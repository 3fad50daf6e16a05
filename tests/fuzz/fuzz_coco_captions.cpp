// COCO captions JSON (annotations/captions_*.json).
#include "core/data/dataset.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return captioner::fuzz::read_as_file("captions.json", data, size,
                                       [](const std::string& path) { captioner::read_coco_captions(path); });
}
