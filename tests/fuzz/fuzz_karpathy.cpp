// Karpathy split JSON (dataset_coco.json and its Flickr twins).
#include <exception>

#include "core/dataset.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = captioner::fuzz::write_file("dataset_karpathy.json", data, size);
  try {
    captioner::read_karpathy(path);
  } catch (const std::exception&) {
  }
  return 0;
}
