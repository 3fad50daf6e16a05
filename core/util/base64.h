#pragma once
// Base64 (RFC 4648's standard alphabet) to bytes, for encoder weights embedded in JavaScript and
// images sent as data: URLs.
#include <string>

namespace captioner {

// Strict: only A-Z a-z 0-9 + /, then at most two '=' that complete the last group (padding may
// be left out). Throws std::invalid_argument saying what is wrong.
std::string decode_base64(const std::string& text);

}  // namespace captioner
