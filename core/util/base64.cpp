#include "core/util/base64.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace captioner {

std::string decode_base64(const std::string& text) {
  static const char* const kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t end = text.size();
  size_t padding = 0;
  while (end > 0 && text[end - 1] == '=' && padding < 2) --end, ++padding;
  const size_t bad = text.find_first_not_of(kAlphabet);
  if (bad < end) throw std::invalid_argument("invalid base64 character at offset " + std::to_string(bad));
  if (end % 4 == 1 || (padding && (end + padding) % 4 != 0))
    throw std::invalid_argument("base64 data of a wrong length (" + std::to_string(text.size()) + " characters)");
  if (end == 0) return {};
  // OpenSSL decodes whole groups of four: the padding is completed, then its zero bytes dropped.
  std::string padded = text.substr(0, end);
  const size_t missing = (4 - end % 4) % 4;
  padded.append(missing, '=');
  std::string out(padded.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(padded.data()), static_cast<int>(padded.size()));
  if (n < 0) throw std::invalid_argument("not base64");
  out.resize(static_cast<size_t>(n) - missing);
  return out;
}

}  // namespace captioner
