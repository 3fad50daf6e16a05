#pragma once
// The service's wire formats, apart from any HTTP code: OpenAI's chat completions (images as
// data URLs), Hugging Face's image-to-text answer, the model list and the error object. Pure
// functions of strings, so every request shape is tested without a socket.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/infer/caption_service.h"

namespace captioner {

// A request the service refuses: the HTTP status and OpenAI's error code.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, const std::string& message, std::string param = "")
      : std::runtime_error(message), status(status), code(std::move(code)), param(std::move(param)) {}
  int status;
  std::string code;   // a short machine-readable reason: no_image, bad_base64, ...
  std::string param;  // the request field at fault ("temperature", "messages", ...); empty: none
};
ApiError bad_request(const std::string& code, const std::string& message, const std::string& param = "");

// OpenAI's error type for an HTTP status: invalid_request_error (4xx), authentication_error
// (401), not_found_error, method_not_allowed, request_too_large, server_busy (503), server_error.
const char* error_type(int status);

// {"error": {"message", "type", "param", "code"}}: OpenAI's error shape, the type from the status,
// param null when no one field is at fault.
std::string error_json(int status, const std::string& code, const std::string& message, const std::string& param = "");

// Limits on what one request may ask for.
struct RequestLimits {
  int max_choices = 16;  // n, samples, beam width
  int max_tokens = 100;
};

// The decoding fields of a request as the wire carries them (OpenAI's and Hugging Face's names),
// and how they become the decoder's DecodeOptions, one rule for both endpoints:
// temperature absent or 0 is greedy, or beam search when a beam width or n > 1 asks for several
// captions; temperature > 0 samples n captions. max_tokens above the limit is lowered to it (the
// caption then ends with finish_reason "length" if it runs that long), as clients send generous
// limits; other out-of-range values are refused (ApiError 400 naming the field).
struct DecodingParams {
  double temperature = 0;
  int n = 1;
  int beam_width = 0;  // 0: not asked
  int top_k = 0;
  int max_tokens = 20;
  int64_t seed = -1;  // -1: a fresh seed per request
};
DecodeOptions decode_options(const DecodingParams& params, const RequestLimits& limits = {});

struct ChatRequest {
  std::string image;  // the image's bytes (decoded from its data URL)
  DecodingParams params;
  DecodeOptions decoding;  // decode_options(params)
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage: a last chunk with the usage
  bool logprobs = false;       // each choice's tokens with their log-probabilities
};

// Hugging Face's JSON "parameters" (max_new_tokens, temperature, do_sample, num_beams,
// num_return_sequences, top_k, seed) over `base`. Throws ApiError 400 naming the field.
DecodingParams hugging_face_parameters(const std::string& parameters_json, DecodingParams base);

// Parses a chat-completions body. The image is the last image_url part of the messages (a
// conversation that carries earlier images is captioned on its newest); only data: URLs with
// base64 data are accepted, as the service fetches nothing. Text parts are read past: the model
// captions, it does not follow instructions. Throws ApiError 400 naming what is wrong.
ChatRequest parse_chat_request(const std::string& body, const RequestLimits& limits = {});

// The data of a "data:<type>;base64,<data>" URL. Throws ApiError 400.
std::string decode_data_url(const std::string& url);
// An image sent as base64 (decode_base64's strict rule). Throws ApiError 400.
std::string decode_image_base64(const std::string& text);

struct ModelCard {
  std::string id;
  int64_t created = 0;        // Unix time of the checkpoint
  int64_t prompt_tokens = 1;  // what the decoder reads per image: 64 grid cells, or 1 vector
};

// OpenAI's chat.completion object: one choice per caption, finish_reason "stop" when the caption
// ended with END and "length" when it ran out of tokens; usage counts generated tokens (END
// included) and the image as model.prompt_tokens.
// With logprobs, each choice's "logprobs" is {"content": [{"token", "logprob", "bytes",
// "top_logprobs": [{"token", "logprob", "bytes"}, ...]}]}, a word each; top_logprobs holds the
// words the model found likeliest there, as many as the request's top_logprobs (0 to 20).
std::string chat_response_json(const std::vector<CaptionResult>& captions, const ModelCard& model, const std::string& id,
                               int64_t created, bool logprobs = false);
// A streamed answer's server-sent events (chat.completion.chunk objects), one at a time, so that
// words can go out as they are decoded: per choice start, content pieces, finish; then end
// (with include_usage, a chunk with no choices and the usage; then "data: [DONE]").
class ChatEvents {
 public:
  ChatEvents(const ModelCard& model, std::string id, int64_t created);
  std::string start(size_t index) const;
  std::string content(size_t index, const std::string& piece) const;
  // With the log-probabilities (logprobs_json) of the words the piece adds, in the chunk's choice.
  std::string content(size_t index, const std::string& piece, const nlohmann::json& logprobs) const;
  std::string finish(size_t index, const CaptionResult& caption) const;
  std::string end(const std::vector<CaptionResult>& captions, bool include_usage) const;

 private:
  std::string chunk(size_t index, const nlohmann::json& delta, const nlohmann::json& finish,
                    const nlohmann::json* logprobs = nullptr) const;
  const ModelCard& model_;
  std::string id_;
  int64_t created_;
};

// A whole answer as those events, a word per content chunk.
// With include_usage, a last chunk before [DONE] has no choices and the usage.
std::string chat_response_events(const std::vector<CaptionResult>& captions, const ModelCard& model, const std::string& id,
                                 int64_t created, bool include_usage = false, bool logprobs = false);
// A choice's "logprobs" for these words: {"content": [{"token", "logprob", "bytes", "top_logprobs"}]}.
nlohmann::json logprobs_json(const std::vector<CaptionWord>& words);

// Hugging Face's image-to-text answer: {"generated_text": ...} for one caption (the task's
// output as Hugging Face's current clients read it), [{"generated_text": ...}, ...] when
// `several` were asked for; with `words`, each entry also lists its words with their
// probability and (attention models) the word's weights over the grid cells, row-major.
std::string caption_response_json(const std::vector<CaptionResult>& captions, bool words, bool several = false);

// OpenAI's model list: {"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}.
std::string models_json(const ModelCard& model);
// One model as GET /v1/models/{id} answers: {"id", "object": "model", "created", "owned_by"}.
std::string model_json(const ModelCard& model);

// Constant-time comparison of a presented secret with the expected one (the time does not
// depend on where they first differ).
bool same_secret(const std::string& presented, const std::string& expected);

}  // namespace captioner
