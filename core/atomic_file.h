#pragma once
// Crash-safe file replacement: write a temporary file beside the target, fsync it, rename it
// over the target, fsync the directory. A kill at any moment leaves either the old or the new
// file, never a torn one.
#include <functional>
#include <string>
#include <string_view>

namespace captioner {

// `before_rename` runs after the temporary file is complete and synced, just before the rename;
// tests use it to simulate a crash at the worst moment. Throws DataError naming `path`.
void write_file_atomically(const std::string& path, std::string_view bytes,
                           const std::function<void()>& before_rename = {});

// Reads a whole file; throws DataError naming `path` when it cannot.
std::string read_file(const std::string& path);

}  // namespace captioner
