#include "core/util/printable.h"

#include <cstdio>
#include <string>

namespace captioner {

namespace {

// U+202A..U+202E (embeddings and overrides) and U+2066..U+2069 (isolates), as UTF-8 E2 80 xx / E2 81 xx.
int bidi_mark(const std::string& text, size_t i) {
  if (i + 2 >= text.size() || static_cast<unsigned char>(text[i]) != 0xE2) return 0;
  const unsigned char b1 = static_cast<unsigned char>(text[i + 1]), b2 = static_cast<unsigned char>(text[i + 2]);
  if (b1 == 0x80 && b2 >= 0xAA && b2 <= 0xAE) return 0x2000 + (b2 - 0x80);
  if (b1 == 0x81 && b2 >= 0xA6 && b2 <= 0xA9) return 0x2040 + (b2 - 0x80);
  return 0;
}

}  // namespace

std::string printable(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  char escape[16];
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) {
      std::snprintf(escape, sizeof escape, "\\x%02x", c);
      out += escape;
    } else if (const int mark = bidi_mark(text, i); mark != 0) {
      std::snprintf(escape, sizeof escape, "\\u%04x", mark);
      out += escape;
      i += 2;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string excerpt(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return printable(text);
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
  return printable(text.substr(0, cut)) + "\u2026 (" + std::to_string(text.size()) + " bytes)";
}

}  // namespace captioner
