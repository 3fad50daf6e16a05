#include "core/serve/http_server.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <filesystem>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "core/serve/guarded_http_server.h"
#include "core/serve/web_assets.h"
#include "core/util/errors.h"
#include "core/util/printable.h"

namespace captioner {

namespace {

using httplib::Request;
using httplib::Response;

constexpr int kSocketIdleSeconds = 10;
// The API's paths and the method each answers (the page's files aside).
const std::map<std::string, std::string> kApiMethods = {
    {"/v1/chat/completions", "POST"}, {"/caption", "POST"}, {"/v1/models", "GET"}, {"/healthz", "GET"}};

void set_error(Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(error_json(e.status, e.code, e.what(), e.param), "application/json");
}

// Text as valid UTF-8, each invalid byte replaced by U+FFFD (a folder name may be any bytes;
// JSON must be UTF-8).
std::string valid_utf8(const std::string& text) {
  return nlohmann::json::parse(nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
      .get<std::string>();
}

// The model's name for clients: its run folder's name (or the checkpoint's file name).
ModelCard model_card(const BatchCaptioner& captioner) {
  namespace fs = std::filesystem;
  const fs::path file = captioner.checkpoint();
  const fs::path folder = file.parent_path();
  ModelCard card;
  card.id = valid_utf8(folder.filename().empty() ? file.stem().string() : folder.filename().string());
  std::error_code ec;
  const auto written = fs::last_write_time(file, ec);
  if (!ec)
    card.created = std::chrono::duration_cast<std::chrono::seconds>(
                       (written - fs::file_time_type::clock::now() + std::chrono::system_clock::now()).time_since_epoch())
                       .count();
  card.prompt_tokens = captioner.attends() ? 64 : 1;
  return card;
}

int query_int(const Request& req, const char* name, int fallback) {
  if (!req.has_param(name)) return fallback;
  const std::string v = req.get_param_value(name);
  size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v.size() || n < -(1LL << 31) || n > (1LL << 31))
    throw bad_request(std::string("bad_") + name, std::string(name) + " must be an integer, not '" + excerpt(v, 40) + "'", name);
  return static_cast<int>(n);
}

double query_double(const Request& req, const char* name, double fallback) {
  if (!req.has_param(name)) return fallback;
  const std::string v = req.get_param_value(name);
  size_t used = 0;
  double x = 0;
  try {
    x = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v.size())
    throw bad_request(std::string("bad_") + name, std::string(name) + " must be a number, not '" + excerpt(v, 40) + "'", name);
  return x;
}

// Hugging Face's JSON form's "parameters" over the query's, when the body is JSON and has them.
DecodingParams caption_parameters(const Request& req, DecodingParams p) {
  if (req.get_header_value("Content-Type").rfind("application/json", 0) != 0) return p;
  const auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("parameters") || body["parameters"].is_null()) return p;
  return hugging_face_parameters(body["parameters"].dump(), p);
}

// The image of a /caption request: multipart's first file, JSON {"inputs": base64 or data URL}
// (Hugging Face's JSON form), or the body's bytes.
std::string caption_image(const Request& req) {
  const std::string type = req.get_header_value("Content-Type");
  if (type.rfind("multipart/form-data", 0) == 0) {
    for (const auto& [name, file] : req.files)
      if (!file.content.empty()) return file.content;
    throw bad_request("no_image", "the multipart form carries no file");
  }
  if (type.rfind("application/json", 0) == 0) {
    const auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) throw bad_request("bad_json", "the request body is not a JSON object");
    const auto inputs = body.find("inputs");
    if (inputs == body.end() || !inputs->is_string())
      throw bad_request("no_image", "a JSON body needs \"inputs\": the image in base64", "inputs");
    const std::string& s = inputs->get_ref<const std::string&>();
    return s.rfind("data:", 0) == 0 ? decode_data_url(s) : decode_image_base64(s);
  }
  if (req.body.empty())
    throw bad_request("no_image", "no image: send its bytes as the body (Content-Type: image/...) or as multipart/form-data");
  return req.body;
}

// A streamed caption's text, from the model loop's thread (grow, done, fail) to the
// connection's (next): the pieces of text that each decoded word adds, each with the words it
// holds (for their log-probabilities).
struct StreamPiece {
  std::string text;
  std::vector<CaptionWord> words;
};

class WordStream {
 public:
  void grow(const std::string& text, const CaptionWord* word) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (word) unsent_words_.push_back(*word);
    add(text);
  }
  void done(std::vector<CaptionResult> captions) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!captions.empty() && sent_.empty() && unsent_words_.empty())
      unsent_words_ = captions[0].words();  // all of it, when no word was told (beam search)
    if (!captions.empty()) add(captions[0].text);
    if (!unsent_words_.empty()) pieces_.push_back({"", std::move(unsent_words_)});  // words that added no text
    captions_ = std::move(captions);
    ended_ = true;
    changed_.notify_all();
  }
  void fail(std::exception_ptr error) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::move(error);
    ended_ = true;
    changed_.notify_all();
  }
  // Waits for the first piece or the end, and rethrows a failure that came before any piece.
  void wait_started() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return ended_ || !pieces_.empty(); });
    if (error_ && pieces_.empty()) std::rethrow_exception(error_);
  }
  // The next piece, waiting for it; false at the end, once every piece was taken.
  bool next(StreamPiece& piece) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return ended_ || !pieces_.empty(); });
    if (pieces_.empty()) return false;
    piece = std::move(pieces_.front());
    pieces_.pop_front();
    return true;
  }
  bool failed() const { return error_ != nullptr; }  // after next() returned false
  const std::vector<CaptionResult>& captions() const { return captions_; }

  std::future<void> task;  // the captioning; last, so destroying the stream waits for it first

 private:
  void add(const std::string& text) {
    if (text.size() <= sent_.size() || text.compare(0, sent_.size(), sent_) != 0) return;
    pieces_.push_back({text.substr(sent_.size()), std::move(unsent_words_)});
    unsent_words_.clear();
    sent_ = text;
    changed_.notify_all();
  }
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<StreamPiece> pieces_;
  std::vector<CaptionWord> unsent_words_;
  std::string sent_;
  bool ended_ = false;
  std::vector<CaptionResult> captions_;
  std::exception_ptr error_;
};

}  // namespace

struct CaptionServer::Impl {
  ServeConfig config;
  std::unique_ptr<BatchCaptioner> captioner;
  ModelCard card;
  std::unique_ptr<GuardedHttpServer> http;  // made anew when a bind fails (httplib retires a server after one)
  int port = 0;
  std::mutex state_mutex;  // run() and stop() from different threads
  bool stop_requested = false;
  bool listening = false;

  void log(const std::string& line) const {
    if (config.log)
      config.log(line);
    else
      std::cerr << line << '\n';
  }

  // Runs `handler`, turning every failure into an error answer: the server never stops for one.
  template <typename Fn>
  void answer(Response& res, Fn&& handler) {
    try {
      handler();
    } catch (const ApiError& e) {
      set_error(res, e);
    } catch (const DataError& e) {
      set_error(res, ApiError(400, "bad_image", e.what()));
    } catch (const QueueFull& e) {
      set_error(res, ApiError(503, "queue_full", e.what()));
      res.set_header("Retry-After", "1");
    } catch (const RequestTimeout& e) {
      set_error(res, ApiError(503, "timeout", e.what()));
      res.set_header("Retry-After", "1");
    } catch (const std::exception& e) {
      set_error(res, ApiError(500, "internal_error", std::string("the model failed: ") + e.what()));
    }
  }

  // The first n captions: beam search keeps its width of them.
  std::vector<CaptionResult> caption(const std::string& image, const std::string& name, const DecodeOptions& options, int n,
                                     const BatchCaptioner::TextObserver& on_text = {}) {
    auto captions = captioner->caption(image, name, options, on_text);
    if (static_cast<int>(captions.size()) > n) captions.resize(static_cast<size_t>(n));
    return captions;
  }

  std::string completion_id() {
    static thread_local std::mt19937_64 random{std::random_device{}()};
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(random()));
    return std::string("chatcmpl-") + hex;
  }

  void stream_chat(ChatRequest chat, Response& res);
  void routes();
  void limit_connections(const ConnectionLimits& limits);
  void allow_cross_origin();
  void check_token();
  void handle_errors();
  void set_read_error(const Request& req, Response& res) const;
  void route_api();
  void route_page_and_wrong_methods();
};

CaptionServer::CaptionServer(ServeConfig config) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  if (config.max_body_mb < 1 || config.timeout_s < 1 || config.header_timeout_s < 1)
    throw ConfigError("serve: --max-body-mb, --timeout and --header-timeout must be at least 1");
  if (config.max_in_flight_mb < config.max_body_mb)
    throw ConfigError("serve: --max-in-flight-mb (" + std::to_string(config.max_in_flight_mb) +
                      ") must be at least --max-body-mb (" + std::to_string(config.max_body_mb) + ")");
  config.batching.timeout_ms = config.timeout_s * 1000;
  m.config = std::move(config);
  m.captioner = std::make_unique<BatchCaptioner>(m.config.model, m.config.encoder, m.config.batching);
  m.card = model_card(*m.captioner);
  m.routes();
}

CaptionServer::~CaptionServer() = default;

void CaptionServer::Impl::routes() {
  // Each queued request holds a worker while it waits for the model; the spare workers answer
  // requests beyond the queue (503) and health checks without waiting.
  ConnectionLimits limits;
  limits.workers = config.batching.max_queue + 8;
  limits.max_body_bytes = static_cast<size_t>(config.max_body_mb) << 20;
  limits.in_flight_bytes = static_cast<size_t>(config.max_in_flight_mb) << 20;
  limits.idle_timeout_s = kSocketIdleSeconds;
  limits.header_timeout_s = config.header_timeout_s;
  http = std::make_unique<GuardedHttpServer>(limits, [this](const std::string& line) { log("serve: " + line); });
  limit_connections(limits);
  allow_cross_origin();
  check_token();
  handle_errors();
  route_api();
  route_page_and_wrong_methods();
}

void CaptionServer::Impl::limit_connections(const ConnectionLimits& limits) {
  http->set_payload_max_length(limits.max_body_bytes);
  // Answers' Keep-Alive header: the bounds GuardedHttpServer keeps.
  http->set_keep_alive_timeout(static_cast<time_t>(limits.keep_alive_s));
  http->set_keep_alive_max_count(static_cast<size_t>(limits.keep_alive_max));
  // An answer goes out as headers then body: with Nagle's algorithm the body waits for the
  // client's delayed ACK of the headers (40 ms on Linux), more than a caption takes.
  http->set_tcp_nodelay(true);
  // SO_REUSEADDR alone: httplib's default adds SO_REUSEPORT, with which a second server on a
  // port in use starts without error and silently shares its connections.
  http->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
}

void CaptionServer::Impl::allow_cross_origin() {
  // Cross-origin calls from a page of the configured origin: every answer says it may read it,
  // and a preflight (OPTIONS, which carries no token) is answered here.
  if (!config.cors_origin.empty()) {
    http->set_post_routing_handler([this](const Request&, Response& res) {
      res.set_header("Access-Control-Allow-Origin", config.cors_origin);
      res.set_header("Vary", "Origin");
    });
    http->Options(R"(/.*)", [](const Request&, Response& res) {
      res.status = 204;
      res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
      res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
      res.set_header("Access-Control-Max-Age", "600");
    });
  }
}

void CaptionServer::Impl::check_token() {
  http->set_pre_routing_handler([this](const Request& req, Response& res) {
    const bool api = kApiMethods.count(req.path) > 0 || req.path.rfind("/v1/models/", 0) == 0;
    if (req.method == "OPTIONS") return httplib::Server::HandlerResponse::Unhandled;
    if (config.token.empty() || !api || req.path == "/healthz") return httplib::Server::HandlerResponse::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    const std::string scheme = "Bearer ";
    if (auth.size() > scheme.size() && auth.compare(0, scheme.size(), scheme) == 0 &&
        same_secret(auth.substr(scheme.size()), config.token))
      return httplib::Server::HandlerResponse::Unhandled;
    set_error(res, ApiError(401, "invalid_token",
                            auth.empty() ? "this server needs a token: send Authorization: Bearer <token>"
                                         : "the token is not this server's"));
    res.set_header("WWW-Authenticate", "Bearer");
    return httplib::Server::HandlerResponse::Handled;
  });
}

void CaptionServer::Impl::handle_errors() {
  // Every answer of 400 or more is logged here, whoever made it; httplib's own (a malformed
  // request, a body over a limit, an unknown path) get OpenAI's error shape too, and close the
  // connection: their request's body may be unread. Handled: httplib then adds Content-Length.
  http->set_error_handler(httplib::Server::HandlerWithResponse([this](const Request& req, Response& res) {
    if (res.body.empty()) {
      set_read_error(req, res);
      GuardedHttpServer::close_after_answer();
      res.set_header("Connection", "close");
    }
    const auto error = nlohmann::json::parse(res.body, nullptr, false);
    std::string reason = res.body;
    if (!error.is_discarded() && error.contains("error") && error["error"].contains("message"))
      reason = error["error"]["message"].get<std::string>();
    log("serve: " + std::to_string(res.status) + " " + req.method + " " + req.path + " from " + req.remote_addr + ": " + reason);
    return httplib::Server::HandlerResponse::Handled;
  }));
  http->set_exception_handler([](const Request&, Response& res, const std::exception_ptr&) {
    set_error(res, ApiError(500, "internal_error", "the request failed inside the server"));
  });
}

// The answer to a request httplib could not read, or would not route.
void CaptionServer::Impl::set_read_error(const Request& req, Response& res) const {
  std::string message = "the request is malformed";
  const std::string limit = std::to_string(config.max_body_mb) + " MB";
  switch (GuardedHttpServer::current_fault()) {
    case BodyFault::too_large:
      res.status = 413;
      break;
    case BodyFault::over_budget:
      res.status = 503;
      message = "the server is reading too many request bodies at once (" + std::to_string(config.max_in_flight_mb) +
                " MB together); retry";
      res.set_header("Retry-After", "1");
      break;
    case BodyFault::too_slow:
      res.status = 408;
      message = "the request body stopped, or arrived slower than 16 KB/s";
      break;
    case BodyFault::none:
      break;
  }
  if (res.status == 404) message = "no such endpoint: " + req.method + " " + req.path;
  if (res.status == 413)
    message = "the request body is too large: the limit is " + limit +
              ", and 8 KB for a form-urlencoded body (send images as image/*, JSON or multipart/form-data)";
  res.set_content(error_json(res.status, std::to_string(res.status), message), "application/json");
}

void CaptionServer::Impl::route_api() {
  http->Post("/v1/chat/completions", [this](const Request& req, Response& res) {
    answer(res, [&] {
      ChatRequest chat = parse_chat_request(req.body, config.limits);
      if (chat.stream && chat.params.n == 1) return stream_chat(std::move(chat), res);
      const auto captions = caption(chat.image, "image_url", chat.decoding, chat.params.n);
      const int64_t created = std::time(nullptr);
      if (chat.stream)
        res.set_content(chat_response_events(captions, card, completion_id(), created, chat.include_usage, chat.logprobs),
                        "text/event-stream");
      else
        res.set_content(chat_response_json(captions, card, completion_id(), created, chat.logprobs), "application/json");
    });
  });
  http->Post("/caption", [this](const Request& req, Response& res) {
    answer(res, [&] {
      DecodingParams p;
      p.temperature = query_double(req, "temperature", 0);
      p.n = query_int(req, "n", 1);
      p.beam_width = query_int(req, "beam_width", 0);
      p.top_k = query_int(req, "top_k", 0);
      p.max_tokens = query_int(req, "max_tokens", p.max_tokens);
      p.seed = query_int(req, "seed", -1);
      p = caption_parameters(req, p);
      const bool words = query_int(req, "attention", 0) != 0;
      const DecodeOptions options = decode_options(p, config.limits);  // refused before the image is read
      res.set_content(caption_response_json(caption(caption_image(req), "image", options, p.n), words, p.n > 1),
                      "application/json");
    });
  });
  http->Get("/v1/models", [this](const Request&, Response& res) { res.set_content(models_json(card), "application/json"); });
  http->Get(R"(/v1/models/(.+))", [this](const Request& req, Response& res) {
    answer(res, [&] {
      const std::string id = req.matches[1];
      if (id != card.id)
        throw ApiError(404, "model_not_found", "no model '" + valid_utf8(id) + "' here; this server has '" + card.id + "'",
                       "model");
      res.set_content(model_json(card), "application/json");
    });
  });
  http->Get("/healthz", [this](const Request&, Response& res) {
    const BatchStats stats = captioner->stats();
    res.set_content(nlohmann::json{{"status", "ok"},
                                   {"model", card.id},
                                   {"pending", stats.pending},
                                   {"captioned", stats.images},
                                   {"batches", stats.batches},
                                   {"body_bytes_in_flight", http->body_bytes_in_flight()}}
                        .dump(),
                    "application/json");
  });
}

// One caption streamed as it is decoded: each word goes out as the model loop decodes it. The
// answer starts with the first word, so a refused image is still a 400 and not a broken stream.
void CaptionServer::Impl::stream_chat(ChatRequest chat, Response& res) {
  auto words = std::make_shared<WordStream>();
  WordStream* stream = words.get();
  words->task = std::async(std::launch::async, [this, stream, image = std::move(chat.image), decoding = chat.decoding] {
    try {
      stream->done(caption(image, "image_url", decoding, 1,
                           [stream](size_t, const std::string& text, const CaptionWord* word) { stream->grow(text, word); }));
    } catch (...) {
      stream->fail(std::current_exception());
    }
  });
  words->wait_started();
  const ChatEvents events(card, completion_id(), std::time(nullptr));
  res.set_chunked_content_provider("text/event-stream", [words, events, include_usage = chat.include_usage,
                                                         logprobs = chat.logprobs](size_t, httplib::DataSink& sink) {
    auto send = [&sink](const std::string& event) { return sink.write(event.data(), event.size()); };
    if (!send(events.start(0))) return false;
    StreamPiece piece;
    while (words->next(piece))
      if (!send(events.content(0, piece.text, logprobs ? logprobs_json(piece.words) : nlohmann::json(nullptr)))) return false;
    if (words->failed()) {
      send("data: " + error_json(500, "internal_error", "the caption failed while streaming") + "\n\n");
    } else if (!send(events.finish(0, words->captions()[0])) || !send(events.end(words->captions(), include_usage))) {
      return false;
    }
    sink.done();
    return true;
  });
}

void CaptionServer::Impl::route_page_and_wrong_methods() {
  for (const auto& asset : web_assets())
    http->Get(asset.path, [&asset](const Request&, Response& res) {
      res.set_header("Cache-Control", "no-cache");
      res.set_content(asset.data, asset.content_type.c_str());
    });

  // A known path with the wrong method: 405 naming the right one, not 404.
  for (const auto& [path, method] : kApiMethods) {
    auto refuse = [path = path, method = method](const Request& req, Response& res) {
      res.set_header("Allow", method);
      set_error(res, ApiError(405, "method_not_allowed", req.method + " is not allowed on " + path + "; use " + method));
    };
    if (method != "GET") http->Get(path, refuse);
    if (method != "POST") http->Post(path, refuse);
    http->Put(path, refuse);
    http->Patch(path, refuse);
    http->Delete(path, refuse);
  }
}

int CaptionServer::bind(bool fallback_to_any) {
  Impl& m = *impl_;
  const std::string where = m.config.host + ":" + std::to_string(m.config.port);
  if (m.config.port < 0 || m.config.port > 65535)
    throw ConfigError("serve: port " + std::to_string(m.config.port) + " is not a port");
  if (m.config.port == 0) {
    m.port = m.http->bind_to_any_port(m.config.host);
    if (m.port < 0) throw ConfigError("serve: cannot listen on " + m.config.host + " (not an address of this machine?)");
  } else {
    const std::string refusal = "serve: cannot listen on " + where + " (port in use, or not an address of this machine)";
    if (m.http->bind_to_port(m.config.host, m.config.port)) {
      m.port = m.config.port;
    } else {
      if (!fallback_to_any) throw ConfigError(refusal);
      m.routes();  // httplib 0.18 retires a server whose bind failed: a fresh one, with the same routes
      m.port = m.http->bind_to_any_port(m.config.host);
      if (m.port <= 0) throw ConfigError(refusal);
      m.log("serve: port " + std::to_string(m.config.port) + " is in use; listening on " + std::to_string(m.port));
    }
  }
  return m.port;
}

void CaptionServer::run() {
  Impl& m = *impl_;
  if (m.port == 0) bind();
  {
    std::lock_guard<std::mutex> lock(m.state_mutex);
    if (m.stop_requested) return;
    m.listening = true;
  }
  // HTTP on its own thread, the model on this one (see BatchCaptioner::run). Once the listener
  // has answered its requests in flight, the model loop answers what is left and returns.
  std::thread http_thread([&m] {
    m.http->listen_after_bind();
    m.captioner->stop();
  });
  m.captioner->run();
  http_thread.join();
  std::lock_guard<std::mutex> lock(m.state_mutex);
  m.listening = false;
}

void CaptionServer::stop() {
  Impl& m = *impl_;
  std::unique_lock<std::mutex> lock(m.state_mutex);
  m.stop_requested = true;
  // httplib ignores a stop that comes before its loop runs: wait for the loop (or its end).
  while (m.listening && !m.http->is_running()) {
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    lock.lock();
  }
  if (m.listening) m.http->stop();
}

std::string CaptionServer::address() const {
  const std::string& host = impl_->config.host;
  const bool v6 = host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(impl_->port) + "/";
}

const ModelCard& CaptionServer::model() const { return impl_->card; }
const BatchCaptioner& CaptionServer::captioner() const { return *impl_->captioner; }

}  // namespace captioner
