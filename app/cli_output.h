#pragma once
// Terminal output shared by the subcommands.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/stop_signals.h"
#include "core/eval/metrics.h"
#include "core/model/decoding.h"
#include "core/train/trainer.h"

namespace captioner::cli {

// Prints training progress to stderr (every `every` steps and at validations) and messages to
// stderr, unless `print` is false (the quiet ranks of a distributed run). The first SIGINT,
// SIGTERM or SIGHUP asks the trainer to stop (it saves a checkpoint); the same signal again kills.
class ConsoleTrainObserver : public TrainObserver {
 public:
  // `progress` false (--quiet): no progress lines, messages and warnings still.
  ConsoleTrainObserver(TrainControl& control, int64_t every, bool print = true, bool progress = true);
  // 128 + the stop signal's number, for a run that stopped.
  int stop_exit_code() const { return signals_.exit_code(); }
  void on_progress(const TrainProgress& p) override;
  void on_message(const std::string& text) override;
  void on_checkpoint(const std::string& path, int64_t step) override;

 private:
  TrainControl& control_;
  int64_t every_;
  bool print_;
  bool progress_;
  StopSignals signals_;
};

// Captions with per-token log-probabilities and, for attention models, each word's map.
// {"Bleu_1": ..., "Bleu_4": ..., "ROUGE_L": ..., "CIDEr": ...}: the coco-caption toolkit's keys.
nlohmann::json scores_to_json(const CaptionScores& scores);
void print_captions(const std::vector<DecodedCaption>& captions);

}  // namespace captioner::cli
