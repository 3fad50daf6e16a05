// `captioner`: the command-line front end. Subcommands live in cli_*.cpp.
#include <CLI/CLI.hpp>

#include <iostream>

#include "app/commands.h"
#include "core/util/errors.h"

#ifdef CAPTIONER_WITH_GUI
int run_gui(int argc, char** argv);  // gui_main.cpp
#endif

int main(int argc, char** argv) {
#ifdef CAPTIONER_WITH_GUI
  if (argc == 1) return run_gui(argc, argv);
#endif
  CLI::App app{"Captioner: train image-captioning models and caption images"};
  app.set_version_flag("--version", std::string("captioner ") + CAPTIONER_VERSION);
  app.require_subcommand(1);
  app.footer("Without arguments, captioner opens the desktop app.");
  const std::vector<std::pair<std::string, captioner::cli::Command>> commands = {
      {"train", captioner::cli::add_train_command(app)},
      {"caption", captioner::cli::add_caption_command(app)},
      {"demo", captioner::cli::add_demo_command(app)},
      {"import-weights", captioner::cli::add_import_command(app)},
      {"extract", captioner::cli::add_extract_command(app)},
      {"shapes", captioner::cli::add_shapes_command(app)},
      {"score", captioner::cli::add_score_command(app)},
      {"eval", captioner::cli::add_eval_command(app)},
      {"serve", captioner::cli::add_serve_command(app)},
  };
  CLI11_PARSE(app, argc, argv);

  for (const auto& [name, run] : commands) {
    if (!app.get_subcommand(name)->parsed()) continue;
    try {
      return run();
    } catch (const std::exception& e) {
      std::cerr << "error: " << e.what() << '\n';
      return 1;
    }
  }
  return 2;
}
