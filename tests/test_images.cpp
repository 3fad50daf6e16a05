// Image loading: formats, conversions, EXIF orientation, and every way a file can be bad.
#include "core/infer/attention_overlay.h"
#include "core/util/errors.h"
#include "core/vision/image_io.h"

#include <torch/torch.h>

#include <sys/stat.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "test_support.h"

using namespace captioner;

namespace {

std::string encode(const cv::Mat& image, const std::string& ext) {
  std::vector<uchar> buffer;
  if (!cv::imencode(ext, image, buffer)) throw std::runtime_error("cannot encode " + ext);
  return std::string(buffer.begin(), buffer.end());
}

// A BGR test pattern whose top-left pixel is pure red (RGB 255,0,0) and top-right pure blue.
cv::Mat pattern(int width, int height) {
  cv::Mat m(height, width, CV_8UC3, cv::Scalar(0, 128, 0));
  m.at<cv::Vec3b>(0, 0) = {0, 0, 255};
  m.at<cv::Vec3b>(0, width - 1) = {255, 0, 0};
  return m;
}

}  // namespace

class TestImages : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  // The sheet of every word's map: tiles wrap into rows; with one scale for all words a weak map
  // is drawn darker than the strong one, with a scale per word both span it.
  // A transparent PNG is seen as a viewer shows it, over white, not as the colour its transparent
  // pixels happen to store; an opaque one is unchanged.
  void transparent_png_is_laid_over_white() {
    cv::Mat bgra(8, 8, CV_8UC4, cv::Scalar(0, 0, 255, 0));  // red, fully transparent
    bgra.at<cv::Vec4b>(0, 0) = {255, 0, 0, 255};            // opaque blue
    bgra.at<cv::Vec4b>(0, 1) = {0, 0, 0, 128};              // half-transparent black
    std::vector<uchar> png;
    QVERIFY(cv::imencode(".png", bgra, png));
    const auto rgb = decode_image_rgb(std::string(png.begin(), png.end()), "t.png");
    const auto at = [&](int y, int x, int c) { return rgb[y][x][c].item<int>(); };
    QCOMPARE(at(4, 4, 0), 255);  // white where it is transparent
    QCOMPARE(at(4, 4, 1), 255);
    QCOMPARE(at(4, 4, 2), 255);
    QCOMPARE(at(0, 0, 2), 255);  // opaque blue stays blue (RGB order)
    QCOMPARE(at(0, 0, 0), 0);
    QVERIFY(std::abs(at(0, 1, 0) - 127) <= 1);  // half black over white: mid grey
  }

  void attention_sheet_wraps_and_scales() {
    const cv::Mat image(60, 60, CV_8UC3, cv::Scalar(90, 90, 90));
    std::vector<float> strong(64, 0.f), weak(64, 0.f);
    strong[27] = 1.0f;
    weak[27] = 0.25f;
    const std::vector<StripWord> words = {{"a", strong, 0.9}, {"red", weak, 0.5}, {"star", strong, 0.99}};
    AttentionSheetOptions o;
    o.tile = 60;
    o.columns = 2;
    o.opacity = 1.0;
    const cv::Mat two_rows = attention_sheet(image, words, o);
    o.columns = 4;
    const cv::Mat one_row = attention_sheet(image, words, o);
    QVERIFY(two_rows.rows > one_row.rows + 60 && two_rows.cols < one_row.cols);
    // Tile 2 (the word "red") in the one-row sheet: 8 px margin, 6 px gaps, 22 px titles.
    const cv::Rect red(8 + 2 * (60 + 6), 8 + 22, 60, 60);
    const double per_word = cv::mean(one_row(red))[2];
    o.same_scale = true;
    const double shared = cv::mean(attention_sheet(image, words, o)(red))[2];
    QVERIFY2(shared < per_word - 5, (std::to_string(shared) + " vs " + std::to_string(per_word)).c_str());
    o.caption = "a red star";
    QVERIFY(attention_sheet(image, words, o).rows > one_row.rows);  // the caption above the tiles
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, attention_sheet(cv::Mat(), words, o));
  }

  void decodes_every_format_to_rgb() {
    const cv::Mat bgr = pattern(32, 24);
    for (const char* ext : {".png", ".bmp", ".tiff", ".webp", ".jpg"}) {
      const std::string bytes = encode(bgr, ext);
      QCOMPARE(header_size(bytes), (std::pair<int64_t, int64_t>{32, 24}));
      const auto rgb = decode_image_rgb(bytes, ext);
      QCOMPARE(rgb.sizes(), (torch::IntArrayRef{24, 32, 3}));
      if (std::string(ext) != ".jpg" && std::string(ext) != ".webp") {  // lossless ones: exact pixels
        QCOMPARE(rgb[0][0][0].item<uint8_t>(), uint8_t{255});
        QCOMPARE(rgb[0][0][2].item<uint8_t>(), uint8_t{0});
        QCOMPARE(rgb[0][31][2].item<uint8_t>(), uint8_t{255});
        QCOMPARE(rgb[5][5][1].item<uint8_t>(), uint8_t{128});
      }
    }
  }
  // inception_input converts only the rows the resize reads: the result must be the full
  // conversion's, to the bit, whatever the size (small, tall, wide, on the 299 boundary).
  void encoder_input_equals_the_full_conversion() {
    namespace F = torch::nn::functional;
    torch::manual_seed(5);
    for (const auto& [h, w] : std::vector<std::pair<int64_t, int64_t>>{{24, 32}, {299, 299}, {300, 17}, {1537, 211}, {4001, 9}}) {
      const auto rgb = torch::randint(0, 256, {h, w, 3}, torch::kUInt8);
      const auto full =
          F::interpolate(
              rgb.permute({2, 0, 1}).unsqueeze(0).to(torch::kFloat32),
              F::InterpolateFuncOptions().size(std::vector<int64_t>{299, 299}).mode(torch::kBilinear).align_corners(true))
              .squeeze(0)
              .div_(255.0f);
      QVERIFY2(torch::equal(inception_input(rgb), full), (std::to_string(h) + "x" + std::to_string(w)).c_str());
    }
  }
  void converts_gray_16_bit_and_alpha() {
    cv::Mat gray(10, 12, CV_8UC1, cv::Scalar(77));
    const auto g = decode_image_rgb(encode(gray, ".png"), "gray.png");
    QCOMPARE(g.sizes(), (torch::IntArrayRef{10, 12, 3}));
    QVERIFY((g == 77).all().item<bool>());
    cv::Mat deep(10, 12, CV_16UC3, cv::Scalar(65535, 0, 32896));
    const auto d = decode_image_rgb(encode(deep, ".png"), "deep.png");
    QCOMPARE(d[3][3][0].item<uint8_t>(), uint8_t{128});  // BGR (65535, 0, 32896) -> RGB (128, 0, 255)
    QCOMPARE(d[3][3][2].item<uint8_t>(), uint8_t{255});
    cv::Mat rgba(10, 12, CV_8UC4, cv::Scalar(10, 20, 30, 0));  // fully transparent: white, not its stored colour
    const auto a = decode_image_rgb(encode(rgba, ".png"), "alpha.png");
    QCOMPARE(a.size(2), int64_t{3});
    QCOMPARE(a[0][0][0].item<uint8_t>(), uint8_t{255});
    cv::Mat opaque(10, 12, CV_8UC4, cv::Scalar(10, 20, 30, 255));  // opaque: its colour
    QCOMPARE(decode_image_rgb(encode(opaque, ".png"), "opaque.png")[0][0][0].item<uint8_t>(), uint8_t{30});
    cv::Mat deep_alpha(10, 12, CV_16UC4, cv::Scalar(0, 0, 65535, 65535));  // 16-bit RGBA: red
    const auto r = decode_image_rgb(encode(deep_alpha, ".png"), "deep_alpha.png");
    QCOMPARE(r[0][0][0].item<uint8_t>(), uint8_t{255});
    QCOMPARE(r[0][0][1].item<uint8_t>(), uint8_t{0});
  }
  // Asked for a short side of at least N, an opaque image comes at the smallest of 1, 1/2, 1/4
  // and 1/8 of its size that keeps it (a JPEG decodes that much faster), still the same picture;
  // a transparent PNG comes whole.
  void decodes_at_a_fraction_when_a_short_side_is_enough() {
    cv::Mat photo(1200, 1600, CV_8UC3);
    cv::randu(photo, cv::Scalar::all(0), cv::Scalar::all(255));
    cv::GaussianBlur(photo, photo, {0, 0}, 12);
    const std::string jpeg = encode(photo, ".jpg");
    QCOMPARE(decode_image_rgb(jpeg, "p.jpg").sizes(), (torch::IntArrayRef{1200, 1600, 3}));
    QCOMPARE(decode_image_rgb(jpeg, "p.jpg", {}, 300).sizes(), (torch::IntArrayRef{300, 400, 3}));
    QCOMPARE(decode_image_rgb(jpeg, "p.jpg", {}, 301).sizes(), (torch::IntArrayRef{600, 800, 3}));
    QCOMPARE(decode_image_rgb(jpeg, "p.jpg", {}, 1000).sizes(), (torch::IntArrayRef{1200, 1600, 3}));
    const auto quarter = decode_image_rgb(jpeg, "p.jpg", {}, 300).to(torch::kFloat);
    const auto full = decode_image_rgb(jpeg, "p.jpg").to(torch::kFloat).permute({2, 0, 1}).unsqueeze(0);
    const auto shrunk = torch::avg_pool2d(full, 4).squeeze(0).permute({1, 2, 0});
    QVERIFY2((quarter - shrunk).abs().mean().item<float>() < 3, "the quarter-size decode is not the same picture");
    cv::Mat bgra(64, 64, CV_8UC4, cv::Scalar(0, 0, 255, 128));
    QCOMPARE(decode_image_rgb(encode(bgra, ".png"), "t.png", {}, 8).sizes(), (torch::IntArrayRef{64, 64, 3}));
  }

  void honours_exif_orientation() {
    const std::string jpeg = encode(pattern(40, 20), ".jpg");
    // APP1 Exif segment with one IFD entry: Orientation (0x0112) = 6, i.e. rotate 90 degrees clockwise.
    const std::string tiff = std::string("II*\0\x08\0\0\0", 8) + std::string("\x01\0", 2) +
                             std::string("\x12\x01\x03\0\x01\0\0\0\x06\0\0\0", 12) + std::string(4, '\0');
    const std::string payload = std::string("Exif\0\0", 6) + tiff;
    const size_t length = payload.size() + 2;
    const std::string app1 =
        std::string("\xFF\xE1", 2) + static_cast<char>(length >> 8) + static_cast<char>(length & 0xff) + payload;
    const std::string rotated = jpeg.substr(0, 2) + app1 + jpeg.substr(2);
    const auto rgb = decode_image_rgb(rotated, "exif.jpg");
    QCOMPARE(rgb.sizes(), (torch::IntArrayRef{40, 20, 3}));  // now portrait
  }
  void refuses_bad_files_with_reasons() {
    QTemporaryDir dir;
    const std::string root = dir.path().toStdString();
    test::expect_error([&] { load_image_rgb(root + "/missing.jpg"); }, {root + "/missing.jpg", "cannot open"});
    test::expect_error([&] { load_image_rgb(test::write_text(root + "/empty.jpg", "")); }, {"empty.jpg", "empty"});
    test::expect_error([&] { load_image_rgb(test::write_text(root + "/text.jpg", "this is not an image at all")); },
                       {"text.jpg", "not a readable image"});
    const std::string jpeg = encode(pattern(64, 64), ".jpg");
    test::expect_error([&] { load_image_rgb(test::write_text(root + "/cut.jpg", jpeg.substr(0, jpeg.size() / 2))); },
                       {"cut.jpg", "truncated"});
    const std::string png = encode(pattern(64, 64), ".png");
    test::expect_error([&] { load_image_rgb(test::write_text(root + "/cut.png", png.substr(0, png.size() / 2))); }, {"cut.png"});
    test::expect_error([&] { load_image_rgb(test::write_text(root + "/tiny.png", encode(pattern(6, 20), ".png"))); },
                       {"tiny.png", "6x20", "at least 8"});
    // A PNG header that claims 60000 x 60000 pixels: refused before any decoding.
    std::string bomb = encode(pattern(8, 8), ".png");
    const char big[] = {0, 0, '\xEA', '\x60'};  // 60000, big-endian
    bomb.replace(16, 4, big, 4);
    bomb.replace(20, 4, big, 4);
    test::expect_error([&] { load_image_rgb(test::write_text(root + "/bomb.png", bomb)); },
                       {"bomb.png", "60000x60000", "refused before decoding"});
    // The largest sizes a header can state: their product overflowed 64 bits (found by fuzz_image).
    const char widest[] = {'\xFF', '\xFF', '\xFF', '\xFF'};
    bomb.replace(16, 4, widest, 4);
    bomb.replace(20, 4, widest, 4);
    test::expect_error([&] { load_image_rgb(test::write_text(root + "/widest.png", bomb)); },
                       {"widest.png", "4294967295x4294967295", "refused before decoding"});
  }
  // Limits by design: every accepted format is sized from its header before decoding, anything
  // else is refused, and only regular files of bounded size are read.
  void bounds_every_input_before_decoding() {
    QTemporaryDir dir;
    const std::string root = dir.path().toStdString();
    // A stray byte between two JPEG segments: libjpeg skips it and decodes on, so the header
    // check must too. Once its size went unread and a crafted frame size decoded to gigabytes.
    const std::string jpeg = encode(pattern(40, 30), ".jpg");
    const size_t sof = jpeg.find("\xFF\xC0");
    QVERIFY(sof != std::string::npos);
    std::string stray = jpeg;
    stray.insert(sof, 1, '\x00');
    QCOMPARE(header_size(stray), (std::pair<int64_t, int64_t>{40, 30}));
    std::string bomb = stray;
    const char big[] = {'\x75', '\x30', '\x75', '\x30'};  // 30000 x 30000 in the frame header
    bomb.replace(sof + 1 + 5, 4, big, 4);
    test::expect_error([&] { load_image_rgb(test::write_text(root + "/stray.jpg", bomb)); },
                       {"stray.jpg", "30000x30000", "refused before decoding"});
    // Formats OpenCV decodes but whose size is not checked here (Radiance HDR, PPM) are refused.
    test::expect_error([&] { load_image_rgb(test::write_text(root + "/x.hdr", encode(pattern(16, 16), ".hdr"))); },
                       {"x.hdr", "not a readable image"});
    test::expect_error([&] { load_image_rgb(test::write_text(root + "/x.ppm", encode(pattern(16, 16), ".ppm"))); },
                       {"x.ppm", "not a readable image"});
    // A WebP header that WebP's decoder declines, with "DICM" at byte 128: OpenCV then handed it
    // to its DICOM decoder, which aborted the process (found by fuzz_image).
    std::string dicom("RIFF\x24\0\0\0WEBPVP8L\x18\0\0\0\0\0\0\x03\0\x31\x0f\x30", 28);
    dicom.append(2, '\0');  // the literal holds 28 bytes: no read past its end (AddressSanitizer)
    dicom.resize(128, 'h');
    dicom += "DICM\xff\xfa";
    test::expect_error([&] { load_image_rgb(test::write_text(root + "/dicom.webp", dicom)); }, {"dicom.webp", "DICM signature"});
    std::string dted = dicom.substr(0, 128);
    dted.resize(140, 'h');
    dted += "DTED";  // GDAL's DTED signature at byte 140
    test::expect_error([&] { load_image_rgb(test::write_text(root + "/dted.webp", dted)); }, {"dted.webp", "DTED signature"});
    // A FIFO is refused at once instead of blocking the reader forever; so is a folder.
    const std::string fifo = root + "/fifo.jpg";
    QCOMPARE(::mkfifo(fifo.c_str(), 0600), 0);
    test::expect_error([&] { load_image_rgb(fifo); }, {"fifo.jpg", "not a regular file"});
    test::expect_error([&] { load_image_rgb(root); }, {root, "is a directory"});
    // A file over the size limit is refused without being read.
    ImageLimits small;
    small.max_file_bytes = 100;
    test::expect_error([&] { load_image_rgb(test::write_text(root + "/big.jpg", jpeg), small); },
                       {"big.jpg", "more than the limit of 100"});
  }
  // The size checked is the decoder's own reading. A TEM marker (FF01, which has no length) after
  // SOI led a marker scan to read the next marker's bytes as a length and land inside an APP1
  // segment on a planted 16x16 frame header, while libjpeg skips the APP1 and finds the real one,
  // 30000 x 30000: it decoded to 2.7 GB. A TIFF with two width tags is refused (readers differ on
  // which one counts).
  void the_size_checked_is_the_decoders_own() {
    QTemporaryDir dir;
    const std::string jpeg = encode(pattern(40, 30), ".jpg");
    std::string real = jpeg.substr(2);  // without its SOI
    const size_t sof = real.find("\xFF\xC0");
    QVERIFY(sof != std::string::npos);
    const char big[] = {'\x75', '\x30', '\x75', '\x30'};
    real.replace(sof + 5, 4, big, 4);
    const size_t jump = 2 + 2 + 0xFFE1;  // where the scan landed: TEM at 2, "length" FFE1 read at 4
    std::string app1 = "\xFF\xE1";
    const size_t payload = jump - 8 + 16;  // the segment's bytes after its length field
    app1 += static_cast<char>((payload + 2) >> 8);
    app1 += static_cast<char>((payload + 2) & 0xFF);
    std::string filler(payload, 'x');
    const char fake[] = {'\xFF', '\xC0', '\x00', '\x11', '\x08', '\x00', '\x10', '\x00', '\x10'};  // 16 x 16
    filler.replace(jump - 8, sizeof fake, fake, sizeof fake);
    const std::string bomb = std::string("\xFF\xD8\xFF\x01", 4) + app1 + filler + real;
    QCOMPARE(header_size(bomb), (std::pair<int64_t, int64_t>{30000, 30000}));
    const std::string file = test::write_text(dir.path().toStdString() + "/tem.jpg", bomb);
    test::expect_error([&] { load_image_rgb(file); }, {"tem.jpg", "30000x30000", "refused before decoding"});
    std::string tiff = encode(pattern(20, 20), ".tif");
    QCOMPARE(header_size(tiff), (std::pair<int64_t, int64_t>{20, 20}));
    const size_t ifd = static_cast<unsigned char>(tiff[4]) | static_cast<unsigned char>(tiff[5]) << 8;  // little-endian
    const size_t entries = static_cast<unsigned char>(tiff[ifd]) | static_cast<unsigned char>(tiff[ifd + 1]) << 8;
    for (size_t k = 0; k < entries; ++k) {  // the height tag becomes a second width tag
      const size_t e = ifd + 2 + 12 * k;
      if (tiff[e] == '\x01' && tiff[e + 1] == '\x01') tiff[e] = '\x00';
    }
    QCOMPARE(header_size(tiff), (std::pair<int64_t, int64_t>{0, 0}));
    test::expect_error([&] { load_image_rgb(test::write_text(dir.path().toStdString() + "/twice.tif", tiff)); },
                       {"twice.tif", "not a readable image"});
    // A 16-bit RGBA PNG is limited by what it decodes to, not by its pixels alone.
    ImageLimits limits;
    limits.max_decoded_bytes = 64 * 64 * 4;  // an 8-bit RGBA 64 x 64 fits, a 16-bit one does not
    cv::Mat rgba16(64, 64, CV_16UC4, cv::Scalar(1000, 2000, 3000, 65535));
    const std::string png16 = test::write_text(dir.path().toStdString() + "/deep.png", encode(rgba16, ".png"));
    test::expect_error([&] { load_image_rgb(png16, limits); }, {"deep.png", "4 channels at 16 bits", "refused before decoding"});
    cv::Mat rgba8(64, 64, CV_8UC4, cv::Scalar(10, 20, 30, 255));
    QCOMPARE(load_image_rgb(test::write_text(dir.path().toStdString() + "/shallow.png", encode(rgba8, ".png")), limits).size(0),
             int64_t{64});
  }

  void inception_input_is_299_in_unit_range_with_aligned_corners() {
    auto rgb = torch::zeros({2, 2, 3}, torch::kUInt8);
    rgb[0][0][0] = 255;
    rgb[1][1][2] = 51;
    const auto x = inception_input(rgb);
    QCOMPARE(x.sizes(), (torch::IntArrayRef{3, 299, 299}));
    QCOMPARE(x[0][0][0].item<float>(), 1.0f);  // corners map exactly onto corners
    QCOMPARE(x[2][298][298].item<float>(), 0.2f);
    QVERIFY(std::abs(x[0][149][149].item<float>() - 0.25f) < 1e-6);  // the centre blends all four
    QVERIFY(x.min().item<float>() >= 0.0f && x.max().item<float>() <= 1.0f);
  }
};

QTEST_GUILESS_MAIN(TestImages)
#include "test_images.moc"
