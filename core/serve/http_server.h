#pragma once
// `captioner serve`: a trained model behind HTTP, for the clients people already have.
//   POST /v1/chat/completions  OpenAI's chat completions, the image as a data: URL (stream too)
//   GET  /v1/models            the loaded model, in OpenAI's list shape
//   GET  /v1/models/{id}       that model, or 404
//   POST /caption              Hugging Face's image-to-text: image bytes in, [{"generated_text"}] out
//   GET  /healthz              {"status": "ok", "model", "pending", "captioned", "batches",
//                              "body_bytes_in_flight"}
//   GET  /                     the web page (resources/web, built into the binary)
// Every refused request gets a 4xx/5xx answer in OpenAI's error shape and a log line; the
// server carries on. HTTP itself is cpp-httplib's; nothing here parses HTTP.
#include <functional>
#include <memory>
#include <string>

#include "core/serve/api.h"
#include "core/serve/batch_captioner.h"

namespace captioner {

struct ServeConfig {
  std::string model;    // run folder or checkpoint
  std::string encoder;  // empty: the installed one
  std::string host = "127.0.0.1";
  int port = 8080;          // 0: any free port (bind() says which)
  std::string token;        // non-empty: the API needs "Authorization: Bearer <token>"
  std::string cors_origin;  // non-empty: pages of this origin (or "*") may call the API from a browser
  int max_body_mb = 20;
  int max_in_flight_mb = 160;  // request bodies being read or answered, together (503 past it)
  int header_timeout_s = 10;   // a request's line and headers, from its first byte (408 after)
  int timeout_s = 60;          // a request's longest wait for its captions (503 after)
  BatchOptions batching;
  RequestLimits limits;
  // A line for each refused request (status, method, path, client, reason) and each event.
  std::function<void(const std::string&)> log;
};

class CaptionServer {
 public:
  // Loads the model and its encoder; throws as BatchCaptioner does, or ConfigError for a bad setting.
  explicit CaptionServer(ServeConfig config);
  ~CaptionServer();
  CaptionServer(const CaptionServer&) = delete;
  CaptionServer& operator=(const CaptionServer&) = delete;

  // Binds the address and returns the port; throws ConfigError naming host:port when it cannot.
  // With fallback_to_any, a configured port that is taken gives way to any free one.
  int bind(bool fallback_to_any = false);
  // Serves until stop(); returns once the requests in flight are answered. The model runs on
  // the calling thread, HTTP on threads of its own.
  void run();
  // From any thread (a signal-waiting thread, the GUI): stop accepting, then drain.
  void stop();

  std::string address() const;  // http://host:port/
  const ModelCard& model() const;
  const BatchCaptioner& captioner() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace captioner
