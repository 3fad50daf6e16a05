// `captioner`: the command-line front end. Subcommands live in cli_*.cpp.
// Exit codes: 0 success, 1 runtime error ("error: FILE: reason"), 2 usage error, 128 + N when a
// stop signal N ended a command (it saved first).
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "app/commands.h"
#include "app/progress_line.h"
#include "core/util/runtime.h"

namespace {

constexpr int kUsageError = 2;

bool has_display() {
  for (const char* name : {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') return true;
  }
  return false;
}

// `captioner` alone, or followed only by files (a desktop entry's %F), opens the desktop app.
bool wants_desktop_app(int argc, char** argv, std::vector<std::string>& files) {
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    if (argv[i][0] == '-' || !std::filesystem::is_regular_file(argv[i], ec)) return false;
    files.emplace_back(argv[i]);
  }
  return true;
}

// The desktop app is its own program, captioner-desktop (with Qt), so that this one runs where
// Qt is not installed: the one beside this executable (a build folder), else the one on PATH.
int open_desktop_app(int argc, char** argv, const CLI::App& app) {
  if (!has_display()) {
    std::cerr << app.help() << "\nno display: the desktop app needs one; see `captioner --help` for the command line\n";
    return kUsageError;
  }
  std::vector<char*> args{const_cast<char*>("captioner-desktop")};
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::string beside = ec ? std::string() : (self.parent_path() / "captioner-desktop").string();
  if (!beside.empty() && ::access(beside.c_str(), X_OK) == 0) ::execv(beside.c_str(), args.data());
  ::execvp("captioner-desktop", args.data());
  std::cerr << app.help()
            << "\nthe desktop app is not installed (on Debian: the captioner-desktop package); see `captioner --help` for "
               "the command line\n";
  return kUsageError;
}

}  // namespace

int main(int argc, char** argv) {
  captioner::keep_freed_memory();
  CLI::App app{"Captioner: train image-captioning models and caption images"};
  app.set_version_flag("--version", std::string("captioner ") + CAPTIONER_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Without arguments (or with image files only), captioner opens the desktop app.\n"
      "Exit status: 0 success, 1 error, 2 usage error, 128+N stopped by signal N (after saving).");
  const std::vector<std::pair<std::string, captioner::cli::Command>> commands = {
      {"train", captioner::cli::add_train_command(app)},     {"caption", captioner::cli::add_caption_command(app)},
      {"demo", captioner::cli::add_demo_command(app)},       {"import-weights", captioner::cli::add_import_command(app)},
      {"extract", captioner::cli::add_extract_command(app)}, {"shapes", captioner::cli::add_shapes_command(app)},
      {"score", captioner::cli::add_score_command(app)},     {"eval", captioner::cli::add_eval_command(app)},
      {"serve", captioner::cli::add_serve_command(app)},
  };

  std::vector<std::string> files;
  if (wants_desktop_app(argc, argv, files)) return open_desktop_app(argc, argv, app);
  if (argv[1][0] != '-') {
    bool known = false;
    for (const auto& command : commands) known = known || command.first == argv[1];
    if (!known) {
      std::cerr << "error: unknown command '" << argv[1] << "' (commands:";
      for (const auto& command : commands) std::cerr << ' ' << command.first;
      std::cerr << "; see captioner --help)\n";
      return kUsageError;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, the version, or the error and a hint
    return code == 0 ? 0 : kUsageError;
  }

  for (const auto& [name, run] : commands) {
    if (!app.get_subcommand(name)->parsed()) continue;
    try {
      return run();
    } catch (const std::exception& e) {
      captioner::cli::ProgressLine::on_stderr().message(std::string("error: ") + e.what());
      return 1;
    }
  }
  return kUsageError;
}
