#include "core/serve/api.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/util/base64.h"

namespace captioner {

using nlohmann::json;

ApiError bad_request(const std::string& code, const std::string& message, const std::string& param) {
  return ApiError(400, code, message, param);
}

const char* error_type(int status) {
  switch (status) {
    case 401:
      return "authentication_error";
    case 404:
      return "not_found_error";
    case 405:
      return "method_not_allowed";
    case 413:
      return "request_too_large";
    case 503:
      return "server_busy";
    default:
      return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

std::string error_json(int status, const std::string& code, const std::string& message, const std::string& param) {
  return json{{"error",
               {{"message", message},
                {"type", error_type(status)},
                {"param", param.empty() ? json(nullptr) : json(param)},
                {"code", code}}}}
      .dump();
}

DecodeOptions decode_options(const DecodingParams& p, const RequestLimits& limits) {
  if (!std::isfinite(p.temperature) || p.temperature < 0 || p.temperature > 100)
    throw bad_request("bad_temperature", "temperature must be between 0 and 100 (0: greedy)", "temperature");
  if (p.n < 1 || p.n > limits.max_choices)
    throw bad_request("bad_n", "n must be between 1 and " + std::to_string(limits.max_choices), "n");
  if (p.beam_width < 0 || p.beam_width > limits.max_choices)
    throw bad_request("bad_beam_width", "beam_width must be between 1 and " + std::to_string(limits.max_choices), "beam_width");
  if (p.top_k < 0) throw bad_request("bad_top_k", "top_k must be 0 (all words) or more", "top_k");
  if (p.max_tokens < 1) throw bad_request("bad_max_tokens", "max_tokens must be at least 1", "max_tokens");
  DecodeOptions r;
  r.max_len = std::min(p.max_tokens, limits.max_tokens);
  r.top_k = p.top_k;
  r.samples = p.n;
  r.temperature = p.temperature > 0 ? p.temperature : 1.0;
  if (p.temperature > 0) {
    r.mode = DecodeMode::Sample;
  } else if (p.beam_width > 0 || p.n > 1) {
    r.mode = DecodeMode::Beam;
    r.beam_width = std::max(p.beam_width, p.n);
  } else {
    r.mode = DecodeMode::Greedy;
  }
  r.seed = p.seed >= 0 ? static_cast<uint64_t>(p.seed) : std::random_device{}();
  return r;
}

std::string decode_image_base64(const std::string& text) {
  std::string bytes;
  try {
    bytes = decode_base64(text);
  } catch (const std::invalid_argument& e) {
    throw bad_request("bad_base64", std::string("the image data is not base64: ") + e.what());
  }
  if (bytes.empty()) throw bad_request("no_image", "the image data is empty");
  return bytes;
}

std::string decode_data_url(const std::string& url) {
  if (url.rfind("data:", 0) != 0)
    throw bad_request("unsupported_image_url",
                      "image_url must be a data: URL (data:image/png;base64,...); the service fetches no URLs");
  const size_t comma = url.find(',');
  if (comma == std::string::npos) throw bad_request("bad_data_url", "the data: URL has no ',' before its data");
  const std::string header = url.substr(5, comma - 5);
  if (header.size() < 7 || header.compare(header.size() - 7, 7, ";base64") != 0)
    throw bad_request("bad_data_url", "the data: URL must carry base64 data (data:image/...;base64,...)");
  return decode_image_base64(url.substr(comma + 1));
}

namespace {

// A JSON number field as an int within the int range, or `fallback` when absent or null.
int64_t integer_field(const json& body, const char* name, int64_t fallback) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_number_integer()) throw bad_request("bad_" + std::string(name), std::string(name) + " must be an integer", name);
  const int64_t v = it->get<int64_t>();
  if (v < -(1LL << 31) || v > (1LL << 31))
    throw bad_request("bad_" + std::string(name), std::string(name) + " is out of range", name);
  return v;
}

bool boolean_field(const json& body, const char* name) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return false;
  if (!it->is_boolean()) throw bad_request("bad_" + std::string(name), std::string(name) + " must be true or false", name);
  return it->get<bool>();
}

const json* image_url_of(const json& part) {
  if (!part.is_object()) return nullptr;
  const auto type = part.find("type");
  if (type == part.end() || !type->is_string() || type->get_ref<const std::string&>() != "image_url") return nullptr;
  const auto it = part.find("image_url");
  if (it == part.end()) throw bad_request("bad_image_url", "an image_url part has no image_url field");
  if (it->is_string()) return &*it;  // some clients send the URL itself
  if (it->is_object() && it->contains("url") && (*it)["url"].is_string()) return &(*it)["url"];
  throw bad_request("bad_image_url", "image_url must be {\"url\": \"data:image/...;base64,...\"}");
}

}  // namespace

ChatRequest parse_chat_request(const std::string& body, const RequestLimits& limits) {
  json request = json::parse(body, nullptr, false);
  if (request.is_discarded()) throw bad_request("bad_json", "the request body is not JSON");
  if (!request.is_object()) throw bad_request("bad_json", "the request body must be a JSON object");
  const auto messages = request.find("messages");
  if (messages == request.end() || !messages->is_array() || messages->empty())
    throw bad_request("no_messages", "messages must be a non-empty array", "messages");
  const json* url = nullptr;
  for (const auto& message : *messages) {
    if (!message.is_object()) throw bad_request("bad_message", "each message must be an object");
    const auto content = message.find("content");
    if (content == message.end() || !content->is_array()) continue;  // a string or null: text only
    for (const auto& part : *content)
      if (const json* u = image_url_of(part)) url = u;
  }
  if (!url)
    throw bad_request("no_image", "no image in the messages: add a content part {\"type\": \"image_url\", ...}", "messages");

  ChatRequest out;
  DecodingParams& p = out.params;
  if (const auto t = request.find("temperature"); t != request.end() && !t->is_null()) {
    if (!t->is_number()) throw bad_request("bad_temperature", "temperature must be a number");
    p.temperature = t->get<double>();
  }
  p.n = static_cast<int>(integer_field(request, "n", 1));
  p.beam_width = static_cast<int>(integer_field(request, "beam_width", 0));
  p.top_k = static_cast<int>(integer_field(request, "top_k", 0));
  p.max_tokens = static_cast<int>(integer_field(request, "max_completion_tokens", integer_field(request, "max_tokens", 20)));
  p.seed = integer_field(request, "seed", -1);
  out.stream = boolean_field(request, "stream");
  if (const auto o = request.find("stream_options"); o != request.end() && !o->is_null()) {
    if (!o->is_object()) throw bad_request("bad_stream_options", "stream_options must be an object", "stream_options");
    out.include_usage = boolean_field(*o, "include_usage");
  }
  out.logprobs = boolean_field(request, "logprobs");
  const int64_t top = integer_field(request, "top_logprobs", 0);
  if (top < 0 || top > 20) throw bad_request("bad_top_logprobs", "top_logprobs must be between 0 and 20", "top_logprobs");
  if (top > 0 && !out.logprobs) throw bad_request("bad_top_logprobs", "top_logprobs needs logprobs: true", "top_logprobs");
  out.decoding = decode_options(p, limits);  // refuses out-of-range values before the image is decoded
  out.decoding.top_alternatives = static_cast<int>(top);
  out.image = decode_data_url(url->get<std::string>());
  return out;
}

DecodingParams hugging_face_parameters(const std::string& parameters_json, DecodingParams base) {
  DecodingParams& p = base;
  const json parameters = json::parse(parameters_json, nullptr, false);
  if (parameters.is_discarded() || !parameters.is_object())
    throw bad_request("bad_parameters", "parameters must be a JSON object", "parameters");
  p.max_tokens = static_cast<int>(integer_field(parameters, "max_new_tokens", p.max_tokens));
  p.top_k = static_cast<int>(integer_field(parameters, "top_k", p.top_k));
  p.seed = integer_field(parameters, "seed", p.seed);
  const int64_t sequences = integer_field(parameters, "num_return_sequences", p.n);
  const int64_t beams = integer_field(parameters, "num_beams", 0);
  if (beams > 1) p.beam_width = static_cast<int>(beams);
  p.n = static_cast<int>(sequences);
  const bool sample = boolean_field(parameters, "do_sample");
  if (const auto t = parameters.find("temperature"); t != parameters.end() && !t->is_null()) {
    if (!t->is_number()) throw bad_request("bad_temperature", "temperature must be a number", "temperature");
    p.temperature = t->get<double>();
  } else if (sample) {
    p.temperature = 1.0;  // do_sample alone samples at the model's own distribution
  }
  if (!sample && parameters.contains("do_sample")) p.temperature = 0;  // do_sample false: greedy or beam
  return p;
}

namespace {

const char* finish_reason(const CaptionResult& c) { return c.finished ? "stop" : "length"; }

int64_t completion_tokens(const std::vector<CaptionResult>& captions) {
  int64_t n = 0;
  for (const auto& c : captions) n += static_cast<int64_t>(c.tokens.size());
  return n;
}

json utf8_bytes(const std::string& text) {
  json bytes = json::array();
  for (unsigned char c : text) bytes.push_back(c);
  return bytes;
}

json token_logprob(const CaptionWord& w) {
  json top = json::array();
  for (const auto& [word, log_prob] : w.alternatives)
    top.push_back({{"token", word}, {"logprob", log_prob}, {"bytes", utf8_bytes(word)}});
  return {{"token", w.word}, {"logprob", w.log_prob}, {"bytes", utf8_bytes(w.word)}, {"top_logprobs", top}};
}

}  // namespace

json logprobs_json(const std::vector<CaptionWord>& words) {
  json content = json::array();
  for (const auto& w : words) content.push_back(token_logprob(w));
  return {{"content", content}};
}

std::string chat_response_json(const std::vector<CaptionResult>& captions, const ModelCard& model, const std::string& id,
                               int64_t created, bool logprobs) {
  json choices = json::array();
  for (size_t i = 0; i < captions.size(); ++i)
    choices.push_back({{"index", i},
                       {"message", {{"role", "assistant"}, {"content", captions[i].text}}},
                       {"logprobs", logprobs ? logprobs_json(captions[i].words()) : json(nullptr)},
                       {"finish_reason", finish_reason(captions[i])}});
  const int64_t completion = completion_tokens(captions);
  return json{{"id", id},
              {"object", "chat.completion"},
              {"created", created},
              {"model", model.id},
              {"choices", choices},
              {"usage",
               {{"prompt_tokens", model.prompt_tokens},
                {"completion_tokens", completion},
                {"total_tokens", model.prompt_tokens + completion}}}}
      .dump();
}

ChatEvents::ChatEvents(const ModelCard& model, std::string id, int64_t created)
    : model_(model), id_(std::move(id)), created_(created) {}

std::string ChatEvents::chunk(size_t index, const json& delta, const json& finish, const json* logprobs) const {
  json choice = {{"index", index}, {"delta", delta}, {"finish_reason", finish}};
  if (logprobs && !logprobs->is_null()) choice["logprobs"] = *logprobs;
  const json event = {{"id", id_},
                      {"object", "chat.completion.chunk"},
                      {"created", created_},
                      {"model", model_.id},
                      {"choices", json::array({choice})}};
  return "data: " + event.dump() + "\n\n";
}

std::string ChatEvents::start(size_t index) const { return chunk(index, {{"role", "assistant"}, {"content", ""}}, nullptr); }

std::string ChatEvents::content(size_t index, const std::string& piece) const {
  return chunk(index, {{"content", piece}}, nullptr);
}

std::string ChatEvents::content(size_t index, const std::string& piece, const json& logprobs) const {
  return chunk(index, {{"content", piece}}, nullptr, &logprobs);
}

std::string ChatEvents::finish(size_t index, const CaptionResult& caption) const {
  return chunk(index, json::object(), finish_reason(caption));
}

std::string ChatEvents::end(const std::vector<CaptionResult>& captions, bool include_usage) const {
  std::string out;
  if (include_usage) {
    const int64_t completion = completion_tokens(captions);
    const json usage = {{"id", id_},
                        {"object", "chat.completion.chunk"},
                        {"created", created_},
                        {"model", model_.id},
                        {"choices", json::array()},
                        {"usage",
                         {{"prompt_tokens", model_.prompt_tokens},
                          {"completion_tokens", completion},
                          {"total_tokens", model_.prompt_tokens + completion}}}};
    out += "data: " + usage.dump() + "\n\n";
  }
  return out + "data: [DONE]\n\n";
}

std::string chat_response_events(const std::vector<CaptionResult>& captions, const ModelCard& model, const std::string& id,
                                 int64_t created, bool include_usage, bool logprobs) {
  const ChatEvents events(model, id, created);
  std::string out;
  for (size_t i = 0; i < captions.size(); ++i) {
    out += events.start(i);
    // The caption's text a word at a time, split where the text has spaces, so the pieces
    // join to exactly the non-streamed content; the first piece carries every word's
    // log-probabilities (clients join the chunks' lists).
    const std::string& text = captions[i].text;
    for (size_t start = 0; start < text.size();) {
      const size_t space = text.find(' ', start + 1);
      const size_t end = space == std::string::npos ? text.size() : space;
      out += events.content(i, text.substr(start, end - start),
                            logprobs && start == 0 ? logprobs_json(captions[i].words()) : json(nullptr));
      start = end;
    }
    out += events.finish(i, captions[i]);
  }
  return out + events.end(captions, include_usage);
}

std::string caption_response_json(const std::vector<CaptionResult>& captions, bool words, bool several) {
  json out = json::array();
  for (const auto& c : captions) {
    json entry = {{"generated_text", c.text}};
    if (words) {
      json list = json::array();
      for (const auto& w : c.words()) {
        json word = {{"word", w.word}, {"probability", std::exp(static_cast<double>(w.log_prob))}};
        if (!w.attention.empty()) word["attention"] = w.attention;
        list.push_back(word);
      }
      entry["words"] = list;
      entry["finished"] = c.finished;
      entry["log_prob"] = c.log_prob;
      entry["unsure"] = c.unsure;
    }
    out.push_back(entry);
  }
  return several || out.size() != 1 ? out.dump() : out[0].dump();
}

std::string model_json(const ModelCard& model) {
  return json{{"id", model.id}, {"object", "model"}, {"created", model.created}, {"owned_by", "captioner"}}.dump();
}

std::string models_json(const ModelCard& model) {
  return json{{"object", "list"}, {"data", json::array({json::parse(model_json(model))})}}.dump();
}

bool same_secret(const std::string& presented, const std::string& expected) {
  // Both sides hashed to a fixed length first, so neither the comparison's time nor an early
  // length check tells how much of the secret matched.
  unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
  unsigned int na = 0, nb = 0;
  EVP_Digest(presented.data(), presented.size(), a, &na, EVP_sha256(), nullptr);
  EVP_Digest(expected.data(), expected.size(), b, &nb, EVP_sha256(), nullptr);
  return na == nb && CRYPTO_memcmp(a, b, na) == 0;
}

}  // namespace captioner
