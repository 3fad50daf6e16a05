// The object annotations of a Shapes dataset.json.
#include "core/data/shapes.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return captioner::fuzz::read_as_file("dataset.json", data, size,
                                       [](const std::string& path) { captioner::read_shapes_annotations(path); });
}
