#pragma once
// cpp-httplib's server with the bounds a public service needs and httplib leaves to its user.
// Parsing, routing and answers stay httplib's (Server::process_request); what changes is who
// reads a connection and for how long:
// - A worker thread takes a connection only once a whole request line and header block has
//   arrived. Until then the connection waits in one epoll loop, so slow or silent clients hold
//   no worker; past header_timeout_s it is answered 408 and closed. Idle keep-alive connections
//   wait there too.
// - A request's body is bounded per request, chunked or not (413), across the requests in flight
//   (503 with Retry-After), and in time: after a grace of idle_timeout_s it must keep arriving at
//   body_min_rate bytes a second (408).
// - An answer httplib made without reading the body (a malformed or refused request) closes the
//   connection once the client has stopped sending, so an unread body is never taken as further
//   requests.
// - Connections beyond max_connections are answered 503 and closed at once.
// Only this file and http_server.cpp see httplib.h.
#include <httplib.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace captioner {

struct ConnectionLimits {
  int workers = 72;
  int max_connections = 768;  // open at once, waiting ones included; below select()'s 1024 descriptors
  double header_timeout_s = 10;
  double idle_timeout_s = 10;  // silence in the middle of a body or an answer
  double keep_alive_s = 5;
  int keep_alive_max = 100;  // requests on one connection
  size_t max_body_bytes = 20 << 20;
  size_t in_flight_bytes = 160 << 20;  // bodies of the requests being read or answered, together
  size_t body_min_rate = 16 << 10;     // bytes a second
};

// Why reading the current request's body stopped, for the error handler to answer.
enum class BodyFault { none, too_large, over_budget, too_slow };

class GuardedHttpServer : public httplib::Server {
 public:
  // `log` gets a line for each connection refused or timed out before httplib saw a request.
  GuardedHttpServer(const ConnectionLimits& limits, std::function<void(const std::string&)> log);
  ~GuardedHttpServer() override;
  GuardedHttpServer(const GuardedHttpServer&) = delete;
  GuardedHttpServer& operator=(const GuardedHttpServer&) = delete;

  // On the thread answering a request (a handler, the error handler): what stopped its body,
  // and a request to close the connection after the answer.
  static BodyFault current_fault();
  static void close_after_answer();

  size_t body_bytes_in_flight() const;

  // The answers to `bytes` sent on one connection that then stops sending, as the client reads
  // them: the whole path a socket's bytes take, without the network (for the fuzzer and tests).
  std::string answer_connection(const std::string& bytes);

 private:
  bool process_and_close_socket(socket_t sock) override;
  bool process_request_on(httplib::Stream& strm, const std::string& remote_ip, int remote_port, const std::string& local_ip,
                          int local_port, bool last, bool& closed);
  // Server::process_request's two signatures: httplib 0.11 asks the stream for the addresses,
  // later versions take them as arguments.
  template <typename S>
  static auto process_with(S& server, httplib::Stream& strm, const std::string& remote_ip, int remote_port,
                           const std::string& local_ip, int local_port, bool last, bool& closed, int)
      -> decltype(server.process_request(strm, remote_ip, remote_port, local_ip, local_port, last, closed, nullptr)) {
    return server.process_request(strm, remote_ip, remote_port, local_ip, local_port, last, closed, nullptr);
  }
  template <typename S>
  static auto process_with(S& server, httplib::Stream& strm, const std::string&, int, const std::string&, int, bool last,
                           bool& closed, long) -> decltype(server.process_request(strm, last, closed, nullptr)) {
    return server.process_request(strm, last, closed, nullptr);
  }

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace captioner
