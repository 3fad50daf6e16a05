#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>

#include "app/commands.h"
#include "core/encoder.h"
#include "core/errors.h"
#include "core/tfjs_import.h"

namespace captioner::cli {

namespace {
struct ImportArgs {
  std::string nsfwjs;
  std::string out;
};
}  // namespace

Command add_import_command(CLI::App& app) {
  auto a = std::make_shared<ImportArgs>();
  auto* cmd = app.add_subcommand("import-weights", "Convert pretrained Inception-v3 weights into Captioner's encoder file");
  cmd->add_option("--nsfwjs", a->nsfwjs,
                  "Unpacked nsfwjs 4.4.0 package folder (holding dist/models/inception_v3) or that model folder")
      ->required();
  cmd->add_option("--out", a->out, "Encoder file to write (default: the first location Captioner searches)");
  return [a]() -> int {
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
