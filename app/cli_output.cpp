#include "app/cli_output.h"

#include <cmath>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "app/progress_line.h"
#include "core/util/duration.h"
#include "core/util/printable.h"

namespace captioner::cli {

ConsoleTrainObserver::ConsoleTrainObserver(TrainControl& control, int64_t every, bool print, bool progress)
    : control_(control), every_(std::max<int64_t>(every, 1)), print_(print), progress_(progress) {}

void ConsoleTrainObserver::on_progress(const TrainProgress& p) {
  if (signals_.received() && !control_.stop_requested()) {
    ProgressLine::on_stderr().message(std::string(signals_.signal_name()) +
                                      ": stopping after this step and saving a checkpoint (the same signal again kills)");
    control_.request_stop();
  }
  if (!print_ || !progress_) return;
  const bool due = p.step % every_ == 0 || p.validated || p.step == p.total_steps;
  char line[256];
  std::snprintf(line, sizeof line, "step %lld/%lld  train %.4f", static_cast<long long>(p.step),
                static_cast<long long>(p.total_steps), p.train_loss);
  std::string out = line;
  if (p.validated) {
    std::snprintf(line, sizeof line, "  val %.4f", p.val_loss);
    out += line;
  }
  std::snprintf(line, sizeof line, "  %.0f captions/s  lr %.2g  ETA %s", p.captions_per_s, p.lr,
                format_duration(p.eta_s).c_str());
  out += line;
  // A validation and its sample captions stay on a terminal; the steps between are redrawn.
  ProgressLine& progress = ProgressLine::on_stderr();
  progress.show(out, due, p.validated || p.step == p.total_steps);
  for (const auto& s : p.samples) progress.message("    " + printable(s.text()));
}

void ConsoleTrainObserver::on_message(const std::string& text) {
  if (print_) ProgressLine::on_stderr().message(text);
}

void ConsoleTrainObserver::on_checkpoint(const std::string& path, int64_t step) {
  if (print_) ProgressLine::on_stderr().message("saved " + path + " at step " + std::to_string(step));
}

nlohmann::json scores_to_json(const CaptionScores& s) {
  return {{"Bleu_1", s.bleu[0]}, {"Bleu_2", s.bleu[1]},  {"Bleu_3", s.bleu[2]},
          {"Bleu_4", s.bleu[3]}, {"ROUGE_L", s.rouge_l}, {"CIDEr", s.cider_d}};
}

void print_captions(const std::vector<DecodedCaption>& captions) {
  for (const auto& c : captions) {
    char lp[64];
    std::snprintf(lp, sizeof lp, "  (log p = %.2f%s)", c.log_prob, c.finished ? "" : ", cut at max length");
    std::cout << printable(c.text()) << lp << '\n';
  }
}

}  // namespace captioner::cli
