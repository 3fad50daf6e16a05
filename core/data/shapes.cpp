#include "core/data/shapes.h"

#include <nlohmann/json.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "core/data/draw_random.h"
#include "core/data/scene_textures.h"
#include "core/data/tokenizer.h"
#include "core/util/atomic_file.h"
#include "core/util/errors.h"

namespace captioner {

namespace {

constexpr double kPi = 3.14159265358979323846;

struct Colour {
  const char* name;
  cv::Scalar bgr;
};

// Six hues 60 degrees apart at full saturation, plus white: the most separable set of colour
// words (an earlier palette with orange and purple between red, yellow and blue was confused by
// the encoder's features). Backgrounds stay grey-ish so no colour is confused with them.
const std::vector<Colour>& colours() {
  static const std::vector<Colour> c = {{"red", {30, 30, 230}},    {"yellow", {20, 225, 235}}, {"green", {40, 200, 30}},
                                        {"cyan", {230, 220, 30}},  {"blue", {235, 70, 20}},    {"magenta", {225, 40, 225}},
                                        {"white", {245, 245, 245}}};
  return c;
}

using draw::between;
using draw::chance;
using draw::pick;
using draw::uniform;

cv::Scalar jitter(Rng& rng, const cv::Scalar& c, int amount) {
  cv::Scalar out;
  for (int i = 0; i < 3; ++i) out[i] = std::clamp(c[i] + between(rng, -amount, amount), 0.0, 255.0);
  return out;
}

// A dull background tone: grey with a faint tint.
cv::Scalar dull(Rng& rng, int lo, int hi) {
  const int g = between(rng, lo, hi);
  return {static_cast<double>(std::clamp(g + between(rng, -12, 12), 0, 255)),
          static_cast<double>(std::clamp(g + between(rng, -12, 12), 0, 255)),
          static_cast<double>(std::clamp(g + between(rng, -12, 12), 0, 255))};
}

std::string paint_background(Rng& rng, cv::Mat& img) {
  static const std::vector<std::string> kinds = {"plain", "gradient", "noise", "stripes"};
  std::string kind = pick(rng, kinds);
  const int n = img.rows;
  if (kind == "plain") {
    img.setTo(dull(rng, 25, 130));
  } else if (kind == "gradient") {
    const cv::Scalar a = dull(rng, 15, 70), b = dull(rng, 90, 150);
    const double angle = uniform(rng) * 2 * kPi, ca = std::cos(angle), sa = std::sin(angle);
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x) {
        const double t = std::clamp(0.5 + ((x - n / 2.0) * ca + (y - n / 2.0) * sa) / n, 0.0, 1.0);
        auto& p = img.at<cv::Vec3b>(y, x);
        for (int c = 0; c < 3; ++c) p[c] = cv::saturate_cast<uchar>(a[c] * (1 - t) + b[c] * t);
      }
  } else if (kind == "noise") {
    img.setTo(dull(rng, 40, 110));
    cv::Mat noise(img.size(), CV_16SC3);
    cv::RNG cvrng(rng.next());
    cvrng.fill(noise, cv::RNG::NORMAL, 0, 22);
    cv::Mat wide;
    img.convertTo(wide, CV_16SC3);
    wide += noise;
    wide.convertTo(img, CV_8UC3);
  } else {
    const cv::Scalar a = dull(rng, 20, 70), b = dull(rng, 80, 140);
    const double angle = uniform(rng) * kPi, ca = std::cos(angle), sa = std::sin(angle);
    const double period = between(rng, 14, 34);
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x) {
        const bool band = std::fmod(std::abs(x * ca + y * sa), period) < period / 2;
        auto& p = img.at<cv::Vec3b>(y, x);
        const cv::Scalar& s = band ? a : b;
        for (int c = 0; c < 3; ++c) p[c] = static_cast<uchar>(s[c]);
      }
  }
  return kind;
}

std::vector<cv::Point> regular_polygon(cv::Point2d centre, double radius, int sides, double rotation) {
  std::vector<cv::Point> pts;
  for (int i = 0; i < sides; ++i) {
    const double a = rotation + 2 * kPi * i / sides;
    pts.emplace_back(static_cast<int>(std::lround(centre.x + radius * std::cos(a))),
                     static_cast<int>(std::lround(centre.y + radius * std::sin(a))));
  }
  return pts;
}

// Outline of `shape` whose bounding box is about `extent` pixels, centred at `centre`.
std::vector<cv::Point> outline(const std::string& shape, cv::Point2d centre, double extent) {
  const double r = extent / 2;
  if (shape == "square") return regular_polygon(centre, r * std::sqrt(2.0), 4, kPi / 4);
  if (shape == "diamond") return regular_polygon(centre, r, 4, 0);
  if (shape == "triangle") {
    // Equilateral, point up, width = extent.
    const double h = extent * std::sqrt(3.0) / 2;
    return {{static_cast<int>(centre.x), static_cast<int>(centre.y - h / 2)},
            {static_cast<int>(centre.x + r), static_cast<int>(centre.y + h / 2)},
            {static_cast<int>(centre.x - r), static_cast<int>(centre.y + h / 2)}};
  }
  if (shape == "hexagon") return regular_polygon(centre, r, 6, 0);
  if (shape == "star") {
    std::vector<cv::Point> pts;
    for (int i = 0; i < 10; ++i) {
      const double a = -kPi / 2 + kPi * i / 5, rr = (i % 2 == 0) ? r : r * 0.45;
      pts.emplace_back(static_cast<int>(std::lround(centre.x + rr * std::cos(a))),
                       static_cast<int>(std::lround(centre.y + rr * std::sin(a))));
    }
    return pts;
  }
  return regular_polygon(centre, r, 72, 0);  // circle
}

std::string phrase(const ShapeObject& o) { return "a " + o.size + " " + o.color + " " + o.shape; }

cv::Point2d centre_of(const ShapeObject& o) { return {o.bbox[0] + o.bbox[2] / 2.0, o.bbox[1] + o.bbox[3] / 2.0}; }

// Where `a` is relative to `b`, along the axis where they differ most.
std::string relation(const ShapeObject& a, const ShapeObject& b) {
  const auto ca = centre_of(a), cb = centre_of(b);
  const double dx = ca.x - cb.x, dy = ca.y - cb.y;
  if (std::abs(dx) >= std::abs(dy)) return dx < 0 ? "to the left of" : "to the right of";
  return dy < 0 ? "above" : "below";
}

std::string location(const ShapeObject& o, int n) {
  const auto c = centre_of(o);
  const int col = c.x < n / 3.0 ? 0 : (c.x < 2 * n / 3.0 ? 1 : 2);
  const int row = c.y < n / 3.0 ? 0 : (c.y < 2 * n / 3.0 ? 1 : 2);
  static const char* names[3][3] = {{"at the top left", "at the top", "at the top right"},
                                    {"on the left", "in the middle", "on the right"},
                                    {"at the bottom left", "at the bottom", "at the bottom right"}};
  return names[row][col];
}

// What captions call a background: every textured kind and a photo are "textured".
std::string background_word(const std::string& kind) {
  if (kind == "stripes") return "striped";
  if (kind == "noise") return "noisy";
  if (kind == "plain" || kind == "gradient") return kind;
  return "textured";
}

std::vector<std::string> caption_candidates(const ShapesScene& s, int n, Rng& rng) {
  const auto& o = s.objects;
  const std::string bg = background_word(s.background);
  std::vector<std::string> out;
  if (o.size() == 1) {
    const std::string a = phrase(o[0]);
    out = {a,
           a + " on a " + bg + " background",
           "there is " + a + " " + location(o[0], n),
           "a picture of " + a,
           a + " " + location(o[0], n),
           "an image with " + a + " on a " + bg + " background"};
  } else if (o.size() == 2) {
    const std::string a = phrase(o[0]), b = phrase(o[1]);
    out = {a + " " + relation(o[0], o[1]) + " " + b,
           b + " " + relation(o[1], o[0]) + " " + a,
           a + " and " + b,
           b + " and " + a + " on a " + bg + " background",
           "there is " + a + " " + relation(o[0], o[1]) + " " + b,
           "two shapes , " + b + " and " + a};
  } else {
    std::vector<size_t> order = {0, 1, 2};
    rng.shuffle(order);
    const std::string a = phrase(o[order[0]]), b = phrase(o[order[1]]), c = phrase(o[order[2]]);
    std::vector<size_t> by_x = {0, 1, 2};
    std::sort(by_x.begin(), by_x.end(), [&](size_t i, size_t j) { return centre_of(o[i]).x < centre_of(o[j]).x; });
    out = {a + " , " + b + " and " + c,
           "from left to right " + phrase(o[by_x[0]]) + " , " + phrase(o[by_x[1]]) + " and " + phrase(o[by_x[2]]),
           a + " " + relation(o[order[0]], o[order[1]]) + " " + b + " and " + c, "three shapes , " + c + " , " + a + " and " + b,
           b + " and " + c + " " + relation(o[order[2]], o[order[0]]) + " " + a};
  }
  return out;
}

bool overlaps(const std::array<int, 4>& a, const std::array<int, 4>& b, int margin) {
  return a[0] < b[0] + b[2] + margin && b[0] < a[0] + a[2] + margin && a[1] < b[1] + b[3] + margin && b[1] < a[1] + a[3] + margin;
}

std::string split_for(Rng& rng, const ShapesOptions& options) {
  if (!options.split.empty()) return options.split;
  const double u = uniform(rng);
  if (u < options.test_fraction) return "test";
  if (u < options.test_fraction + options.val_fraction) return "val";
  return "train";
}

}  // namespace

const std::vector<std::string>& shape_names() {
  static const std::vector<std::string> s = {"circle", "square", "triangle", "diamond", "star", "hexagon"};
  return s;
}

const std::vector<std::string>& shapes_styles() {
  static const std::vector<std::string> s = {"classic", "natural"};
  return s;
}

const std::vector<std::string>& color_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& c : colours()) v.push_back(c.name);
    return v;
  }();
  return names;
}

ShapesScene render_scene(uint64_t seed, int64_t index, const ShapesOptions& options) {
  Rng rng(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(index) * 0xBF58476D1CE4E5B9ull + 1);
  const int n = options.image_size;
  const bool natural = options.style == "natural";
  ShapesScene scene;
  scene.image = cv::Mat(n, n, CV_8UC3);
  const bool photos = natural && options.background_photos && !options.background_photos->empty();
  if (photos && chance(rng, options.photo_share)) {
    paint_photo_background(rng, scene.image, *options.background_photos);
    scene.background = "photo";
  } else if (natural && chance(rng, 0.5)) {
    scene.background = paint_textured_background(rng, scene.image);
  } else {
    scene.background = paint_background(rng, scene.image);
  }
  if (natural && chance(rng, 0.75)) scatter_clutter(rng, scene.image);

  const int wanted = between(rng, 1, 3);
  const double scale = n / 299.0;
  for (int attempt = 0; attempt < 200 && static_cast<int>(scene.objects.size()) < wanted; ++attempt) {
    ShapeObject o;
    o.shape = pick(rng, shape_names());
    const Colour& colour = colours()[static_cast<size_t>(rng.below(colours().size()))];
    o.color = colour.name;
    o.size = rng.below(2) == 0 ? "small" : "large";
    const double extent = (o.size == "small" ? between(rng, 48, 64) : between(rng, 96, 124)) * scale;
    const cv::Point2d centre(extent / 2 + 4 + uniform(rng) * (n - extent - 8), extent / 2 + 4 + uniform(rng) * (n - extent - 8));
    const auto pts = outline(o.shape, centre, extent);
    const cv::Rect box = cv::boundingRect(pts);
    o.bbox = {box.x, box.y, box.width, box.height};
    bool clash = false;
    for (const auto& other : scene.objects) clash = clash || overlaps(o.bbox, other.bbox, static_cast<int>(8 * scale));
    // Two objects alike in shape and colour would make the caption ambiguous.
    for (const auto& other : scene.objects) clash = clash || (other.shape == o.shape && other.color == o.color);
    if (clash) continue;
    const cv::Scalar fill = jitter(rng, colour.bgr, 14);
    cv::fillPoly(scene.image, std::vector<std::vector<cv::Point>>{pts}, fill, cv::LINE_AA);
    scene.objects.push_back(o);
  }
  if (natural && chance(rng, 0.8)) apply_camera_effects(rng, scene.image);

  auto candidates = caption_candidates(scene, n, rng);
  rng.shuffle(candidates);
  const auto k = std::min<size_t>(candidates.size(), static_cast<size_t>(std::max(1, options.captions_per_image)));
  scene.captions.assign(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(k));
  return scene;
}

namespace {

std::string image_name(int64_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "%06lld.png", static_cast<long long>(index));
  return name;
}

// A scene whose PNG was written (its pixels dropped), or why it could not be.
struct WrittenScene {
  ShapesScene scene;
  std::string failure;
};

// Scenes [begin, end) drawn and their PNGs encoded on every core: each scene depends on its
// index only, so the records that follow in index order are those of a one-thread loop.
std::vector<WrittenScene> write_scene_images(const std::string& image_dir, int64_t begin, int64_t end,
                                             const ShapesOptions& options) {
  std::vector<WrittenScene> out(static_cast<size_t>(end - begin));
  cv::parallel_for_(cv::Range(0, static_cast<int>(end - begin)), [&](const cv::Range& range) {
    for (int k = range.start; k < range.end; ++k) {
      WrittenScene& w = out[static_cast<size_t>(k)];
      try {
        w.scene = render_scene(options.seed, begin + k, options);
        if (!cv::imwrite(image_dir + "/" + image_name(begin + k), w.scene.image)) w.failure = "cannot write image";
      } catch (const std::exception& e) {
        w.failure = std::string("cannot write image: ") + e.what();
      }
      w.scene.image.release();
    }
  });
  return out;
}

}  // namespace

void write_shapes_dataset(const std::string& dir, const ShapesOptions& options,
                          const std::function<bool(int64_t, int64_t)>& progress) {
  if (options.count < 1) throw ConfigError("shapes: count must be at least 1");
  if (options.image_size < 75) throw ConfigError("shapes: image size must be at least 75 pixels");
  if (!options.split.empty() && options.split != "train" && options.split != "val" && options.split != "test")
    throw ConfigError("shapes: split must be train, val or test");
  if (std::find(shapes_styles().begin(), shapes_styles().end(), options.style) == shapes_styles().end())
    throw ConfigError("shapes: style must be classic or natural, not '" + options.style + "'");
  if (options.style != "natural" && options.background_photos && !options.background_photos->empty())
    throw ConfigError("shapes: background photos need the natural style");
  if (!(options.photo_share >= 0 && options.photo_share <= 1)) throw ConfigError("shapes: the photo share must be within 0-1");
  // A folder with a dataset file holds a finished dataset (the file is written last): never
  // overwrite it, its images or the feature caches and runs made from them.
  if (std::filesystem::exists(dir + "/dataset.json"))
    throw DataError(dir, "already holds a dataset (dataset.json); nothing was written: choose another folder or delete it");
  const std::string image_dir = dir + "/images";
  std::error_code ec;
  std::filesystem::create_directories(image_dir, ec);
  if (ec) throw DataError(image_dir, "cannot create folder: " + ec.message());

  nlohmann::json images = nlohmann::json::array();
  Rng split_rng(options.seed ^ 0x94D049BB133111EBull);
  int64_t sentence_id = 0;
  constexpr int64_t kBlock = 32;
  std::vector<WrittenScene> block;
  for (int64_t i = 0; i < options.count; ++i) {
    const auto slot = static_cast<size_t>(i % kBlock);
    if (slot == 0) block = write_scene_images(image_dir, i, std::min(options.count, i + kBlock), options);
    const WrittenScene& written = block[slot];
    if (!written.failure.empty()) throw DataError(image_dir + "/" + image_name(i), written.failure);
    const ShapesScene& scene = written.scene;
    nlohmann::json sentences = nlohmann::json::array();
    for (const auto& c : scene.captions)
      sentences.push_back({{"tokens", tokenize(c)}, {"raw", c}, {"imgid", i}, {"sentid", sentence_id++}});
    nlohmann::json objects = nlohmann::json::array();
    for (const auto& o : scene.objects)
      objects.push_back({{"shape", o.shape}, {"color", o.color}, {"size", o.size}, {"bbox", o.bbox}});
    images.push_back({{"filepath", "images"},
                      {"filename", image_name(i)},
                      {"imgid", i},
                      {"split", split_for(split_rng, options)},
                      {"sentences", sentences},
                      {"objects", objects},
                      {"background", scene.background}});
    if (progress && !progress(i + 1, options.count)) return;
  }
  nlohmann::json doc = {{"dataset", "shapes"},
                        {"seed", options.seed},
                        {"style", options.style},
                        {"image_size", options.image_size},
                        {"images", images}};
  if (!options.background_names.empty()) {
    doc["background_photos"] = options.background_names;
    doc["photo_share"] = options.photo_share;
  }
  write_file_atomically(dir + "/dataset.json", doc.dump());
}

bool ShapesAnnotations::any() const {
  for (const auto& o : objects)
    if (!o.empty()) return true;
  return false;
}

ShapesAnnotations read_shapes_annotations(const std::string& dataset_json) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(read_file(dataset_json));
  } catch (const nlohmann::json::exception& e) {
    throw DataError(dataset_json, std::string("invalid JSON: ") + e.what());
  }
  if (!doc.is_object() || !doc.contains("images") || !doc["images"].is_array())
    throw DataError(dataset_json, "expected an object with an \"images\" list");
  ShapesAnnotations annotations;
  if (doc.contains("image_size") && doc["image_size"].is_number_integer()) annotations.image_size = doc["image_size"].get<int>();
  auto& out = annotations.objects;
  const auto& images = doc["images"];
  for (size_t i = 0; i < images.size(); ++i) {
    out.emplace_back();
    if (!images[i].is_object() || !images[i].contains("objects")) continue;
    const auto& objects = images[i]["objects"];
    const std::string where = "images[" + std::to_string(i) + "].objects";
    if (!objects.is_array()) throw DataError(dataset_json, where + ": expected a list");
    for (size_t j = 0; j < objects.size(); ++j) {
      try {
        ShapeObject o;
        o.shape = objects[j].at("shape").get<std::string>();
        o.color = objects[j].at("color").get<std::string>();
        o.size = objects[j].at("size").get<std::string>();
        const auto& bbox = objects[j].at("bbox");
        // Integers only: nlohmann's cast of an out-of-range float to int is undefined.
        if (!bbox.is_array() || bbox.size() != 4 ||
            !std::all_of(bbox.begin(), bbox.end(), [](const nlohmann::json& v) { return v.is_number_integer(); }))
          throw DataError(dataset_json, where + "[" + std::to_string(j) + "]: bbox must be 4 integers [x, y, w, h]");
        o.bbox = bbox.get<std::array<int, 4>>();
        out.back().push_back(o);
      } catch (const nlohmann::json::exception& e) {
        throw DataError(dataset_json, where + "[" + std::to_string(j) + "]: " + e.what());
      }
    }
  }
  return annotations;
}

std::vector<NamedObject> named_objects(const std::vector<std::string>& tokens) {
  const std::set<std::string> shapes(shape_names().begin(), shape_names().end());
  const std::set<std::string> colors(color_names().begin(), color_names().end());
  std::vector<NamedObject> out;
  std::string colour;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (colors.count(tokens[i])) colour = tokens[i];
    if (shapes.count(tokens[i])) {
      out.push_back({colour, tokens[i], i});
      colour.clear();
    }
  }
  return out;
}

}  // namespace captioner
