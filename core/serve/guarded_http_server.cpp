#include "core/serve/guarded_http_server.h"

#include <netdb.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace captioner {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxHeaderBytes = 64 << 10;  // a header block not ended by then is answered 431
constexpr size_t kReadChunk = 16 << 10;
// After refusing a request, what the client still sends is read and dropped (at most a body's
// limit and 1 MB, while it keeps coming at least every 2 s) before the connection closes: most
// clients send a whole body before they read the answer, and a close with unread bytes resets
// the connection, so they would see an error instead of the answer.
constexpr double kLingerSeconds = 2;
constexpr size_t kLingerSlackBytes = 1 << 20;

Clock::time_point after(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

int millis_until(Clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(ms, 0, 1 << 30));
}

struct Address {
  std::string ip;
  int port = 0;
};

Address socket_address(int sock, bool peer) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  const int rc = peer ? getpeername(sock, reinterpret_cast<sockaddr*>(&addr), &len)
                      : getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len);
  Address out;
  char host[NI_MAXHOST] = "";
  char service[NI_MAXSERV] = "";
  if (rc == 0 && getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof host, service, sizeof service,
                             NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    out.ip = host;
    out.port = std::atoi(service);
  }
  return out;
}

// Where a request's header block ends (just past its empty line), or npos. Bare LF line ends
// count too: httplib reads them.
size_t header_end(const std::string& data) {
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] != '\n') continue;
    if (i + 1 < data.size() && data[i + 1] == '\n') return i + 2;
    if (i + 2 < data.size() && data[i + 1] == '\r' && data[i + 2] == '\n') return i + 3;
  }
  return std::string::npos;
}

void send_now(int sock, const std::string& answer) {
  (void)::send(sock, answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

std::string plain_answer(int status, const char* reason, const std::string& message, bool retry) {
  const std::string body = "{\"error\":{\"message\":\"" + message + "\",\"type\":\"server_error\",\"code\":\"" +
                           std::to_string(status) + "\",\"param\":null}}";
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n" +
         (retry ? "Retry-After: 1\r\n" : "") + "\r\n" + body;
}

// Body bytes of all requests in flight, against one budget.
class ByteBudget {
 public:
  explicit ByteBudget(size_t capacity) : capacity_(capacity) {}
  bool take(size_t n) {
    size_t used = used_.load();
    do {
      if (used + n > capacity_) return false;
    } while (!used_.compare_exchange_weak(used, used + n));
    return true;
  }
  void give_back(size_t n) { used_ -= n; }
  size_t used() const { return used_.load(); }

 private:
  const size_t capacity_;
  std::atomic<size_t> used_{0};
};

// One connection between requests.
struct Connection {
  int sock = -1;
  std::string pending;  // bytes read past the last request: the start of the next
  Address remote, local;
  Clock::time_point deadline;
  bool fresh = true;      // no request answered yet
  bool started = false;   // some bytes of the next request have arrived
  bool draining = false;  // answered and closing: what the client still sends is read and dropped
  size_t drained = 0;
  int served = 0;
};

// A request as httplib reads it, over a socket whose header block has arrived: counts the body's
// bytes (against the request's limit and the shared budget) and its pace, and keeps what it read
// past the request for the next one.
class RequestStream final : public httplib::Stream {
 public:
  RequestStream(Connection& c, const ConnectionLimits& limits, ByteBudget& budget)
      : c_(c), limits_(limits), budget_(budget), buffer_(std::move(c.pending)) {}
  ~RequestStream() override { budget_.give_back(reserved_); }
  RequestStream(const RequestStream&) = delete;
  RequestStream& operator=(const RequestStream&) = delete;

  BodyFault fault = BodyFault::none;
  bool close_requested = false;

  std::string leftover() { return buffer_.substr(offset_); }

  bool is_readable() const override { return offset_ < buffer_.size() || wait_for(POLLIN, limits_.idle_timeout_s); }
  bool is_writable() const override { return wait_for(POLLOUT, limits_.idle_timeout_s); }

  ssize_t read(char* ptr, size_t size) override {
    if (offset_ == buffer_.size()) {
      const ssize_t n = fill();
      if (n <= 0) return n;
    }
    size_t n = std::min(size, buffer_.size() - offset_);
    if (!in_body_) {
      n = header_bytes(n);
    } else if (!count_body(n)) {
      return -1;
    }
    std::memcpy(ptr, buffer_.data() + offset_, n);
    offset_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!wait_for(POLLOUT, limits_.idle_timeout_s)) return -1;
    return ::send(c_.sock, ptr, size, MSG_NOSIGNAL);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = c_.remote.ip;
    port = c_.remote.port;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = c_.local.ip;
    port = c_.local.port;
  }
  socket_t socket() const override { return c_.sock; }

 private:
  bool wait_for(short events, double seconds) const {
    pollfd p{c_.sock, events, 0};
    return ::poll(&p, 1, static_cast<int>(seconds * 1000)) > 0 && (p.revents & (events | POLLHUP)) != 0;
  }

  // Up to the end of the header block: what comes after it is the body.
  size_t header_bytes(size_t n) {
    for (size_t i = 0; i < n; ++i) {
      const char ch = buffer_[offset_ + i];
      newlines_ = ch == '\n' ? newlines_ + 1 : (ch == '\r' ? newlines_ : 0);
      if (newlines_ == 2) {
        in_body_ = true;
        body_started_ = Clock::now();
        return i + 1;
      }
    }
    return n;
  }

  bool count_body(size_t n) {
    const size_t framing = limits_.max_body_bytes / 64 + 4096;  // chunk sizes and line ends
    if (body_bytes_ + n > limits_.max_body_bytes + framing) {
      fault = BodyFault::too_large;
      return false;
    }
    if (!budget_.take(n)) {
      fault = BodyFault::over_budget;
      return false;
    }
    reserved_ += n;
    body_bytes_ += n;
    return true;
  }

  // The body's pace: after the grace, at least body_min_rate bytes a second on average.
  Clock::time_point body_deadline() const {
    const double seconds = limits_.idle_timeout_s + static_cast<double>(body_bytes_) / static_cast<double>(limits_.body_min_rate);
    return body_started_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  }

  ssize_t fill() {
    int wait_ms = static_cast<int>(limits_.idle_timeout_s * 1000);
    if (in_body_) wait_ms = std::min(wait_ms, millis_until(body_deadline()));
    pollfd p{c_.sock, POLLIN, 0};
    if (::poll(&p, 1, wait_ms) <= 0) {
      if (in_body_) fault = BodyFault::too_slow;  // behind its pace, or silent for idle_timeout_s
      return -1;
    }
    buffer_.erase(0, offset_);
    offset_ = 0;
    const size_t had = buffer_.size();
    buffer_.resize(had + kReadChunk);
    const ssize_t n = ::recv(c_.sock, buffer_.data() + had, kReadChunk, 0);
    buffer_.resize(had + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    return n;
  }

  Connection& c_;
  const ConnectionLimits& limits_;
  ByteBudget& budget_;
  std::string buffer_;
  size_t offset_ = 0;
  int newlines_ = 0;
  bool in_body_ = false;
  Clock::time_point body_started_;
  size_t body_bytes_ = 0;
  size_t reserved_ = 0;
};

thread_local RequestStream* current_request = nullptr;

// httplib.h's own TaskQueue: a connection accepted is handed to the hub at once, on the
// accepting thread (the hub's threads do the rest).
class HandOver final : public httplib::TaskQueue {
 public:
  explicit HandOver(std::function<void()> on_shutdown) : on_shutdown_(std::move(on_shutdown)) {}
  using EnqueueResult = decltype(std::declval<httplib::TaskQueue&>().enqueue(std::function<void()>()));
  EnqueueResult enqueue(std::function<void()> fn) override {
    fn();
    return static_cast<EnqueueResult>(true);  // httplib 0.11's enqueue returns nothing
  }
  void shutdown() override { on_shutdown_(); }

 private:
  std::function<void()> on_shutdown_;
};

}  // namespace

// The waiting room (one epoll thread) and the workers.
struct GuardedHttpServer::Impl {
  GuardedHttpServer& server;
  const ConnectionLimits limits;
  const std::function<void(const std::string&)> log;
  ByteBudget budget;
  std::atomic<int> open{0};

  std::mutex mutex;
  std::condition_variable ready_changed;
  std::deque<Connection> arriving;  // to the waiting room
  std::deque<Connection> ready;     // to a worker
  int busy = 0;
  bool stopping = false;
  int epoll_fd = -1;
  int wake_fd = -1;
  std::thread room;
  std::vector<std::thread> workers;

  std::map<int, Connection> waiting;
  std::set<std::pair<Clock::time_point, int>> deadlines;

  Impl(GuardedHttpServer& s, const ConnectionLimits& l, std::function<void(const std::string&)> lg)
      : server(s), limits(l), log(std::move(lg)), budget(l.in_flight_bytes) {}

  void start();
  void shut_down();
  void admit(int sock);
  void to_room(Connection c);
  void run_room();
  enum class Verdict { wait, ready, gone, too_large };
  Verdict examine(Connection& c);
  void settle(Connection c, Verdict verdict);
  void wait_in_room(Connection c);
  Connection leave_room(int sock);
  void drop(Connection& c);
  void expire(Connection c);
  void run_worker();
  void answer_requests(Connection c);
  bool answer_one(Connection& c, bool last);
};

void GuardedHttpServer::Impl::start() {
  epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd;
  ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev);
  room = std::thread([this] { run_room(); });
  for (int i = 0; i < limits.workers; ++i) workers.emplace_back([this] { run_worker(); });
}

// Waiting connections are closed; requests being answered are finished, then the workers end.
void GuardedHttpServer::Impl::shut_down() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (stopping) return;
    stopping = true;
  }
  const uint64_t one = 1;
  (void)::write(wake_fd, &one, sizeof one);
  ready_changed.notify_all();
  if (room.joinable()) room.join();
  for (auto& w : workers)
    if (w.joinable()) w.join();
  for (auto& [sock, c] : waiting) drop(c);
  waiting.clear();
  for (auto& c : arriving) drop(c);
  arriving.clear();
  ::close(wake_fd);
  ::close(epoll_fd);
}

void GuardedHttpServer::Impl::admit(int sock) {
  if (open.load() >= limits.max_connections || sock >= FD_SETSIZE) {
    send_now(sock, plain_answer(503, "Service Unavailable", "too many connections; retry", true));
    log("503 from " + socket_address(sock, true).ip + ": " + std::to_string(limits.max_connections) + " connections are open");
    ::close(sock);
    return;
  }
  ++open;
  Connection c;
  c.sock = sock;
  c.remote = socket_address(sock, true);
  c.local = socket_address(sock, false);
  c.deadline = after(limits.header_timeout_s);
  to_room(std::move(c));
}

void GuardedHttpServer::Impl::to_room(Connection c) {
  std::lock_guard<std::mutex> lock(mutex);
  if (stopping) {
    drop(c);
    return;
  }
  arriving.push_back(std::move(c));
  const uint64_t one = 1;
  (void)::write(wake_fd, &one, sizeof one);
}

void GuardedHttpServer::Impl::drop(Connection& c) {
  if (c.sock < 0) return;
  ::shutdown(c.sock, SHUT_RDWR);
  ::close(c.sock);
  c.sock = -1;
  --open;
}

void GuardedHttpServer::Impl::run_room() {
  std::vector<epoll_event> events(256);
  for (;;) {
    const int timeout = deadlines.empty() ? 1000 : millis_until(deadlines.begin()->first);
    const int n = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), timeout);
    std::deque<Connection> incoming;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (stopping) return;
      incoming.swap(arriving);
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<size_t>(i)].data.fd;
      uint64_t count = 0;
      if (fd == wake_fd) (void)::read(wake_fd, &count, sizeof count);
      auto it = waiting.find(fd);
      if (it == waiting.end()) continue;
      const auto deadline = it->second.deadline;
      const Verdict verdict = examine(it->second);
      if (verdict != Verdict::wait) {
        settle(leave_room(fd), verdict);
      } else if (it->second.deadline != deadline) {
        deadlines.erase({deadline, fd});
        deadlines.insert({it->second.deadline, fd});
      }
    }
    for (auto& c : incoming) {
      const Verdict verdict = examine(c);
      verdict == Verdict::wait ? wait_in_room(std::move(c)) : settle(std::move(c), verdict);
    }
    while (!deadlines.empty() && deadlines.begin()->first <= Clock::now()) expire(leave_room(deadlines.begin()->second));
  }
}

// Edge-triggered: epoll speaks again only when more bytes arrive, however many are waiting.
void GuardedHttpServer::Impl::wait_in_room(Connection c) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
  ev.data.fd = c.sock;
  ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c.sock, &ev);
  deadlines.insert({c.deadline, c.sock});
  waiting.emplace(c.sock, std::move(c));
}

Connection GuardedHttpServer::Impl::leave_room(int sock) {
  auto it = waiting.find(sock);
  Connection c = std::move(it->second);
  waiting.erase(it);
  deadlines.erase({c.deadline, sock});
  ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, sock, nullptr);
  return c;
}

// A waiting connection with news: its next request's header block is complete, still coming,
// too large, or the client has gone. Bytes are only peeked: httplib reads them later.
GuardedHttpServer::Impl::Verdict GuardedHttpServer::Impl::examine(Connection& c) {
  char buf[kReadChunk];
  if (c.draining) {
    ssize_t n = 0;
    const size_t before = c.drained;
    while ((n = ::recv(c.sock, buf, sizeof buf, MSG_DONTWAIT)) > 0) c.drained += static_cast<size_t>(n);
    const bool gone = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    if (gone || c.drained > limits.max_body_bytes + kLingerSlackBytes) return Verdict::gone;
    if (c.drained > before) c.deadline = after(kLingerSeconds);
    return Verdict::wait;
  }
  std::string data = c.pending;
  std::string peeked(std::max<size_t>(kMaxHeaderBytes - std::min(kMaxHeaderBytes, data.size()), 1), '\0');
  const ssize_t n = ::recv(c.sock, peeked.data(), peeked.size(), MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) data.append(peeked.data(), static_cast<size_t>(n));
  if (header_end(data) != std::string::npos) return Verdict::ready;
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return Verdict::gone;
  if (data.size() >= kMaxHeaderBytes) return Verdict::too_large;
  if (!data.empty() && !c.started) {
    c.started = true;
    if (!c.fresh) c.deadline = std::min(c.deadline, after(limits.header_timeout_s));
  }
  return Verdict::wait;
}

void GuardedHttpServer::Impl::settle(Connection c, Verdict verdict) {
  if (verdict == Verdict::ready) {
    std::lock_guard<std::mutex> lock(mutex);
    ready.push_back(std::move(c));
    ready_changed.notify_one();
    return;
  }
  if (verdict == Verdict::too_large) {
    send_now(c.sock, plain_answer(431, "Request Header Fields Too Large", "the request's headers are over 64 KB", false));
    log("431 from " + c.remote.ip + ": the request's headers are over 64 KB");
  }
  drop(c);
}

// Time is up: a request begun and not finished is answered 408; an idle connection just closes.
void GuardedHttpServer::Impl::expire(Connection c) {
  if (c.started && !c.draining) {
    const std::string reason =
        "the request's headers did not arrive within " + std::to_string(static_cast<int>(limits.header_timeout_s)) + " s";
    send_now(c.sock, plain_answer(408, "Request Timeout", reason, false));
    log("408 from " + c.remote.ip + ": " + reason);
  }
  drop(c);
}

void GuardedHttpServer::Impl::run_worker() {
  for (;;) {
    Connection c;
    {
      std::unique_lock<std::mutex> lock(mutex);
      ready_changed.wait(lock, [this] { return stopping || !ready.empty(); });
      if (ready.empty()) return;
      c = std::move(ready.front());
      ready.pop_front();
      ++busy;
    }
    answer_requests(std::move(c));
    std::lock_guard<std::mutex> lock(mutex);
    --busy;
  }
}

// One request, answered by httplib; true when the connection may carry another.
bool GuardedHttpServer::Impl::answer_one(Connection& c, bool last) {
  RequestStream strm(c, limits, budget);
  bool closed = false;
  current_request = &strm;
  const bool ok = server.process_request_on(strm, c.remote.ip, c.remote.port, c.local.ip, c.local.port, last, closed);
  current_request = nullptr;
  c.pending = strm.leftover();
  if (strm.fault != BodyFault::none) strm.close_requested = true;
  c.draining = ok && strm.close_requested;
  return ok && !closed && !last && !strm.close_requested;
}

void GuardedHttpServer::Impl::answer_requests(Connection c) {
  bool stop = false;
  {
    std::lock_guard<std::mutex> lock(mutex);
    stop = stopping;
  }
  const bool last = stop || c.served + 1 >= limits.keep_alive_max;
  const bool more = answer_one(c, last);
  ++c.served;
  if (more) {
    c.fresh = false;
    c.started = false;
    c.deadline = after(limits.keep_alive_s);
    return to_room(std::move(c));
  }
  if (!c.draining) return drop(c);
  // Lingering close (kLingerSeconds): the answer is out; the client's remaining bytes are dropped.
  ::shutdown(c.sock, SHUT_WR);
  c.pending.clear();
  c.deadline = after(kLingerSeconds);
  to_room(std::move(c));
}

GuardedHttpServer::GuardedHttpServer(const ConnectionLimits& limits, std::function<void(const std::string&)> log)
    : impl_(std::make_unique<Impl>(*this, limits, std::move(log))) {
  impl_->start();
  new_task_queue = [this] { return new HandOver([this] { impl_->shut_down(); }); };
}

GuardedHttpServer::~GuardedHttpServer() { impl_->shut_down(); }

bool GuardedHttpServer::process_and_close_socket(socket_t sock) {
  impl_->admit(sock);
  return true;
}

bool GuardedHttpServer::process_request_on(httplib::Stream& strm, const std::string& remote_ip, int remote_port,
                                           const std::string& local_ip, int local_port, bool last, bool& closed) {
  return process_with(*this, strm, remote_ip, remote_port, local_ip, local_port, last, closed, 0);
}

size_t GuardedHttpServer::body_bytes_in_flight() const { return impl_->budget.used(); }

BodyFault GuardedHttpServer::current_fault() { return current_request ? current_request->fault : BodyFault::none; }

void GuardedHttpServer::close_after_answer() {
  if (current_request) current_request->close_requested = true;
}

std::string GuardedHttpServer::answer_connection(const std::string& bytes) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return {};
  std::thread sender([&] {
    size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(pair[1], bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    ::shutdown(pair[1], SHUT_WR);
  });
  std::string answers;
  std::thread reader([&] {
    char buf[kReadChunk];
    ssize_t n = 0;
    while ((n = ::recv(pair[1], buf, sizeof buf, 0)) > 0) answers.append(buf, static_cast<size_t>(n));
  });
  Connection c;
  c.sock = pair[0];
  ++impl_->open;
  for (int i = 0; i < impl_->limits.keep_alive_max; ++i)
    if (!impl_->answer_one(c, i + 1 == impl_->limits.keep_alive_max)) break;
  impl_->drop(c);
  sender.join();
  reader.join();
  ::close(pair[1]);
  return answers;
}

}  // namespace captioner
