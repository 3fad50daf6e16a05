#pragma once
// Text from data (captions, file names) made safe to print to a terminal: control characters
// (ESC sequences, BEL, NUL, ...) and the Unicode marks that reorder or hide text (bidirectional
// overrides and isolates) are written as visible escapes, \x1b or \u202e, so a crafted caption
// cannot move the cursor, recolour the screen or show text other than it is.
#include <string>

namespace captioner {

std::string printable(const std::string& text);

// A value from data quoted in a message: printable, and at most `max_bytes` of it (cut at a
// character boundary, with "… (N bytes)" saying how long it was), so a crafted megabyte-long
// value cannot make a megabyte-long error line.
std::string excerpt(const std::string& text, size_t max_bytes = 60);

}  // namespace captioner
