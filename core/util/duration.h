#pragma once
// Durations as people read them in progress lines and the status bar: "42s", "3m07s", "1h05m";
// "?" for an unknown or negative one. The one rule for the CLI and the desktop app.
#include <string>

namespace captioner {

std::string format_duration(double seconds);

}  // namespace captioner
