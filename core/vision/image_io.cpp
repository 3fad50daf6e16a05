#include "core/vision/image_io.h"

#include <torch/nn/functional/upsampling.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <csetjmp>
#include <cstdio>  // before jpeglib.h, which uses FILE
#include <cstdlib>
#include <vector>

#include <jpeglib.h>

#include "core/util/atomic_file.h"
#include "core/util/errors.h"

namespace captioner {

namespace {

// PNG's IHDR: channels and bytes per sample of what a decoder keeping them all would make.
std::pair<int, int> png_channels_and_bytes(const std::string& b) {
  if (b.size() <= 25 || b.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return {3, 1};
  const int depth = static_cast<unsigned char>(b[24]);
  static const int channels_of[] = {1, 0, 3, 3, 2, 0, 4};  // by colour type; palette (3) expands to RGB
  const int type = static_cast<unsigned char>(b[25]);
  const int channels = type <= 6 && channels_of[type] > 0 ? channels_of[type] : 4;
  return {std::max(channels, 3), depth > 8 ? 2 : 1};
}

uint32_t be16(const std::string& b, size_t i) {
  return static_cast<uint32_t>(static_cast<unsigned char>(b[i])) << 8 | static_cast<unsigned char>(b[i + 1]);
}
uint32_t le16(const std::string& b, size_t i) {
  return static_cast<uint32_t>(static_cast<unsigned char>(b[i + 1])) << 8 | static_cast<unsigned char>(b[i]);
}
uint32_t be32(const std::string& b, size_t i) { return be16(b, i) << 16 | be16(b, i + 2); }
uint32_t le32(const std::string& b, size_t i) { return le16(b, i + 2) << 16 | le16(b, i); }

bool is_jpeg(const std::string& b) {
  return b.size() > 3 && static_cast<unsigned char>(b[0]) == 0xFF && static_cast<unsigned char>(b[1]) == 0xD8;
}

// A PNG whose IHDR says it has an alpha channel (colour type 4: grey + alpha, 6: RGBA).
bool is_png_with_alpha(const std::string& b) {
  return b.size() > 25 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0 && b.compare(12, 4, "IHDR") == 0 &&
         (b[25] == 4 || b[25] == 6);
}

// An image with alpha laid over white, as 8-bit BGR: what a viewer shows of a transparent image.
cv::Mat over_white(const cv::Mat& image) {
  cv::Mat bgra;
  if (image.depth() == CV_16U)
    image.convertTo(bgra, CV_8U, 1.0 / 257.0);
  else
    bgra = image;
  if (bgra.channels() == 2) cv::cvtColor(bgra, bgra, cv::COLOR_GRAY2BGRA);  // OpenCV reads grey + alpha as 2 channels
  if (bgra.channels() != 4) {
    cv::Mat bgr;
    if (bgra.channels() == 1)
      cv::cvtColor(bgra, bgr, cv::COLOR_GRAY2BGR);
    else
      bgr = bgra;
    return bgr;
  }
  cv::Mat bgr(bgra.rows, bgra.cols, CV_8UC3);
  for (int y = 0; y < bgra.rows; ++y) {
    const auto* in = bgra.ptr<cv::Vec4b>(y);
    auto* out = bgr.ptr<cv::Vec3b>(y);
    for (int x = 0; x < bgra.cols; ++x) {
      const int a = in[x][3];
      for (int c = 0; c < 3; ++c) out[x][c] = static_cast<uint8_t>((in[x][c] * a + 255 * (255 - a) + 127) / 255);
    }
  }
  return bgr;
}

// libjpeg's own reading of the frame size, the one OpenCV's decoder then uses: a marker scan of
// our own could be led elsewhere (a TEM marker has no length, a stray byte is skipped). {0, 0}
// when libjpeg cannot read a header.
struct JpegErrors {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
};
extern "C" void jpeg_fail(j_common_ptr info) { std::longjmp(reinterpret_cast<JpegErrors*>(info->err)->jump, 1); }
extern "C" void jpeg_quiet(j_common_ptr, int) {}

std::pair<int64_t, int64_t> jpeg_decoder_size(const std::string& b) {
  jpeg_decompress_struct info{};
  JpegErrors errors{};
  info.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = jpeg_fail;
  errors.manager.emit_message = jpeg_quiet;
  if (setjmp(errors.jump) != 0) {
    jpeg_destroy_decompress(&info);
    return {0, 0};
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(b.data()), static_cast<unsigned long>(b.size()));
  jpeg_read_header(&info, TRUE);
  const int64_t width = info.image_width, height = info.image_height;
  jpeg_destroy_decompress(&info);
  return {width, height};
}

// The decoding flag that reads an opaque image at the smallest of 1, 1/2, 1/4 or 1/8 of its size
// whose short side is still at least min_short_side (0: full size).
int reduced_colour_flag(int short_side, int min_short_side) {
  if (min_short_side <= 0) return cv::IMREAD_COLOR;
  for (const auto& [factor, flag] :
       {std::pair<int, int>{8, cv::IMREAD_REDUCED_COLOR_8}, {4, cv::IMREAD_REDUCED_COLOR_4}, {2, cv::IMREAD_REDUCED_COLOR_2}})
    if (short_side / factor >= min_short_side) return flag;
  return cv::IMREAD_COLOR;
}

}  // namespace

std::pair<int64_t, int64_t> header_size(const std::string& b) {
  if (b.size() >= 24 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0) return {be32(b, 16), be32(b, 20)};
  if (b.size() >= 26 && b[0] == 'B' && b[1] == 'M') {
    const auto w = static_cast<int32_t>(le32(b, 18)), h = static_cast<int32_t>(le32(b, 22));
    return {std::abs(static_cast<int64_t>(w)), std::abs(static_cast<int64_t>(h))};
  }
  if (b.size() >= 30 && b.compare(0, 4, "RIFF") == 0 && b.compare(8, 4, "WEBP") == 0) {
    if (b.compare(12, 4, "VP8 ") == 0) return {le16(b, 26) & 0x3fff, le16(b, 28) & 0x3fff};
    if (b.compare(12, 4, "VP8L") == 0) {
      const uint32_t bits = le32(b, 21);
      return {(bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1};
    }
    if (b.compare(12, 4, "VP8X") == 0) return {(le32(b, 24) & 0xffffff) + 1, (le32(b, 27) & 0xffffff) + 1};
  }
  if (is_jpeg(b)) return jpeg_decoder_size(b);
  if (b.size() >= 8 && (b.compare(0, 4, "II*\0", 4) == 0 || b.compare(0, 4, "MM\0*", 4) == 0)) {
    const bool le = b[0] == 'I';
    auto u16 = [&](size_t i) { return le ? le16(b, i) : be16(b, i); };
    auto u32 = [&](size_t i) { return le ? le32(b, i) : be32(b, i); };
    const size_t ifd = u32(4);
    if (ifd + 2 > b.size()) return {0, 0};
    int64_t w = 0, h = 0;
    const uint32_t n = u16(ifd);
    for (uint32_t k = 0; k < n && ifd + 2 + 12 * (k + 1) <= b.size(); ++k) {
      const size_t e = ifd + 2 + 12 * k;
      const uint32_t tag = u16(e), type = u16(e + 2);
      const uint32_t value = type == 3 ? u16(e + 8) : u32(e + 8);
      // A second width or height tag makes the size ambiguous (readers differ on which one
      // wins): no size, so the file is refused.
      if ((tag == 256 && w != 0) || (tag == 257 && h != 0)) return {0, 0};
      if (tag == 256) w = value;
      if (tag == 257) h = value;
    }
    return {w, h};
  }
  return {0, 0};
}

torch::Tensor decode_image_rgb(const std::string& bytes, const std::string& name, const ImageLimits& limits, int min_short_side) {
  if (bytes.empty()) throw DataError(name, "file is empty");
  const auto [w, h] = header_size(bytes);
  if ((w <= 0 || h <= 0) && is_jpeg(bytes))
    throw DataError(name, "JPEG header is truncated or corrupt (libjpeg finds no frame size in it)");
  if (w <= 0 || h <= 0)
    throw DataError(name, "not a readable image (not JPEG, PNG, BMP, WebP or TIFF, or no size in its header)");
  // OpenCV picks its decoder by signature, and a file its own codec declines can still match a
  // signature further in: DICOM's ("DICM" at byte 128; that decoder, GDCM, aborted the process on
  // malformed input, found by fuzz_image) or GDAL's DTED ("DTED" at byte 140; GDAL was handed such
  // files during fuzzing). No image of the accepted formats needs either decoder.
  for (const auto& [offset, signature] : {std::pair<size_t, const char*>{128, "DICM"}, {140, "DTED"}})
    if (bytes.size() >= offset + 4 && bytes.compare(offset, 4, signature) == 0)
      throw DataError(name, std::string("not a readable image (it also carries the ") + signature +
                                " signature of a format that is not supported)");
  if (w > limits.max_pixels / h)  // w * h > max_pixels, without the overflow of 2^32 x 2^32 headers
    throw DataError(name, "image is " + std::to_string(w) + "x" + std::to_string(h) + " pixels, more than the limit of " +
                              std::to_string(limits.max_pixels) + " (refused before decoding)");
  const auto [channels, sample_bytes] = png_channels_and_bytes(bytes);
  if (w * h * channels * sample_bytes > limits.max_decoded_bytes)
    throw DataError(name, "image is " + std::to_string(w) + "x" + std::to_string(h) + " pixels of " + std::to_string(channels) +
                              " channels at " + std::to_string(8 * sample_bytes) + " bits, which decodes to more than " +
                              std::to_string(limits.max_decoded_bytes >> 20) + " MB (refused before decoding)");
  if (is_jpeg(bytes)) {
    // libjpeg fills a truncated file's missing rows with grey instead of failing: look for EOI.
    const size_t tail = bytes.size() > 4096 ? bytes.size() - 4096 : 0;
    if (bytes.find("\xFF\xD9", tail) == std::string::npos) throw DataError(name, "JPEG data is truncated (no end marker)");
  }
  cv::Mat decoded;
  try {
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
    // 8-bit BGR, EXIF orientation applied; a transparent PNG laid over white, as viewers (and the
    // desktop app) show it, instead of whatever colour its transparent pixels store.
    decoded = is_png_with_alpha(bytes) ? over_white(cv::imdecode(buffer, cv::IMREAD_UNCHANGED))
                                       : cv::imdecode(buffer, reduced_colour_flag(std::min(w, h), min_short_side));
  } catch (const cv::Exception& e) {
    throw DataError(name, std::string("cannot decode image: ") + e.err);
  }
  if (decoded.empty()) throw DataError(name, "not a readable image (unknown format, corrupt or truncated)");
  if (static_cast<int64_t>(decoded.cols) * decoded.rows > limits.max_pixels)
    throw DataError(name, "image has more pixels than the limit of " + std::to_string(limits.max_pixels));
  if (decoded.cols < limits.min_side || decoded.rows < limits.min_side)
    throw DataError(name, "image is " + std::to_string(decoded.cols) + "x" + std::to_string(decoded.rows) +
                              " pixels; each side must be at least " + std::to_string(limits.min_side));
  cv::cvtColor(decoded, decoded, cv::COLOR_BGR2RGB);  // in place: no second full-size copy
  // The tensor shares the decoded pixels and keeps them alive: no copy either.
  auto* keep = new cv::Mat(decoded);
  return torch::from_blob(
      decoded.data, {decoded.rows, decoded.cols, 3}, {static_cast<int64_t>(decoded.step[0]), 3, 1},
      [keep](void*) { delete keep; }, torch::TensorOptions(torch::kUInt8));
}

std::string read_image_file(const std::string& path, const ImageLimits& limits) {
  const ReadOnlyFile file(path);
  if (file.size() > limits.max_file_bytes)
    throw DataError(path, "file is " + std::to_string(file.size()) + " bytes, more than the limit of " +
                              std::to_string(limits.max_file_bytes) + " for an image");
  return file.read_all();
}

torch::Tensor load_image_rgb(const std::string& path, const ImageLimits& limits, int min_short_side) {
  return decode_image_rgb(read_image_file(path, limits), path, limits, min_short_side);
}

cv::Mat to_bgr_mat(const torch::Tensor& rgb) {
  const auto c = rgb.contiguous();
  const cv::Mat view(static_cast<int>(c.size(0)), static_cast<int>(c.size(1)), CV_8UC3, c.data_ptr<uint8_t>());
  cv::Mat bgr;
  cv::cvtColor(view, bgr, cv::COLOR_RGB2BGR);
  return bgr;
}

torch::Tensor inception_input(const torch::Tensor& rgb) {
  namespace F = torch::nn::functional;
  constexpr int64_t kSide = 299;
  const int64_t height = rgb.size(0);
  // Bilinear with align-corners reads, for output row i, source rows floor(i * (H - 1) / 298) and
  // the one below. Only those rows (and a neighbour each side, against rounding) are converted to
  // float: the rest of the float image is allocated but never written or read, so its pages are
  // never committed, and a 100-megapixel photo costs ~150 MB here instead of 1.2 GB. The tensor
  // keeps the layout (HWC strides) and the kernel of a full conversion: the result is the same
  // to the bit.
  auto pixels = torch::empty(rgb.sizes(), torch::kFloat32);
  std::vector<bool> needed(static_cast<size_t>(height), false);
  const float scale = kSide > 1 ? static_cast<float>(height - 1) / static_cast<float>(kSide - 1) : 0.0f;
  for (int64_t i = 0; i < kSide; ++i) {
    const auto row = static_cast<int64_t>(scale * static_cast<float>(i));
    for (int64_t r = row - 1; r <= row + 2; ++r)
      if (r >= 0 && r < height) needed[static_cast<size_t>(r)] = true;
  }
  for (int64_t r = 0; r < height; ++r)
    if (needed[static_cast<size_t>(r)]) pixels[r].copy_(rgb[r]);
  auto x = F::interpolate(
      pixels.permute({2, 0, 1}).unsqueeze(0),
      F::InterpolateFuncOptions().size(std::vector<int64_t>{kSide, kSide}).mode(torch::kBilinear).align_corners(true));
  return x.squeeze(0).div_(255.0f);
}

}  // namespace captioner
