#pragma once
// Subcommands of the `captioner` executable. Each registers its options on the parser and
// returns the function that runs it (exit code 0 on success).
#include <functional>

namespace CLI {
class App;
}

namespace captioner::cli {

using Command = std::function<int()>;

Command add_train_command(CLI::App& app);
Command add_caption_command(CLI::App& app);
Command add_demo_command(CLI::App& app);
Command add_import_command(CLI::App& app);
Command add_extract_command(CLI::App& app);
Command add_shapes_command(CLI::App& app);
Command add_score_command(CLI::App& app);
Command add_eval_command(CLI::App& app);
Command add_serve_command(CLI::App& app);

}  // namespace captioner::cli
