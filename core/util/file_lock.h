#pragma once
// An exclusive advisory lock on a file (flock), held for the object's lifetime, so that two
// processes never write the same cache at once: the second waits, then finds the work done.
// The lock goes with the process, so a killed holder never leaves a stale lock behind.
#include <string>

namespace captioner {

class FileLock {
 public:
  enum class Wait { Block, Fail };
  // Creates `path` if needed and takes the lock: waits for it (Block), or throws DataError naming
  // `path` when another process holds it (Fail). Throws DataError naming it when it cannot be made.
  explicit FileLock(const std::string& path, Wait wait = Wait::Block);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace captioner
