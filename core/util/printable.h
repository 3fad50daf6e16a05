#pragma once
// Text from data (captions, file names) made safe to print to a terminal: control characters
// (ESC sequences, BEL, NUL, ...) and the Unicode marks that reorder or hide text (bidirectional
// overrides and isolates) are written as visible escapes, \x1b or \u202e, so a crafted caption
// cannot move the cursor, recolour the screen or show text other than it is.
#include <string>

namespace captioner {

std::string printable(const std::string& text);

}  // namespace captioner
