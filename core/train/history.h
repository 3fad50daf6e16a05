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
};

struct History {
  std::vector<HistoryRow> rows;
  // Columns: step,train_loss,val_loss,captions_per_s,lr,elapsed_s (val_loss empty when absent).
  std::string to_csv() const;
  double best_val_loss() const;  // NaN when never validated
};

}  // namespace captioner
