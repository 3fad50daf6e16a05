#include "app/cli_options.h"

#include <CLI/CLI.hpp>

#include "core/model/decode_options.h"

namespace captioner::cli {

void add_encoder_precision_option(CLI::App* cmd, std::string& precision) {
  cmd->add_option("--precision", precision,
                  "The image encoder's arithmetic: bf16 (fp32 in and out), fp32, or auto (bf16 where the CPU has bf16 "
                  "units: AVX512-BF16 or AMX)")
      ->check(CLI::IsMember({"auto", "fp32", "bf16"}))
      ->capture_default_str();
}

void add_repeat_options(CLI::App* cmd, DecodeOptions& decoding) {
  cmd->add_option("--no-repeat-ngram", decoding.no_repeat_ngram, "No caption repeats a sequence of N words (0 = off)")
      ->check(CLI::Range(0, 20))
      ->capture_default_str();
  cmd->add_option("--revisit-penalty", decoding.revisit_penalty,
                  "Attention models: log-probability a word loses when said again where its attention was the first "
                  "time (0 = off)")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
}

}  // namespace captioner::cli
