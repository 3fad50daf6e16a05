#include "core/util/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/util/errors.h"

namespace captioner {

FileLock::FileLock(const std::string& path, Wait wait) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw DataError(path, std::string("cannot open the lock file: ") + std::strerror(errno));
  while (::flock(fd_, LOCK_EX | (wait == Wait::Fail ? LOCK_NB : 0)) != 0) {
    if (errno == EINTR) continue;
    const int error = errno;
    ::close(fd_);
    if (error == EWOULDBLOCK) throw DataError(path, "is locked by another process");
    throw DataError(path, std::string("cannot lock: ") + std::strerror(error));
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

}  // namespace captioner
