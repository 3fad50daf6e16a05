#include "core/run/run_folder.h"

#include <filesystem>

namespace captioner {

std::string RunFolder::checkpoint() const { return dir_ + "/checkpoint.pt"; }
std::string RunFolder::history() const { return dir_ + "/history.csv"; }
std::string RunFolder::summary() const { return dir_ + "/run.json"; }
std::string RunFolder::evaluation() const { return dir_ + "/evaluation.json"; }
std::string RunFolder::familiarity() const { return dir_ + "/familiarity.npy"; }
std::string RunFolder::lock() const { return dir_ + "/.lock"; }
bool RunFolder::has_checkpoint() const { return std::filesystem::exists(checkpoint()); }

std::string model_checkpoint_file(const std::string& run_folder_or_checkpoint) {
  if (!std::filesystem::is_directory(run_folder_or_checkpoint)) return run_folder_or_checkpoint;
  return RunFolder(run_folder_or_checkpoint).checkpoint();
}

RunFolder model_run_folder(const std::string& run_folder_or_checkpoint) {
  if (std::filesystem::is_directory(run_folder_or_checkpoint)) return RunFolder(run_folder_or_checkpoint);
  const std::string parent = std::filesystem::path(run_folder_or_checkpoint).parent_path().string();
  return RunFolder(parent.empty() ? "." : parent);
}

}  // namespace captioner
