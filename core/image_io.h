#pragma once
// Image files in, encoder input out. Decoding uses OpenCV (JPEG, PNG, BMP, TIFF, WebP);
// grayscale and 16-bit images become 8-bit RGB, alpha is dropped, EXIF orientation is honoured.
// Bad files are refused with DataError naming the file and the reason, never a crash.
#include <torch/types.h>

#include <cstdint>
#include <string>

namespace captioner {

struct ImageLimits {
  int64_t max_pixels = 100'000'000;  // decompression-bomb guard, checked before decoding
  int min_side = 8;
};

// RGB uint8 [H, W, 3].
torch::Tensor load_image_rgb(const std::string& path, const ImageLimits& limits = {});
torch::Tensor decode_image_rgb(const std::string& bytes, const std::string& name, const ImageLimits& limits = {});

// The encoder input the Inception weights expect: float [3, 299, 299] in [0, 1], bilinear
// resize with align-corners semantics, no aspect-ratio preservation.
torch::Tensor inception_input(const torch::Tensor& rgb);

// Image width and height from the file header alone (JPEG, PNG, BMP, GIF, WebP, TIFF); {0, 0}
// when the format is not recognised.
std::pair<int64_t, int64_t> header_size(const std::string& bytes);

}  // namespace captioner
