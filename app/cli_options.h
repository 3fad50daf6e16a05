#pragma once
// Options that several subcommands share, worded and checked once.
#include <string>

namespace CLI {
class App;
}

namespace captioner {
struct DecodeOptions;
}

namespace captioner::cli {

// --no-repeat-ngram and --revisit-penalty for the commands that decode (caption, eval).
void add_repeat_options(CLI::App* cmd, DecodeOptions& decoding);

// --precision for the commands that encode images (caption, extract, eval, serve): the encoder's
// convolutions in bf16 or fp32, or auto (bf16 where the CPU has bf16 units).
void add_encoder_precision_option(CLI::App* cmd, std::string& precision);

}  // namespace captioner::cli
