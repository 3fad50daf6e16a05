#include "core/infer/attention_overlay.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace captioner {

cv::Mat upsample_attention(const std::vector<float>& map, cv::Size size, double top) {
  const int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(map.size()))));
  if (side * side != static_cast<int>(map.size()) || side == 0)
    throw std::invalid_argument("attention map must have a square number of cells");
  cv::Mat grid(side, side, CV_32F);
  std::copy(map.begin(), map.end(), grid.ptr<float>());
  double max_value = top;
  if (max_value <= 0) cv::minMaxLoc(grid, nullptr, &max_value);
  if (max_value > 0) grid /= max_value;
  cv::Mat up;
  // Each cell's value sits at its cell's centre: resizing with pixel-centre alignment does that.
  cv::resize(grid, up, size, 0, 0, cv::INTER_CUBIC);
  cv::min(cv::max(up, 0.0), 1.0, up);
  return up;
}

cv::Mat overlay_attention(const cv::Mat& image, const std::vector<float>& map, double opacity, double top) {
  if (image.empty() || image.type() != CV_8UC3) throw std::invalid_argument("overlay needs an 8-bit BGR image");
  cv::Mat weights = upsample_attention(map, image.size(), top);
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

namespace {

void put_text(cv::Mat& canvas, const std::string& text, cv::Point at, double scale, const cv::Scalar& colour = {20, 20, 20}) {
  cv::putText(canvas, text, at, cv::FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv::LINE_AA);
}

int text_width(const std::string& text, double scale) {
  int baseline = 0;
  return cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &baseline).width;
}

// Words of `text` on lines at most `width` pixels wide.
std::vector<std::string> wrap(const std::string& text, double scale, int width) {
  std::vector<std::string> lines;
  std::string line, word;
  std::istringstream in(text);
  while (in >> word) {
    std::string longer = line;
    if (!longer.empty()) longer += ' ';
    longer += word;
    if (!line.empty() && text_width(longer, scale) > width) {
      lines.push_back(line);
      line = word;
    } else {
      line = longer;
    }
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

}  // namespace

cv::Mat attention_sheet(const cv::Mat& image, const std::vector<StripWord>& words, const AttentionSheetOptions& o) {
  if (image.empty() || image.type() != CV_8UC3) throw std::invalid_argument("the sheet needs an 8-bit BGR image");
  const int tile = std::max(16, o.tile);
  const int tile_h = std::max(1, static_cast<int>(std::lround(static_cast<double>(tile) * image.rows / image.cols)));
  const int columns = std::max(1, o.columns);
  const int count = static_cast<int>(words.size()) + 1;
  const int rows = (count + columns - 1) / columns;
  constexpr int kTitle = 22, kGap = 6, kMargin = 8, kBar = 14, kBarLabels = 56;
  const double scale = 0.5;
  const int grid_w = columns * tile + (columns - 1) * kGap;
  const auto caption_lines = wrap(o.caption, 0.6, grid_w + kBar + kBarLabels);
  const int caption_h = caption_lines.empty() ? 0 : static_cast<int>(caption_lines.size()) * 24 + kGap;
  const int width = kMargin * 2 + grid_w + kGap + kBar + kBarLabels;
  const int height = kMargin * 2 + caption_h + rows * (kTitle + tile_h) + (rows - 1) * kGap;
  cv::Mat sheet(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  for (size_t i = 0; i < caption_lines.size(); ++i)
    put_text(sheet, caption_lines[i], {kMargin, kMargin + 18 + static_cast<int>(i) * 24}, 0.6);

  double top = 0;  // the shared scale's top: the largest weight of any word
  for (const auto& w : words)
    for (float v : w.map) top = std::max(top, static_cast<double>(v));
  cv::Mat small;
  cv::resize(image, small, {tile, tile_h}, 0, 0, cv::INTER_AREA);
  for (int i = 0; i < count; ++i) {
    const int x = kMargin + (i % columns) * (tile + kGap);
    const int y = kMargin + caption_h + (i / columns) * (kTitle + tile_h + kGap);
    std::string title = "image";
    cv::Mat cell = small;
    if (i > 0) {
      const StripWord& w = words[static_cast<size_t>(i - 1)];
      title = w.word;
      if (w.probability >= 0) title += " " + std::to_string(static_cast<int>(std::lround(w.probability * 100))) + "%";
      if (!w.map.empty()) cell = overlay_attention(small, w.map, o.opacity, o.same_scale ? top : 0);
    }
    // A long title is set smaller, never cut (a cut "100%" would read as another number).
    double title_scale = scale;
    while (title_scale > 0.3 && text_width(title, title_scale) > tile) title_scale -= 0.03;
    put_text(sheet, title, {x + std::max(0, (tile - text_width(title, title_scale)) / 2), y + kTitle - 7}, title_scale);
    cell.copyTo(sheet(cv::Rect(x, y + kTitle, tile, tile_h)));
  }

  // The colour bar, top = the highest weight shown.
  const int bar_x = kMargin + grid_w + kGap, bar_y = kMargin + caption_h + kTitle;
  const int bar_h = std::max(32, rows * (kTitle + tile_h) + (rows - 1) * kGap - kTitle);
  cv::Mat ramp(bar_h, 1, CV_8U);
  for (int r = 0; r < bar_h; ++r) ramp.at<uint8_t>(r, 0) = static_cast<uint8_t>(255 - (255 * r) / std::max(1, bar_h - 1));
  cv::Mat coloured;
  cv::applyColorMap(ramp, coloured, cv::COLORMAP_INFERNO);
  cv::resize(coloured, coloured, {kBar, bar_h}, 0, 0, cv::INTER_NEAREST);
  coloured.copyTo(sheet(cv::Rect(bar_x, bar_y, kBar, bar_h)));
  char top_label[32];
  std::snprintf(top_label, sizeof top_label, "%.2f", top);
  put_text(sheet, o.same_scale ? std::string(top_label) : std::string("max"), {bar_x + kBar + 4, bar_y + 10}, 0.4);
  put_text(sheet, "0", {bar_x + kBar + 4, bar_y + bar_h}, 0.4);
  if (!o.same_scale) put_text(sheet, "per word", {bar_x + kBar + 4, bar_y + bar_h / 2}, 0.35);
  return sheet;
}

}  // namespace captioner
