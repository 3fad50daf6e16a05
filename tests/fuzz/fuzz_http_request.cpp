// The bytes of one connection, as the service's HTTP path reads them: GuardedHttpServer's stream
// (header and body bounds) under httplib's request parsing, with routes that read a body, a
// multipart form and a query. The input is what the client sends before it stops sending.
#include <string>

#include "core/serve/guarded_http_server.h"

namespace {

captioner::GuardedHttpServer& server() {
  static captioner::GuardedHttpServer* http = [] {
    captioner::ConnectionLimits limits;
    limits.workers = 1;
    limits.max_body_bytes = 64 << 10;
    limits.in_flight_bytes = 96 << 10;
    limits.keep_alive_max = 8;
    auto* s = new captioner::GuardedHttpServer(limits, [](const std::string&) {});
    s->set_payload_max_length(limits.max_body_bytes);
    s->Post("/caption", [](const httplib::Request& req, httplib::Response& res) {
      size_t files = 0;
      for (const auto& [name, file] : req.files) files += file.content.size();
      res.set_content(std::to_string(req.body.size() + files) + req.get_param_value("n"), "text/plain");
    });
    s->Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
    s->set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (res.body.empty()) captioner::GuardedHttpServer::close_after_answer();
    });
    return s;
  }();
  return *http;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  server().answer_connection(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
