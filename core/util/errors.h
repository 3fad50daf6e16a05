#pragma once
// Error types thrown by the core. Every message names the file (or object) and the reason,
// so the CLI and the GUI can show it as is.
#include <stdexcept>
#include <string>

namespace captioner {

// Input data (dataset files, feature arrays, images) is missing or malformed.
class DataError : public std::runtime_error {
 public:
  DataError(const std::string& path, const std::string& reason)
      : std::runtime_error(path.empty() ? reason : path + ": " + reason), path_(path), reason_(reason) {}
  const std::string& path() const { return path_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string path_;
  std::string reason_;
};

// A checkpoint cannot be written or read.
class CheckpointError : public DataError {
 public:
  using DataError::DataError;
};

// A configuration value is out of range or inconsistent.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Work that stopped because its caller asked it to (a cancel flag was set): not a failure, so a
// front end reports it as a stop. What was finished before the stop is kept.
class Cancelled : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace captioner
