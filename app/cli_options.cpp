#include "app/cli_options.h"

#include <CLI/CLI.hpp>

namespace captioner::cli {

void add_encoder_precision_option(CLI::App* cmd, std::string& precision) {
  cmd->add_option("--precision", precision,
                  "The image encoder's arithmetic: bf16 (fp32 in and out), fp32, or auto (bf16 where the CPU has bf16 "
                  "units: AVX512-BF16 or AMX)")
      ->check(CLI::IsMember({"auto", "fp32", "bf16"}))
      ->capture_default_str();
}

}  // namespace captioner::cli
