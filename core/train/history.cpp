#include "core/train/history.h"

#include <cmath>
#include <cstdio>
#include <limits>

namespace captioner {

std::string History::to_csv() const {
  std::string out = "step,train_loss,val_loss,captions_per_s,lr,elapsed_s\n";
  char line[256];
  for (const auto& r : rows) {
    char val[32] = "";
    if (!std::isnan(r.val_loss)) std::snprintf(val, sizeof val, "%.6f", r.val_loss);
    std::snprintf(line, sizeof line, "%lld,%.6f,%s,%.1f,%.6g,%.3f\n", static_cast<long long>(r.step), r.train_loss, val,
                  r.captions_per_s, r.lr, r.elapsed_s);
    out += line;
  }
  return out;
}

double History::best_val_loss() const {
  double best = std::numeric_limits<double>::quiet_NaN();
  for (const auto& r : rows)
    if (!std::isnan(r.val_loss) && (std::isnan(best) || r.val_loss < best)) best = r.val_loss;
  return best;
}

}  // namespace captioner
