// The notebook's handout folder: captions_tokenized.json (the input) beside a fixed valid
// image_codes.npy of 4 rows.
#include <vector>

#include "core/data/dataset.h"
#include "core/util/npy.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool codes = [] {
    const std::vector<float> rows(4 * 3, 0.5f);
    captioner::write_npy_f32(captioner::fuzz::scratch_dir() + "/image_codes.npy", rows.data(), {4, 3});
    return true;
  }();
  (void)codes;
  return captioner::fuzz::read_as_file("captions_tokenized.json", data, size,
                                       [](const std::string&) { captioner::read_handout(captioner::fuzz::scratch_dir()); });
}
