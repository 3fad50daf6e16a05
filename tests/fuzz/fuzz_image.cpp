// The image header check and, for what it lets through, OpenCV's decoding, under the default
// limits: nothing may allocate past them.
#include <exception>
#include <string>

#include "core/vision/image_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  captioner::header_size(bytes);
  try {
    captioner::ImageLimits limits;
    limits.max_pixels = 4'000'000;  // keeps each decode fast; the check is the same at any limit
    captioner::decode_image_rgb(bytes, "fuzz", limits);
  } catch (const std::exception&) {
  }
  return 0;
}
