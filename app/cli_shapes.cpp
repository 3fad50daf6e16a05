#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "app/commands.h"
#include "core/data/shapes.h"

namespace captioner::cli {

Command add_shapes_command(CLI::App& app) {
  auto o = std::make_shared<ShapesOptions>();
  auto out = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("shapes", "Generate the built-in Shapes dataset (images + Karpathy-format dataset.json with object boxes)");
  cmd->add_option("--out", *out, "Dataset folder to create")->required();
  cmd->add_option("--count", o->count, "Images")->check(CLI::Range(int64_t{1}, int64_t{10'000'000}))->capture_default_str();
  cmd->add_option("--seed", o->seed, "Random seed: the same seed gives the same scenes")->capture_default_str();
  cmd->add_option("--val-fraction", o->val_fraction, "Share of images in the val split")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  cmd->add_option("--test-fraction", o->test_fraction, "Share of images in the test split")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  cmd->add_option("--split", o->split, "Put every image in this split instead (train, val or test)")
      ->check(CLI::IsMember({"train", "val", "test"}));
  cmd->add_option("--image-size", o->image_size, "Image width and height in pixels")->check(CLI::Range(75, 4096))->capture_default_str();
  return [o, out]() -> int {
    write_shapes_dataset(*out, *o, [](int64_t done, int64_t total) {
      if (done == total || done % 500 == 0) std::fprintf(stderr, "shapes: %lld/%lld images\n", static_cast<long long>(done), static_cast<long long>(total));
      return true;
    });
    std::cerr << "wrote " << *out << "/dataset.json and " << o->count << " images in " << *out << "/images\n";
    return 0;
  };
}

}  // namespace captioner::cli
