#include <CLI/CLI.hpp>

#include <iostream>

#include "app/commands.h"
#include "app/progress_line.h"
#include "core/data/shapes.h"
#include "core/util/errors.h"
#include "core/vision/background_photos.h"

namespace captioner::cli {

namespace {

void report(const BackgroundPhotoLoad& load, const std::string& from) {
  for (const auto& reason : load.left_out) std::cerr << "warning: " << reason << " (left out of the backgrounds)\n";
  if (load.loaded > 0) std::cerr << "shapes: " << load.loaded << " background photos from " << from << "\n";
}

// The photos under the natural scenes: the user's, none, or the built-in set when installed.
void choose_background_photos(const std::string& backgrounds, ShapesOptions& options) {
  if (backgrounds == "none") return;
  if (!backgrounds.empty()) {
    if (options.style != "natural") throw ConfigError("--backgrounds needs --style natural");
    report(load_user_background_photos(backgrounds, options), backgrounds);
    return;
  }
  if (options.style != "natural") return;
  const auto load = load_packaged_background_photos(options);
  report(load, "Debian's lomiri-wallpapers packages");
  if (load.loaded == 0)
    std::cerr << "shapes: no background photos (lomiri-wallpapers-16.04 and -20.04 are not installed): a model trained "
                 "on these scenes invents more objects over photographs\n";
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
  cmd->add_option("--backgrounds", *backgrounds,
                  "Folder of photos (or a list file) on a dimmed crop of which a share of the natural scenes (--photo-share) "
                  "are drawn; none: no photos. Default: the photos of Debian's lomiri-wallpapers packages when installed")
      ->check(CLI::ExistingPath | CLI::IsMember({"none"}));
  cmd->add_option("--photo-share", o->photo_share, "The share of natural scenes drawn on a photo, when there are photos")
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
    choose_background_photos(*backgrounds, *o);
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
