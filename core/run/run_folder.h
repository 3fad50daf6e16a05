#pragma once
// A run folder's layout: the one place where the names of its files are spelled. Training writes
// them; lists of runs, captioning and evaluation read them.
#include <string>

namespace captioner {

class RunFolder {
 public:
  explicit RunFolder(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }
  std::string checkpoint() const;   // the model with its training state
  std::string history() const;      // the loss curves, as CSV
  std::string summary() const;      // run.json: settings and results without the weights
  std::string evaluation() const;   // the last evaluation's report
  std::string familiarity() const;  // training images' signatures, for the unfamiliar-image notice
  std::string lock() const;         // held by the process training into the folder
  bool has_checkpoint() const;

 private:
  std::string dir_;
};

// A model as users name it: a run folder or a checkpoint file. The checkpoint file, and the run
// folder it belongs to.
std::string model_checkpoint_file(const std::string& run_folder_or_checkpoint);
RunFolder model_run_folder(const std::string& run_folder_or_checkpoint);

}  // namespace captioner
