// Karpathy split JSON (dataset_coco.json and its Flickr twins).
#include "core/data/dataset.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return captioner::fuzz::read_as_file("dataset_karpathy.json", data, size,
                                       [](const std::string& path) { captioner::read_karpathy(path); });
}
