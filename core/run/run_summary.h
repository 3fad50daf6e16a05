#pragma once
// A run folder's summary (run.json), written by the trainer at every checkpoint and when the run
// ends: its settings, where it is and its best validation loss, so that a list of runs can be
// shown without loading any checkpoint. An evaluation of the run (evaluation.json, written by
// whoever evaluates it) is read with it.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/model/config.h"

namespace captioner {

struct RunSummary {
  std::string dir;  // the run folder (filled in by read_run_summary)
  TrainConfig config;
  std::string dataset;  // the file or folder the run's data was read from
  int64_t step = 0;
  std::string state;         // "running", "stopped", "finished", "failed"
  double best_val_loss = 0;  // NaN until the first validation
  double started_at = 0;     // Unix seconds: the run's first step
  double updated_at = 0;     // Unix seconds: this summary was written
  std::string precision;     // the matrix products' precision used ("fp32", "bf16"); config.precision may say "auto"
  std::map<std::string, double> evaluation;  // evaluation.json's numbers (BLEU, CIDEr, ...); empty: none
  std::string evaluation_split;              // and the split and decoding it was made with
  std::string evaluation_decoding;
};

// Written atomically as RUN_DIR/run.json.
void write_run_summary(const std::string& run_dir, const RunSummary& summary);
// Throws DataError naming the file when run.json is missing or unreadable; a bad
// evaluation.json is reported the same way.
RunSummary read_run_summary(const std::string& run_dir);

struct RunListing {
  std::vector<RunSummary> runs;       // newest first (started_at, then folder name)
  std::vector<std::string> problems;  // "FOLDER: why" for folders with an unreadable run.json
};
// The runs directly under `runs_dir` (folders holding a run.json). A missing `runs_dir` is an
// empty listing.
RunListing list_runs(const std::string& runs_dir);

}  // namespace captioner
