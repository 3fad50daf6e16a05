#pragma once
// Attention maps drawn over images: the 8x8 weights of one word, normalised per word, upsampled
// smoothly to the image size, coloured and blended; and a strip of every word's overlay.
#include <opencv2/core/mat.hpp>

#include <string>
#include <vector>

namespace captioner {

// The map (cells row-major, a square number of them) as a float image of `size` in [0, 1]:
// divided by its maximum, then bicubic-upsampled (clamped).
cv::Mat upsample_attention(const std::vector<float>& map, cv::Size size);

// `image` (8-bit BGR) with `map` blended over it in a colormap at `opacity` (0..1).
cv::Mat overlay_attention(const cv::Mat& image, const std::vector<float>& map, double opacity = 0.7);

struct StripWord {
  std::string word;
  std::vector<float> map;  // empty: the tile shows the plain image
};

// The image, then one tile per word with its overlay and the word below it, each tile `tile`
// pixels wide (height from the image's aspect ratio). 8-bit BGR.
cv::Mat attention_strip(const cv::Mat& image, const std::vector<StripWord>& words, int tile = 160,
                        double opacity = 0.7);

}  // namespace captioner
