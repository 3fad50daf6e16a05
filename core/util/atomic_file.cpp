#include "core/util/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/util/errors.h"

namespace captioner {
namespace {

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Removes the temporary files that writers of `path` killed before their rename left behind
// (PATH.tmp-PID of a process that no longer runs); a live writer's file is left alone.
void remove_stale_temporaries(const std::string& path) {
  const std::string dir = parent_dir(path);
  const std::string prefix = path.substr(path.find_last_of('/') + 1) + ".tmp-";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    char* end = nullptr;
    const long pid = std::strtol(name.c_str() + prefix.size(), &end, 10);
    if (pid <= 0 || *end != '\0' || pid == ::getpid()) continue;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) std::filesystem::remove(entry.path(), ec);
  }
}

}  // namespace

void write_file_atomically(const std::string& path, std::string_view bytes, const std::function<void()>& before_rename) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw DataError(path, errno_text("cannot create temporary file"));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string reason = errno_text("write failed");
      ::close(fd);
      ::unlink(tmp.c_str());
      throw DataError(path, reason);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string reason = errno_text("cannot flush to disk");
    ::unlink(tmp.c_str());
    throw DataError(path, reason);
  }
  if (before_rename) before_rename();  // a throw here leaves the temporary file, like a crash would
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string reason = errno_text("cannot replace file");
    ::unlink(tmp.c_str());
    throw DataError(path, reason);
  }
  // Make the rename itself durable.
  const int dir = ::open(parent_dir(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  remove_stale_temporaries(path);
}

ReadOnlyFile::ReadOnlyFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) throw DataError(path, errno_text("cannot open"));
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw DataError(path, S_ISDIR(st.st_mode) ? "is a directory, expected a file" : "not a regular file");
  }
  size_ = static_cast<int64_t>(st.st_size);
}

ReadOnlyFile::~ReadOnlyFile() { ::close(fd_); }

std::string ReadOnlyFile::read_all() const {
  std::string bytes(static_cast<size_t>(size_), '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::pread(fd_, bytes.data() + got, bytes.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw DataError(path_, errno_text("cannot read"));
    if (n == 0) break;  // the file shrank while being read
    got += static_cast<size_t>(n);
  }
  bytes.resize(got);
  return bytes;
}

std::string read_file(const std::string& path) { return ReadOnlyFile(path).read_all(); }

}  // namespace captioner
