#pragma once
// Crash-safe file replacement: write a temporary file beside the target, fsync it, rename it
// over the target, fsync the directory. A kill at any moment leaves either the old or the new
// file, never a torn one.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace captioner {

// `before_rename` runs after the temporary file is complete and synced, just before the rename;
// tests use it to simulate a crash at the worst moment. Throws DataError naming `path`.
void write_file_atomically(const std::string& path, std::string_view bytes, const std::function<void()>& before_rename = {});

// A regular file open for reading, closed when destroyed. Opening never blocks (a FIFO is
// refused at once, not waited on), and anything but a regular file (a folder, a FIFO, a device
// such as /dev/zero that never ends) is refused with DataError naming `path`.
class ReadOnlyFile {
 public:
  explicit ReadOnlyFile(const std::string& path);
  ~ReadOnlyFile();
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;
  int fd() const { return fd_; }
  int64_t size() const { return size_; }  // as it was when opened
  // The whole content (fewer bytes if the file shrank meanwhile).
  std::string read_all() const;

 private:
  std::string path_;
  int fd_ = -1;
  int64_t size_ = 0;
};

// Reads a whole regular file; throws DataError naming `path` when it cannot.
std::string read_file(const std::string& path);

}  // namespace captioner
