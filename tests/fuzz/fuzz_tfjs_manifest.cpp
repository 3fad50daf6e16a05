// TF.js model.min.js (the input: topology and weights manifest) beside a fixed shard of 864
// bytes of weight data, as `captioner import-weights --nsfwjs` reads them.
#include <string>

#include "core/vision/tfjs_import.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool shard = [] {
    captioner::fuzz::write_file("group1-shard1of1.min.js", "module.exports=\"" + std::string(1152, 'A') + "\"");
    return true;
  }();
  (void)shard;
  return captioner::fuzz::read_as_file("model.min.js", data, size,
                                       [](const std::string&) { captioner::read_tfjs_weights(captioner::fuzz::scratch_dir()); });
}
