#pragma once
// Loss history of a run: one row per training step; validation loss where one was computed.
#include <cstdint>
#include <string>
#include <vector>

namespace captioner {

struct HistoryRow {
  int64_t step = 0;
  double train_loss = 0;
  double val_loss = 0;  // NaN when not validated at this step
  double captions_per_s = 0;
  double lr = 0;
  double elapsed_s = 0;
  double wall_time = 0;  // seconds since the Unix epoch when the step ended; 0: not recorded (older runs)
};

struct History {
  std::vector<HistoryRow> rows;
  // Columns: step,train_loss,val_loss,captions_per_s,lr,elapsed_s,wall_time (val_loss empty when
  // absent, wall_time with millisecond precision).
  std::string to_csv() const;
  // Reads to_csv's text, and that of runs written before wall_time existed (their rows get 0).
  // Throws DataError naming `source` and the line for anything else.
  static History from_csv(const std::string& text, const std::string& source);
  double best_val_loss() const;  // NaN when never validated
};

}  // namespace captioner
