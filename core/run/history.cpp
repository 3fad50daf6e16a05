#include "core/run/history.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/util/errors.h"
#include "core/util/printable.h"

namespace captioner {

std::string History::to_csv() const {
  std::string out = "step,train_loss,val_loss,captions_per_s,lr,elapsed_s,wall_time\n";
  char line[256];
  for (const auto& r : rows) {
    char val[32] = "";
    if (!std::isnan(r.val_loss)) std::snprintf(val, sizeof val, "%.6f", r.val_loss);
    std::snprintf(line, sizeof line, "%lld,%.6f,%s,%.1f,%.6g,%.3f,%.3f\n", static_cast<long long>(r.step), r.train_loss, val,
                  r.captions_per_s, r.lr, r.elapsed_s, r.wall_time);
    out += line;
  }
  return out;
}

namespace {

constexpr const char* kColumns = "step,train_loss,val_loss,captions_per_s,lr,elapsed_s";

// One finite number, the whole field; an empty val_loss is NaN.
double number(const std::string& field, bool empty_is_nan, const std::string& where) {
  if (field.empty() && empty_is_nan) return std::numeric_limits<double>::quiet_NaN();
  double value = 0;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (ec != std::errc() || end != field.data() + field.size() || !std::isfinite(value))
    throw DataError(where, "'" + excerpt(field, 40) + "' is not a number");
  return value;
}

}  // namespace

History History::from_csv(const std::string& text, const std::string& source) {
  History history;
  size_t start = 0;
  int64_t line_number = 0;
  size_t columns = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_number == 1) {
      if (line == kColumns)
        columns = 6;
      else if (line == std::string(kColumns) + ",wall_time")
        columns = 7;
      else
        throw DataError(source, "not a run history (its first line is not the column names)");
      continue;
    }
    if (line.empty()) continue;
    std::vector<std::string> fields;
    for (size_t a = 0;;) {
      const size_t comma = line.find(',', a);
      fields.push_back(line.substr(a, comma == std::string::npos ? std::string::npos : comma - a));
      if (comma == std::string::npos) break;
      a = comma + 1;
    }
    const std::string where = source + ":" + std::to_string(line_number);
    if (fields.size() != columns)
      throw DataError(where, std::to_string(fields.size()) + " fields; expected " + std::to_string(columns));
    HistoryRow r;
    r.step = static_cast<int64_t>(number(fields[0], false, where));
    r.train_loss = number(fields[1], false, where);
    r.val_loss = number(fields[2], true, where);
    r.captions_per_s = number(fields[3], false, where);
    r.lr = number(fields[4], false, where);
    r.elapsed_s = number(fields[5], false, where);
    if (columns == 7) r.wall_time = number(fields[6], false, where);
    history.rows.push_back(r);
  }
  if (line_number == 0) throw DataError(source, "empty file; not a run history");
  return history;
}

double History::best_val_loss() const {
  double best = std::numeric_limits<double>::quiet_NaN();
  for (const auto& r : rows)
    if (!std::isnan(r.val_loss) && (std::isnan(best) || r.val_loss < best)) best = r.val_loss;
  return best;
}

}  // namespace captioner
