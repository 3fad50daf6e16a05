#pragma once
// An exclusive advisory lock on a file (flock), held for the object's lifetime, so that two
// processes never write the same cache at once: the second waits, then finds the work done.
// The lock goes with the process, so a killed holder never leaves a stale lock behind.
#include <string>

namespace captioner {

class FileLock {
 public:
  // Creates `path` if needed and blocks until the lock is ours. Throws DataError naming it.
  explicit FileLock(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace captioner
