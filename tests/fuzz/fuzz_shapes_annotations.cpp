// The object annotations of a Shapes dataset.json.
#include <exception>

#include "core/shapes.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = captioner::fuzz::write_file("dataset.json", data, size);
  try {
    captioner::read_shapes_annotations(path);
  } catch (const std::exception&) {
  }
  return 0;
}
