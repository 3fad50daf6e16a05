// COCO results ([{image_id, caption}]) and the same bytes read as references.
#include <exception>

#include "core/coco_results.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = captioner::fuzz::write_file("results.json", data, size);
  try {
    captioner::read_results(path);
  } catch (const std::exception&) {
  }
  try {
    captioner::read_references(path);
  } catch (const std::exception&) {
  }
  return 0;
}
