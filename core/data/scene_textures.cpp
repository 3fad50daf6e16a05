#include "core/data/scene_textures.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "core/data/draw_random.h"

namespace captioner {

namespace {

using draw::between;
using draw::chance;
using draw::uniform;

constexpr double kPi = 3.14159265358979323846;

cv::Scalar hsv_to_bgr(double hue_degrees, double saturation, double value) {
  cv::Mat hsv(1, 1, CV_32FC3, cv::Scalar(hue_degrees, saturation, value)), bgr;
  cv::cvtColor(hsv, bgr, cv::COLOR_HSV2BGR);
  const auto p = bgr.at<cv::Vec3f>(0, 0);
  return {p[0] * 255.0, p[1] * 255.0, p[2] * 255.0};
}

// A background tone: dim, and at most moderately saturated (grey one time in three), so that
// the objects' pure colours stay the most saturated thing in the scene.
cv::Scalar dull_colour(Rng& rng, double lo = 0.12, double hi = 0.62) {
  const double saturation = chance(rng, 1.0 / 3) ? 0.0 : uniform(rng, 0.08, 0.45);
  return hsv_to_bgr(uniform(rng, 0, 360), saturation, uniform(rng, lo, hi));
}

// Any colour at all, for clutter: half the time as vivid as an object's.
cv::Scalar any_colour(Rng& rng) {
  if (chance(rng, 0.5)) return dull_colour(rng, 0.1, 0.9);
  return hsv_to_bgr(uniform(rng, 0, 360), uniform(rng, 0.5, 1.0), uniform(rng, 0.5, 1.0));
}

// Fractal value noise in [0, 1]: `octaves` layers of random lattices, each twice as fine and
// `persistence` times as strong as the last, smoothly upsampled.
cv::Mat fractal_noise(Rng& rng, int n, int cells, int octaves, double persistence) {
  cv::Mat sum = cv::Mat::zeros(n, n, CV_32F);
  double amplitude = 1;
  for (int o = 0; o < octaves; ++o, cells *= 2, amplitude *= persistence) {
    cv::Mat lattice(cells + 1, cells + 1, CV_32F);
    for (int y = 0; y <= cells; ++y)
      for (int x = 0; x <= cells; ++x) lattice.at<float>(y, x) = static_cast<float>(uniform(rng));
    cv::Mat layer;
    cv::resize(lattice, layer, {n, n}, 0, 0, cv::INTER_CUBIC);
    sum += layer * amplitude;
  }
  cv::normalize(sum, sum, 0, 1, cv::NORM_MINMAX);
  return sum;
}

// Each pixel a mix of `a` (t = 0) and `b` (t = 1).
cv::Mat blend(const cv::Mat& t, const cv::Scalar& a, const cv::Scalar& b) {
  std::vector<cv::Mat> channels(3);
  for (int c = 0; c < 3; ++c) channels[static_cast<size_t>(c)] = t * (b[c] - a[c]) + a[c];
  cv::Mat merged, out;
  cv::merge(channels, merged);
  merged.convertTo(out, CV_8UC3);
  return out;
}

cv::Mat clouds(Rng& rng, int n) {
  cv::Mat t = fractal_noise(rng, n, between(rng, 2, 4), 5, uniform(rng, 0.45, 0.65));
  cv::pow(t, uniform(rng, 0.7, 1.6), t);
  return blend(t, dull_colour(rng), dull_colour(rng));
}

// Bands along a random direction, `period` pixels apart (at 299 pixels), bent by `turbulence`
// times `strength`: in [0, 1], for blend.
cv::Mat bent_bands(Rng& rng, const cv::Mat& turbulence, std::pair<double, double> period_range,
                   std::pair<double, double> strength_range) {
  const int n = turbulence.rows;
  const double angle = uniform(rng, 0, kPi), ca = std::cos(angle), sa = std::sin(angle);
  const double period = uniform(rng, period_range.first, period_range.second) * n / 299.0,
               strength = uniform(rng, strength_range.first, strength_range.second);
  cv::Mat t(n, n, CV_32F);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x)
      t.at<float>(y, x) = static_cast<float>(
          0.5 + 0.5 * std::sin(2 * kPi * ((x * ca + y * sa) / period + strength * turbulence.at<float>(y, x))));
  return t;
}

cv::Mat marble(Rng& rng, int n) {
  const cv::Mat t = bent_bands(rng, fractal_noise(rng, n, 3, 5, 0.55), {40, 120}, {1.0, 3.0});
  return blend(t, dull_colour(rng), dull_colour(rng));
}

// Broad flowing bands of vivid colour, as in abstract wallpapers: the one texture as saturated as
// the objects, dimmed as a photo is so that they still stand out. A model that never saw one
// takes a vivid band for an object.
cv::Mat swirls(Rng& rng, int n) {
  const cv::Mat t = bent_bands(rng, fractal_noise(rng, n, 2, 4, 0.5), {80, 240}, {0.6, 2.0});
  const auto vivid = [&] { return hsv_to_bgr(uniform(rng, 0, 360), uniform(rng, 0.5, 1.0), uniform(rng, 0.4, 1.0)); };
  const cv::Scalar from = vivid();
  const cv::Scalar to = vivid();
  cv::Mat img = blend(t, from, to);
  img.convertTo(img, CV_8UC3, uniform(rng, 0.35, 0.7), uniform(rng, 0, 15));
  return img;
}

// Rings around a centre that may lie outside the image, bent by noise.
cv::Mat wood(Rng& rng, int n) {
  const cv::Mat turbulence = fractal_noise(rng, n, 2, 4, 0.5);
  const double cx = uniform(rng, -n, 2.0 * n), cy = uniform(rng, -n, 2.0 * n);
  const double period = uniform(rng, 8, 28) * n / 299.0, strength = uniform(rng, 0.3, 1.2), sharpness = uniform(rng, 1.5, 3.5);
  cv::Mat t(n, n, CV_32F);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const double r = std::hypot(x - cx, y - cy) / period + strength * turbulence.at<float>(y, x);
      t.at<float>(y, x) = static_cast<float>(std::pow(r - std::floor(r), sharpness));
    }
  return blend(t, dull_colour(rng), dull_colour(rng));
}

// Overlapping large dull regions (rectangles, ellipses, polygons) on clouds: the edges and
// flat areas of a photo of a room or a street, without the photo.
cv::Mat patchwork(Rng& rng, int n) {
  cv::Mat img = clouds(rng, n);
  const int regions = between(rng, 3, 9);
  for (int r = 0; r < regions; ++r) {
    const cv::Scalar colour = dull_colour(rng);
    const cv::Point2f centre(static_cast<float>(uniform(rng, -0.1, 1.1) * n), static_cast<float>(uniform(rng, -0.1, 1.1) * n));
    const float w = static_cast<float>(uniform(rng, 0.2, 1.2) * n), h = static_cast<float>(uniform(rng, 0.2, 1.2) * n);
    switch (between(rng, 0, 2)) {
      case 0: {
        cv::Point2f corners[4];
        cv::RotatedRect(centre, {w, h}, static_cast<float>(uniform(rng, -30, 30))).points(corners);
        std::vector<cv::Point> pts(corners, corners + 4);
        cv::fillConvexPoly(img, pts, colour, cv::LINE_AA);
        break;
      }
      case 1:
        cv::ellipse(img, cv::RotatedRect(centre, {w, h}, static_cast<float>(uniform(rng, 0, 180))), colour, cv::FILLED,
                    cv::LINE_AA);
        break;
      default: {
        std::vector<cv::Point> pts;
        const int corners = between(rng, 5, 8);
        for (int k = 0; k < corners; ++k) {
          const double a = 2 * kPi * (k + uniform(rng, -0.3, 0.3)) / corners;
          pts.emplace_back(static_cast<int>(centre.x + w / 2 * std::cos(a)), static_cast<int>(centre.y + h / 2 * std::sin(a)));
        }
        cv::fillPoly(img, std::vector<std::vector<cv::Point>>{pts}, colour, cv::LINE_AA);
      }
    }
  }
  // Fine grain, so no region is perfectly flat.
  const cv::Mat grain = fractal_noise(rng, n, 16, 3, 0.6);
  cv::Mat shade, wide;
  grain.convertTo(shade, CV_32F, 0.3, 0.85);
  img.convertTo(wide, CV_32FC3);
  std::vector<cv::Mat> channels;
  cv::split(wide, channels);
  for (auto& c : channels) c = c.mul(shade);
  cv::merge(channels, wide);
  wide.convertTo(img, CV_8UC3);
  return img;
}

// A square crop of a photo at a random place and scale, dimmed (and one time in three grey)
// so that it stays behind the objects, as the procedural backgrounds do.
cv::Mat photo_crop(Rng& rng, int n, const cv::Mat& photo) {
  const int side = std::max(1, static_cast<int>(uniform(rng, 0.4, 1.0) * std::min(photo.rows, photo.cols)));
  const int x = between(rng, 0, photo.cols - side), y = between(rng, 0, photo.rows - side);
  cv::Mat crop;
  cv::resize(photo(cv::Rect(x, y, side, side)), crop, {n, n}, 0, 0, side > n ? cv::INTER_AREA : cv::INTER_LINEAR);
  // A few dozen photos go further mirrored and with their colours swapped round.
  if (chance(rng, 0.5)) cv::flip(crop, crop, 1);
  if (chance(rng, 0.4)) {
    std::vector<cv::Mat> channels;
    cv::split(crop, channels);
    std::swap(channels[between(rng, 0, 1)], channels[2]);
    cv::merge(channels, crop);
  }
  if (chance(rng, 1.0 / 3)) {
    cv::Mat grey;
    cv::cvtColor(crop, grey, cv::COLOR_BGR2GRAY);
    cv::cvtColor(grey, crop, cv::COLOR_GRAY2BGR);
  }
  crop.convertTo(crop, CV_8UC3, uniform(rng, 0.35, 0.7), uniform(rng, 0, 15));
  return crop;
}

}  // namespace

const std::vector<std::string>& textured_background_kinds() {
  static const std::vector<std::string> kinds = {"clouds", "marble", "wood", "patchwork", "swirls"};
  return kinds;
}

void paint_photo_background(Rng& rng, cv::Mat& img, const std::vector<cv::Mat>& photos) {
  photo_crop(rng, img.rows, draw::pick(rng, photos)).copyTo(img);
}

std::string paint_textured_background(Rng& rng, cv::Mat& img) {
  const int n = img.rows;
  std::string kind = draw::pick(rng, textured_background_kinds());
  cv::Mat painted = kind == "clouds"   ? clouds(rng, n)
                    : kind == "marble" ? marble(rng, n)
                    : kind == "wood"   ? wood(rng, n)
                    : kind == "swirls" ? swirls(rng, n)
                                       : patchwork(rng, n);
  if (chance(rng, 0.4)) {
    const double sigma = uniform(rng, 0.6, 2.5) * n / 299.0;
    cv::GaussianBlur(painted, painted, {0, 0}, sigma);
  }
  painted.copyTo(img);
  return kind;
}

void scatter_clutter(Rng& rng, cv::Mat& img) {
  const int n = img.rows;
  const double s = n / 299.0;
  static const std::string kGlyphs = "ABCDEFGHKLMNPRSTUVWXYZ0123456789";
  static const int kFonts[] = {cv::FONT_HERSHEY_SIMPLEX, cv::FONT_HERSHEY_PLAIN, cv::FONT_HERSHEY_DUPLEX,
                               cv::FONT_HERSHEY_COMPLEX};
  const int count = between(rng, 1, 8);
  for (int i = 0; i < count; ++i) {
    const cv::Scalar colour = any_colour(rng);
    const cv::Point at(between(rng, 0, n - 1), between(rng, 0, n - 1));
    switch (between(rng, 0, 3)) {
      case 0: {  // a thin line
        const double angle = uniform(rng, 0, 2 * kPi), length = uniform(rng, 20, 160) * s;
        const cv::Point to(static_cast<int>(at.x + length * std::cos(angle)), static_cast<int>(at.y + length * std::sin(angle)));
        cv::line(img, at, to, colour, between(rng, 1, 3), cv::LINE_AA);
        break;
      }
      case 1: {  // a small irregular blob
        const double radius = uniform(rng, 3, 11) * s;
        std::vector<cv::Point> pts;
        const int corners = between(rng, 5, 9);
        for (int k = 0; k < corners; ++k) {
          const double a = 2 * kPi * k / corners, r = radius * uniform(rng, 0.5, 1.0);
          pts.emplace_back(static_cast<int>(at.x + r * std::cos(a)), static_cast<int>(at.y + r * std::sin(a)));
        }
        cv::fillPoly(img, std::vector<std::vector<cv::Point>>{pts}, colour, cv::LINE_AA);
        break;
      }
      case 2: {  // a few letters or digits
        std::string text;
        const int letters = between(rng, 1, 6);
        for (int k = 0; k < letters; ++k) text += kGlyphs[static_cast<size_t>(rng.below(kGlyphs.size()))];
        cv::putText(img, text, at, kFonts[rng.below(4)], uniform(rng, 0.35, 0.9) * s, colour, between(rng, 1, 2), cv::LINE_AA);
        break;
      }
      default: {  // a ring or an arc
        const int radius = static_cast<int>(uniform(rng, 5, 11) * s);
        const double start = uniform(rng, 0, 360);
        cv::ellipse(img, at, {radius, radius}, 0, start, start + uniform(rng, 90, 360), colour, between(rng, 1, 2), cv::LINE_AA);
      }
    }
  }
}

void apply_camera_effects(Rng& rng, cv::Mat& img) {
  const int n = img.rows;
  cv::Mat wide;
  img.convertTo(wide, CV_32FC3);
  // Light falling off along a direction or away from a spot, times a colour cast.
  cv::Mat light(n, n, CV_32F);
  const double low = uniform(rng, 0.8, 1.0), high = uniform(rng, 1.0, 1.12);
  const bool spot = chance(rng, 0.5);
  const double angle = uniform(rng, 0, 2 * kPi), ca = std::cos(angle), sa = std::sin(angle);
  const double sx = uniform(rng, 0, n), sy = uniform(rng, 0, n);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const double t = spot ? std::min(1.0, std::hypot(x - sx, y - sy) / n)
                            : std::clamp(0.5 + ((x - n / 2.0) * ca + (y - n / 2.0) * sa) / n, 0.0, 1.0);
      light.at<float>(y, x) = static_cast<float>(high + (low - high) * t);
    }
  std::vector<cv::Mat> channels;
  cv::split(wide, channels);
  for (auto& c : channels) c = c.mul(light) * uniform(rng, 0.94, 1.06);
  cv::merge(channels, wide);
  if (chance(rng, 0.3)) {
    cv::Mat noise(wide.size(), CV_32FC3);
    cv::RNG(rng.next()).fill(noise, cv::RNG::NORMAL, 0, uniform(rng, 2, 7));
    wide += noise;
  }
  wide.convertTo(img, CV_8UC3);
  if (chance(rng, 0.15)) cv::GaussianBlur(img, img, {0, 0}, uniform(rng, 0.5, 1.0) * n / 299.0);
  if (chance(rng, 0.5)) {
    std::vector<uchar> jpeg;
    cv::imencode(".jpg", img, jpeg, {cv::IMWRITE_JPEG_QUALITY, between(rng, 30, 90)});
    img = cv::imdecode(jpeg, cv::IMREAD_COLOR);
  }
}

}  // namespace captioner
