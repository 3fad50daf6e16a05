#pragma once
// Shared by the libFuzzer targets: the readers under test take file paths, so each input is
// written to a per-process scratch file first. Expected refusals are exceptions derived from
// std::exception; a crash, a sanitizer report, a hang or any other exception is a finding.
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <fstream>
#include <string>

namespace captioner::fuzz {

// A scratch folder of this process, made once.
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    std::string d = "/tmp/captioner-fuzz-" + std::to_string(::getpid());
    ::mkdir(d.c_str(), 0700);
    return d;
  }();
  return dir;
}

inline std::string write_file(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

inline std::string write_file(const std::string& name, const std::string& text) {
  return write_file(name, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

// Writes the input to scratch file `name` and hands its path to `read`; the refusals a reader
// is allowed (std::exception) are swallowed, anything else surfaces as a finding.
template <typename Reader>
int read_as_file(const char* name, const uint8_t* data, size_t size, Reader&& read) {
  const std::string path = write_file(name, data, size);
  try {
    read(path);
  } catch (const std::exception&) {
  }
  return 0;
}

}  // namespace captioner::fuzz
