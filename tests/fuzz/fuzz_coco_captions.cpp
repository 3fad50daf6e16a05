// COCO captions JSON (annotations/captions_*.json).
#include <exception>

#include "core/dataset.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = captioner::fuzz::write_file("captions.json", data, size);
  try {
    captioner::read_coco_captions(path);
  } catch (const std::exception&) {
  }
  return 0;
}
