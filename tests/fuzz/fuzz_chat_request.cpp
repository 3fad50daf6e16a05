// The caption service's request bodies: a chat-completions body, and the same bytes as base64.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "core/serve/api.h"
#include "core/util/base64.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  try {
    captioner::parse_chat_request(body);
  } catch (const captioner::ApiError&) {  // a refusal, with its status and reason
  }
  try {
    captioner::decode_base64(body);
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
