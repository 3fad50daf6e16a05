#pragma once
// The look of the "natural" Shapes style: backgrounds with the texture of the world (clouds,
// marble, wood, a patchwork of dull regions, vivid swirls, or a crop of a photo), clutter that captions
// never mention (thin lines, blobs and rings smaller than half the smallest shape, short text),
// and what a camera adds (uneven light, a colour cast, sensor noise, blur, JPEG artefacts).
// Every draw comes from `rng`, so a scene stays a function of its seed and index.
#include <opencv2/core/mat.hpp>

#include <string>
#include <vector>

#include "core/util/random.h"

namespace captioner {

// The kinds paint_textured_background draws.
const std::vector<std::string>& textured_background_kinds();

// Paints all of `img` (BGR, square) with one of textured_background_kinds(); returns the kind.
std::string paint_textured_background(Rng& rng, cv::Mat& img);

// Paints all of `img` with a dimmed crop of one of `photos` (BGR, any size; not empty), sometimes
// mirrored or with its colours swapped round.
void paint_photo_background(Rng& rng, cv::Mat& img, const std::vector<cv::Mat>& photos);

// Draws 1-8 things that are not Shapes objects. Blobs and rings stay under 24 pixels across at
// 299 pixels (half the smallest shape); lines are at most 3 pixels thick.
void scatter_clutter(Rng& rng, cv::Mat& img);

// Uneven light and a colour cast over the whole scene, then, each with some probability, sensor
// noise, a slight blur and a JPEG round trip.
void apply_camera_effects(Rng& rng, cv::Mat& img);

}  // namespace captioner
