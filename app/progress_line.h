#pragma once
// Progress on stderr as each reader expects it: on a terminal, one line redrawn in place; in a
// log, a pipe or the journal, plain lines at the caller's pace (every N items, and the last).
// Lines that must stay (notes, warnings, errors) go through message(), which first ends a line
// being redrawn, so it never hides them.
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

namespace captioner::cli {

class ProgressLine {
 public:
  // The process's one, on stderr: a terminal when stderr is one and TERM is not "dumb".
  static ProgressLine& on_stderr();
  ProgressLine(std::FILE* out, bool terminal);

  // `due`: the caller's pace for plain lines; `last`: the end of this progress (a terminal keeps it).
  void show(const std::string& text, bool due, bool last = false);
  void message(const std::string& text);

 private:
  std::FILE* out_;
  bool terminal_;
  bool open_ = false;  // a redrawn line is on the screen, not ended
  std::chrono::steady_clock::time_point drawn_{};
  std::mutex mutex_;
};

}  // namespace captioner::cli
