// A checkpoint's metadata record (JSON): configuration, vocabulary, step, consistency checks.
#include <exception>
#include <string>

#include "core/run/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    captioner::read_checkpoint_meta(text, "fuzz.pt", 1 << 20);
  } catch (const std::exception&) {
  }
  return 0;
}
