#include "core/run/run_summary.h"
#include "core/run/run_folder.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/model/config_json.h"
#include "core/util/atomic_file.h"
#include "core/util/errors.h"

namespace captioner {

namespace {

nlohmann::json number_or_null(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); }

nlohmann::json parse_json_file(const std::string& path) {
  try {
    return nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw DataError(path, std::string("not valid JSON (") + e.what() + ")");
  }
}

void read_evaluation(const std::string& path, RunSummary& s) {
  const nlohmann::json j = parse_json_file(path);
  if (!j.is_object()) throw DataError(path, "not a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (value.is_number())
      s.evaluation[key] = value.get<double>();
    else if (value.is_null())
      s.evaluation[key] = std::numeric_limits<double>::quiet_NaN();
  }
  s.evaluation_split = j.value("split", "");
  s.evaluation_decoding = j.value("decoding", "");
}

}  // namespace

void write_run_summary(const std::string& run_dir, const RunSummary& s) {
  const nlohmann::json j = {{"format", "captioner-run"},
                            {"version", 1},
                            {"config", s.config},
                            {"dataset", s.dataset},
                            {"step", s.step},
                            {"state", s.state},
                            {"best_val_loss", number_or_null(s.best_val_loss)},
                            {"started_at", s.started_at},
                            {"updated_at", s.updated_at},
                            {"precision", s.precision}};
  write_file_atomically(RunFolder(run_dir).summary(), j.dump(2) + "\n");
}

RunSummary read_run_summary(const std::string& run_dir) {
  const std::string path = RunFolder(run_dir).summary();
  if (!std::filesystem::exists(path)) throw DataError(path, "not found; the folder holds no run summary");
  const nlohmann::json j = parse_json_file(path);
  RunSummary s;
  s.dir = run_dir;
  try {
    if (!j.is_object() || j.value("format", "") != "captioner-run") throw DataError(path, "not a Captioner run summary");
    j.at("config").get_to(s.config);
    s.dataset = j.value("dataset", "");
    s.step = j.value("step", int64_t{0});
    s.state = j.value("state", "");
    const auto& best = j.at("best_val_loss");
    s.best_val_loss = best.is_number() ? best.get<double>() : std::numeric_limits<double>::quiet_NaN();
    s.started_at = j.value("started_at", 0.0);
    s.updated_at = j.value("updated_at", 0.0);
    s.precision = j.value("precision", "fp32");
  } catch (const nlohmann::json::exception& e) {
    throw DataError(path, std::string("bad field (") + e.what() + ")");
  }
  const std::string evaluation = RunFolder(run_dir).evaluation();
  if (std::filesystem::exists(evaluation)) read_evaluation(evaluation, s);
  return s;
}

RunListing list_runs(const std::string& runs_dir) {
  RunListing out;
  std::error_code ec;
  if (!std::filesystem::is_directory(runs_dir, ec)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(runs_dir, ec)) {
    if (!entry.is_directory(ec) || !std::filesystem::exists(RunFolder(entry.path().string()).summary(), ec)) continue;
    try {
      out.runs.push_back(read_run_summary(entry.path().string()));
    } catch (const std::exception& e) {
      out.problems.push_back(e.what());
    }
  }
  std::sort(out.runs.begin(), out.runs.end(), [](const RunSummary& a, const RunSummary& b) {
    if (a.started_at != b.started_at) return a.started_at > b.started_at;
    return a.dir > b.dir;
  });
  return out;
}

}  // namespace captioner
