#pragma once
// Attention maps drawn over images: the 8x8 weights of one word, normalised per word, upsampled
// smoothly to the image size, coloured and blended; and a strip of every word's overlay.
#include <opencv2/core/mat.hpp>

#include <string>
#include <vector>

namespace captioner {

// The map (cells row-major, a square number of them) as a float image of `size` in [0, 1]:
// divided by `top` (<= 0: the map's own maximum), then bicubic-upsampled (clamped).
cv::Mat upsample_attention(const std::vector<float>& map, cv::Size size, double top = 0);

// `image` (8-bit BGR) with `map` blended over it in a colormap at `opacity` (0..1); `top` as for
// upsample_attention.
cv::Mat overlay_attention(const cv::Mat& image, const std::vector<float>& map, double opacity = 0.7, double top = 0);

struct StripWord {
  std::string word;
  std::vector<float> map;   // empty: the tile shows the plain image
  double probability = -1;  // shown under the word when >= 0
};

// The image, then one tile per word with its overlay and the word below it, each tile `tile`
// pixels wide (height from the image's aspect ratio). 8-bit BGR.
cv::Mat attention_strip(const cv::Mat& image, const std::vector<StripWord>& words, int tile = 160, double opacity = 0.7);

struct AttentionSheetOptions {
  int tile = 160;   // tile width; height from the image's aspect ratio
  int columns = 6;  // tiles per row (the image counts as one)
  double opacity = 0.7;
  // true: one colour scale for every word (its top is the largest weight of any word), so maps
  // compare across words; false: each word's map spans the whole scale.
  bool same_scale = false;
  std::string caption;  // written above the tiles when not empty
};
// The image and every word's overlay as a grid of titled tiles (the word and its probability
// above each), with the caption on top and a colour bar saying what the colours mean. 8-bit BGR.
cv::Mat attention_sheet(const cv::Mat& image, const std::vector<StripWord>& words, const AttentionSheetOptions& options);

}  // namespace captioner
