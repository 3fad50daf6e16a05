#pragma once
// Shapes: the built-in dataset. Scenes of 1-3 non-overlapping coloured shapes on varied
// backgrounds, with captions that name every object (colour, size) and their spatial relations,
// and the objects' boxes, so "where the model looks" can be checked against the truth.
//
// Two styles. "classic": plain, gradient, noise or stripes backgrounds and nothing else (the
// first style, still drawn pixel for pixel as before). "natural" (the default): a share of the
// scenes on photos when there are any (photo_share), half of the rest on textured backgrounds
// (clouds, marble, wood, patchwork, vivid swirls), with clutter the captions never mention,
// uneven light and camera artefacts on most of them, so a model learns that only the six shapes
// are objects (see scene_textures.h).
//
// On disk: DIR/images/NNNNN.png and DIR/dataset.json in the Karpathy format, each image with an
// extra `objects[{shape, color, size, bbox: [x, y, w, h]}]` (pixels) and its `background`.
#include <opencv2/core/mat.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/util/random.h"

namespace captioner {

struct ShapeObject {
  std::string shape;          // one of shape_names()
  std::string color;          // one of color_names()
  std::string size;           // "small" or "large"
  std::array<int, 4> bbox{};  // x, y, width, height in pixels
};

struct ShapesScene {
  std::vector<ShapeObject> objects;
  std::string background;             // plain, gradient, noise, stripes, or a textured kind, or photo
  std::vector<std::string> captions;  // tokenized, space-separated
  cv::Mat image;                      // BGR, image_size x image_size
};

const std::vector<std::string>& shape_names();
const std::vector<std::string>& color_names();
const std::vector<std::string>& shapes_styles();  // classic, natural

struct ShapesOptions {
  int64_t count = 5000;
  uint64_t seed = 1;
  int image_size = 299;
  int captions_per_image = 5;
  double val_fraction = 0.1;
  double test_fraction = 0.1;
  std::string split;              // when set (train, val or test), every image goes to this split
  std::string style = "natural";  // one of shapes_styles()
  // Natural style only: photos (BGR) that a share of the scenes use as background, and their
  // names, recorded in dataset.json. The scenes depend on the photos and their order.
  std::shared_ptr<const std::vector<cv::Mat>> background_photos;
  std::vector<std::string> background_names;
  double photo_share = 0.5;  // with photos: the share of scenes drawn on one
};

// Scene `index` of the dataset seeded by `seed`: the same pair always gives the same scene,
// whatever the dataset's size.
ShapesScene render_scene(uint64_t seed, int64_t index, const ShapesOptions& options);

// Writes the dataset (images first, dataset.json last and atomically). `progress(done, total)`
// is called as images are written; returning false from it cancels (no dataset.json is written).
// Throws DataError naming the file that could not be written.
void write_shapes_dataset(const std::string& dir, const ShapesOptions& options,
                          const std::function<bool(int64_t, int64_t)>& progress = {});

struct ShapesAnnotations {
  int image_size = 299;                           // boxes are in pixels of a square image this wide
  std::vector<std::vector<ShapeObject>> objects;  // per image, in file order
  bool any() const;                               // whether any image has objects
};
// The objects of every image of a Shapes dataset.json, in file order; empty lists for a
// Karpathy file without objects. Throws DataError naming the file on malformed objects.
ShapesAnnotations read_shapes_annotations(const std::string& dataset_json);

// The objects a caption names: each shape word paired with the last colour word since the
// previous shape word ("" when there is none). The one reading of a caption's objects, for
// content accuracy and the pointing game.
struct NamedObject {
  std::string color;
  std::string shape;
  size_t token = 0;  // index of the shape word in the tokens
};
std::vector<NamedObject> named_objects(const std::vector<std::string>& tokens);

}  // namespace captioner
