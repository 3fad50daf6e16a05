// COCO results ([{image_id, caption}]) and the same bytes read as references.
#include "core/data/coco_results.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  captioner::fuzz::read_as_file("results.json", data, size, [](const std::string& path) { captioner::read_results(path); });
  return captioner::fuzz::read_as_file("references.json", data, size,
                                       [](const std::string& path) { captioner::read_references(path); });
}
