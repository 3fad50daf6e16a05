#include "core/infer/attention_overlay.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace captioner {

cv::Mat upsample_attention(const std::vector<float>& map, cv::Size size) {
  const int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(map.size()))));
  if (side * side != static_cast<int>(map.size()) || side == 0)
    throw std::invalid_argument("attention map must have a square number of cells");
  cv::Mat grid(side, side, CV_32F);
  std::copy(map.begin(), map.end(), grid.ptr<float>());
  double max_value = 0;
  cv::minMaxLoc(grid, nullptr, &max_value);
  if (max_value > 0) grid /= max_value;
  cv::Mat up;
  // Each cell's value sits at its cell's centre: resizing with pixel-centre alignment does that.
  cv::resize(grid, up, size, 0, 0, cv::INTER_CUBIC);
  cv::min(cv::max(up, 0.0), 1.0, up);
  return up;
}

cv::Mat overlay_attention(const cv::Mat& image, const std::vector<float>& map, double opacity) {
  if (image.empty() || image.type() != CV_8UC3) throw std::invalid_argument("overlay needs an 8-bit BGR image");
  cv::Mat weights = upsample_attention(map, image.size());
  cv::Mat gray;
  weights.convertTo(gray, CV_8U, 255.0);
  cv::Mat heat;
  cv::applyColorMap(gray, heat, cv::COLORMAP_INFERNO);
  cv::Mat out;
  cv::addWeighted(heat, opacity, image, 1.0 - opacity, 0.0, out);
  return out;
}

cv::Mat attention_strip(const cv::Mat& image, const std::vector<StripWord>& words, int tile, double opacity) {
  const int tile_h = std::max(1, static_cast<int>(std::lround(static_cast<double>(tile) * image.rows / image.cols)));
  constexpr int kLabel = 26;
  const int n = static_cast<int>(words.size()) + 1;
  cv::Mat strip(tile_h + kLabel, n * tile, CV_8UC3, cv::Scalar(255, 255, 255));
  cv::Mat small;
  cv::resize(image, small, {tile, tile_h}, 0, 0, cv::INTER_AREA);
  small.copyTo(strip(cv::Rect(0, 0, tile, tile_h)));
  for (int i = 0; i < static_cast<int>(words.size()); ++i) {
    const auto& w = words[static_cast<size_t>(i)];
    cv::Mat cell = w.map.empty() ? small : overlay_attention(small, w.map, opacity);
    cell.copyTo(strip(cv::Rect((i + 1) * tile, 0, tile, tile_h)));
    int baseline = 0;
    const double scale = 0.55;
    const cv::Size text = cv::getTextSize(w.word, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &baseline);
    const cv::Point at((i + 1) * tile + std::max(2, (tile - text.width) / 2), tile_h + kLabel - 8);
    cv::putText(strip, w.word, at, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(20, 20, 20), 1, cv::LINE_AA);
  }
  return strip;
}

}  // namespace captioner
