#pragma once
// Image files in, encoder input out. Decoding uses OpenCV (JPEG, PNG, BMP, TIFF, WebP);
// grayscale and 16-bit images become 8-bit RGB, alpha is dropped, EXIF orientation is honoured.
// Bad files are refused with DataError naming the file and the reason, never a crash.
#include <torch/types.h>
#include <opencv2/core/mat.hpp>

#include <cstdint>
#include <string>

namespace captioner {

// Limits by design, not by format: a file is read only if it is a regular file no larger than
// max_file_bytes, and decoded only if its header (JPEG, PNG, BMP, WebP or TIFF; other formats
// are refused) gives a size of at most max_pixels, so no input can make the decoder allocate
// more than a few bytes per allowed pixel.
struct ImageLimits {
  int64_t max_pixels = 100'000'000;  // decompression-bomb guard, checked before decoding
  // What the decoded image may take, pixels x channels x bytes per sample (16-bit and alpha
  // included): a 100-megapixel 8-bit RGBA image, not a 16-bit one.
  int64_t max_decoded_bytes = 400'000'000;
  int64_t max_file_bytes = 256LL << 20;
  int min_side = 8;
};

// The bytes of an image file, within limits.max_file_bytes; refuses anything but a regular file.
std::string read_image_file(const std::string& path, const ImageLimits& limits = {});

// RGB uint8 [H, W, 3]: EXIF orientation applied, a transparent PNG laid over white. With
// min_short_side > 0 an opaque image may come at a half, a quarter or an eighth of its size, as
// long as its short side stays at least that long (JPEG decodes that much faster).
torch::Tensor load_image_rgb(const std::string& path, const ImageLimits& limits = {}, int min_short_side = 0);
torch::Tensor decode_image_rgb(const std::string& bytes, const std::string& name, const ImageLimits& limits = {},
                               int min_short_side = 0);

// An RGB uint8 [H, W, 3] image as an OpenCV BGR matrix (a copy), for drawing.
cv::Mat to_bgr_mat(const torch::Tensor& rgb);

// The encoder input the Inception weights expect: float [3, 299, 299] in [0, 1], bilinear
// resize with align-corners semantics, no aspect-ratio preservation.
torch::Tensor inception_input(const torch::Tensor& rgb);

// Image width and height from the file header alone (JPEG, PNG, BMP, WebP, TIFF); {0, 0}
// when the format is not recognised or the header does not give one size. A JPEG's is what
// libjpeg (the decoder) reads; a TIFF with two width or height tags has none.
std::pair<int64_t, int64_t> header_size(const std::string& bytes);

}  // namespace captioner
