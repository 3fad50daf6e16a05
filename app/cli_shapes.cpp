#include <CLI/CLI.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "app/commands.h"
#include "app/progress_line.h"
#include "core/data/shapes.h"
#include "core/util/errors.h"
#include "core/vision/feature_cache.h"
#include "core/vision/image_io.h"

namespace captioner::cli {

namespace {

// The photos under `dir`, each kept at a short side of 1.5 image sizes (about 0.8 MB each at 299
// pixels), so crops of half a photo are still sharp. A file that cannot be read is reported and
// left out; none at all is an error.
void load_background_photos(const std::string& dir, ShapesOptions& options) {
  auto photos = std::make_shared<std::vector<cv::Mat>>();
  const auto files = list_images(dir);
  const int keep_side = options.image_size * 3 / 2;
  for (const auto& file : files) {
    try {
      cv::Mat photo = to_bgr_mat(load_image_rgb(file));
      const int short_side = std::min(photo.rows, photo.cols);
      if (short_side > keep_side) {
        const double f = static_cast<double>(keep_side) / short_side;
        cv::resize(photo, photo, {}, f, f, cv::INTER_AREA);
      }
      photos->push_back(photo);
      const auto relative = std::filesystem::path(file).lexically_relative(dir);
      options.background_names.push_back(relative.empty() ? file : relative.generic_string());
    } catch (const std::exception& e) {
      std::cerr << "warning: " << e.what() << " (left out of the backgrounds)\n";
    }
  }
  if (photos->empty()) throw DataError(dir, "no readable image to use as a background");
  std::cerr << "shapes: " << photos->size() << " background photos from " << dir << "\n";
  options.background_photos = std::move(photos);
}

}  // namespace

Command add_shapes_command(CLI::App& app) {
  auto o = std::make_shared<ShapesOptions>();
  auto out = std::make_shared<std::string>();
  auto backgrounds = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "shapes", "Generate the built-in Shapes dataset (images + Karpathy-format dataset.json with object boxes)");
  cmd->add_option("--out", *out, "Dataset folder to create")->required();
  cmd->add_option("--count", o->count, "Images")->check(CLI::Range(int64_t{1}, int64_t{10'000'000}))->capture_default_str();
  cmd->add_option("--seed", o->seed, "Random seed: the same seed gives the same scenes")->capture_default_str();
  cmd->add_option("--style", o->style,
                  "natural: textured backgrounds, clutter, light and camera artefacts on most scenes; "
                  "classic: the first style, plain, gradient, noise or stripes backgrounds only")
      ->check(CLI::IsMember(shapes_styles()))
      ->capture_default_str();
  cmd->add_option(
         "--backgrounds", *backgrounds,
         "Folder of photos (or a list file): a share of the natural scenes (--photo-share) are drawn on a dimmed crop of one")
      ->check(CLI::ExistingPath);
  cmd->add_option("--photo-share", o->photo_share, "With --backgrounds: the share of scenes drawn on a photo")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--val-fraction", o->val_fraction, "Share of images in the val split")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--test-fraction", o->test_fraction, "Share of images in the test split")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--split", o->split, "Put every image in this split instead (train, val or test)")
      ->check(CLI::IsMember({"train", "val", "test"}));
  cmd->add_option("--image-size", o->image_size, "Image width and height in pixels")
      ->check(CLI::Range(75, 4096))
      ->capture_default_str();
  return [o, out, backgrounds]() -> int {
    if (!backgrounds->empty()) {
      if (o->style != "natural") throw ConfigError("--backgrounds needs --style natural");
      load_background_photos(*backgrounds, *o);
    }
    write_shapes_dataset(*out, *o, [](int64_t done, int64_t total) {
      ProgressLine::on_stderr().show("shapes: " + std::to_string(done) + "/" + std::to_string(total) + " images", done % 500 == 0,
                                     done == total);
      return true;
    });
    std::cerr << "wrote " << *out << "/dataset.json and " << o->count << " images in " << *out << "/images\n";
    return 0;
  };
}

}  // namespace captioner::cli
