#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "app/cli_options.h"
#include "app/cli_output.h"
#include "app/commands.h"
#include "app/progress_line.h"
#include "app/stop_signals.h"
#include "core/util/duration.h"
#include "core/util/runtime.h"
#include "core/vision/encoder.h"
#include "core/vision/feature_cache.h"

namespace captioner::cli {

namespace {

struct ExtractArgs {
  std::string images;
  std::string out;
  std::string encoder;
  bool pooled_only = false;
  std::string layer = "mixed10";
  int64_t batch_size = 8;
  int workers = 2;
  int64_t threads = 0;
  std::string device = "auto";
  std::string precision = "auto";
  bool quiet = false;
};

class ConsoleExtractObserver : public ExtractObserver {
 public:
  explicit ConsoleExtractObserver(bool progress) : progress_(progress) {}
  void on_progress(const ExtractProgress& p) override {
    if (!progress_) return;
    const auto now = std::chrono::steady_clock::now();
    const bool due = now - last_ >= std::chrono::seconds(2);
    if (due) last_ = now;
    char line[160];
    std::snprintf(line, sizeof line, "%lld/%lld images  %.1f images/s  ETA %s  (%lld bad)", static_cast<long long>(p.done),
                  static_cast<long long>(p.total), p.images_per_s, format_duration(p.eta_s).c_str(),
                  static_cast<long long>(p.failed));
    ProgressLine::on_stderr().show(line, due, p.done == p.total);
  }
  void on_bad_image(const std::string& /*path: the reason names it*/, const std::string& reason) override {
    ProgressLine::on_stderr().message("skipped " + reason);
  }

 private:
  bool progress_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace

Command add_extract_command(CLI::App& app) {
  auto a = std::make_shared<ExtractArgs>();
  auto* cmd = app.add_subcommand("extract", "Encode images into a feature cache (resumable)");
  cmd->add_option("--images", a->images, "Folder of images (searched recursively) or a text file with one path per line")
      ->required();
  cmd->add_option("--out", a->out, "Cache folder, or X.npy with --pooled-only")->required();
  cmd->add_flag("--pooled-only", a->pooled_only, "Keep only the pooled vectors (no 8x8 grid)");
  cmd->add_option("--layer", a->layer,
                  "Encoder layer whose 8x8 grid is used: mixed10 (the standard 2048-d grid) or mixed5 (768-d, before the layers "
                  "nsfwjs fine-tuned; see the README)")
      ->check(CLI::IsMember({"mixed10", "mixed5"}))
      ->capture_default_str();
  cmd->add_option("--encoder", a->encoder, "Encoder weight file (default: the installed one)");
  cmd->add_option("--batch-size", a->batch_size, "Images per encoder batch")->check(CLI::Range(1, 256))->capture_default_str();
  cmd->add_option("--workers", a->workers, "Image-decoding threads")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_option("--threads", a->threads, "Encoder CPU threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--device", a->device, "auto, cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  add_encoder_precision_option(cmd, a->precision);
  cmd->add_flag("--quiet", a->quiet, "No progress lines (the summary, bad images and errors still)");

  return [a]() -> int {
    configure_threads(a->threads);
    const auto device = resolve_device(a->device);
    Encoder encoder = load_encoder(a->encoder.empty() ? find_default_encoder() : a->encoder, device, a->precision);
    use_grid_layer(encoder, parse_grid_layer(a->layer));
    const auto images = list_images(a->images);
    ExtractOptions options;
    options.batch_size = a->batch_size;
    options.workers = a->workers;
    options.pooled_only = a->pooled_only;
    ConsoleExtractObserver observer(!a->quiet);
    StopSignals signals;
    const ExtractResult r = extract_features(encoder, images, a->out, options, &observer, &StopSignals::flag());
    std::cerr << "encoded " << r.encoded << ", already cached " << r.skipped << ", bad " << r.failed.size() << " of "
              << images.size() << " images into " << a->out << '\n';
    for (const auto& [path, reason] : r.failed) std::cerr << "  bad: " << reason << '\n';
    for (const auto& path : r.refreshed) std::cerr << "  changed since it was cached, encoded again: " << path << '\n';
    if (r.cancelled) {
      std::cerr << signals.signal_name() << ": stopped; run the same command again to finish\n";
      return signals.exit_code();
    }
    return 0;
  };
}

}  // namespace captioner::cli
