#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>

#include "app/commands.h"
#include "core/util/errors.h"
#include "core/vision/encoder.h"
#include "core/vision/tfjs_import.h"

namespace captioner::cli {

namespace {
struct ImportArgs {
  std::string nsfwjs;
  std::string torchvision;
  bool no_transform_input = false;
  std::string out;
};
}  // namespace

Command add_import_command(CLI::App& app) {
  auto a = std::make_shared<ImportArgs>();
  auto* cmd = app.add_subcommand("import-weights", "Convert pretrained Inception-v3 weights into Captioner's encoder file");
  auto* nsfwjs = cmd->add_option("--nsfwjs", a->nsfwjs,
                                 "Unpacked nsfwjs 4.4.0 package folder (holding dist/models/inception_v3) or that model folder");
  auto* tv = cmd->add_option("--torchvision", a->torchvision,
                             "torchvision inception_v3 state_dict saved with torch.save (the notebook's encoder)");
  cmd->add_flag("--no-transform-input", a->no_transform_input,
                "torchvision: feed inputs as they are (default: torchvision's transform_input, as pretrained models use)");
  nsfwjs->excludes(tv);
  cmd->add_option("--out", a->out, "Encoder file to write (default: the first location Captioner searches)");
  return [a]() -> int {
    if (a->nsfwjs.empty() && a->torchvision.empty()) throw ConfigError("give --nsfwjs DIR or --torchvision FILE");
    if (!a->torchvision.empty()) {
      if (a->out.empty()) throw ConfigError("--torchvision needs --out (the default location holds the nsfwjs encoder)");
      auto net = inception_from_torchvision(a->torchvision, !a->no_transform_input);
      const std::string id = save_encoder(a->out, net, "torchvision state_dict " + a->torchvision);
      std::cout << "wrote " << a->out << " (encoder " << id << ")\n";
      return 0;
    }
    std::string dir = a->nsfwjs;
    if (std::filesystem::exists(dir + "/dist/models/inception_v3/model.min.js")) dir += "/dist/models/inception_v3";
    if (a->out.empty()) a->out = encoder_search_path().front();
    const auto weights = read_tfjs_weights(dir);
    auto net = inception_from_tfjs(weights, dir);
    const std::string id = save_encoder(a->out, net, "nsfwjs@4.4.0 inception_v3");
    std::cout << "wrote " << a->out << " (" << weights.size() << " tensors, encoder " << id << ")\n";
    return 0;
  };
}

}  // namespace captioner::cli
