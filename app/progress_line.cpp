#include "app/progress_line.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

namespace captioner::cli {

ProgressLine& ProgressLine::on_stderr() {
  static ProgressLine line(stderr, [] {
    const char* term = std::getenv("TERM");
    return ::isatty(STDERR_FILENO) == 1 && !(term && std::strcmp(term, "dumb") == 0);
  }());
  return line;
}

ProgressLine::ProgressLine(std::FILE* out, bool terminal) : out_(out), terminal_(terminal) {}

void ProgressLine::show(const std::string& text, bool due, bool last) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!terminal_) {
    if (due || last) std::fprintf(out_, "%s\n", text.c_str());
  } else {
    // At most ten redraws a second; carriage return, the text, then erase what a longer line left.
    const auto now = std::chrono::steady_clock::now();
    if (!last && open_ && now - drawn_ < std::chrono::milliseconds(100)) return;
    drawn_ = now;
    std::fprintf(out_, "\r%s\033[K%s", text.c_str(), last ? "\n" : "");
    open_ = !last;
  }
  std::fflush(out_);
}

void ProgressLine::message(const std::string& text) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (open_) std::fputc('\n', out_);
  open_ = false;
  std::fprintf(out_, "%s\n", text.c_str());
  std::fflush(out_);
}

}  // namespace captioner::cli
