#include "app/local_ranks.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <thread>

#include "core/util/errors.h"

extern char** environ;

namespace captioner::cli {

std::vector<std::string> own_arguments() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (size_t at = 0; at < raw.size();) {
    const size_t end = raw.find('\0', at);
    args.push_back(raw.substr(at, end == std::string::npos ? std::string::npos : end - at));
    if (end == std::string::npos) break;
    at = end + 1;
  }
  if (!args.empty()) args.erase(args.begin());
  return args;
}

namespace {

pid_t spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // The ranks take Ctrl-C as usual, although this process ignores it while it waits for them.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t interrupt;
  sigemptyset(&interrupt);
  sigaddset(&interrupt, SIGINT);
  posix_spawnattr_setsigdefault(&attributes, &interrupt);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  const int error = posix_spawn(&pid, "/proc/self/exe", nullptr, &attributes, argv.data(), environ);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) throw ConfigError(std::string("cannot start a rank: ") + std::strerror(error));
  return pid;
}

volatile std::sig_atomic_t g_forward = 0;
extern "C" void on_forwarded_signal(int signo) { g_forward = signo; }

std::string exit_text(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + strsignal(WTERMSIG(status));
  return "ended";
}

// While the ranks run: Ctrl-C reaches them (same process group) and this process keeps waiting
// for them; SIGTERM and SIGHUP, sent to this process alone (a scheduler, systemd), are noted to be
// passed on to every rank. The previous handlers come back however the ranks end.
class RankSignals {
 public:
  RankSignals() {
    struct sigaction ignore {
    }, forward{};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGINT, &ignore, &previous_int_);
    g_forward = 0;
    forward.sa_handler = on_forwarded_signal;
    sigaction(SIGTERM, &forward, &previous_term_);
    sigaction(SIGHUP, &forward, &previous_hup_);
  }
  ~RankSignals() {
    sigaction(SIGINT, &previous_int_, nullptr);
    sigaction(SIGTERM, &previous_term_, nullptr);
    sigaction(SIGHUP, &previous_hup_, nullptr);
  }
  RankSignals(const RankSignals&) = delete;
  RankSignals& operator=(const RankSignals&) = delete;

 private:
  struct sigaction previous_int_ {
  }, previous_term_{}, previous_hup_{};
};

std::vector<pid_t> spawn_ranks(int nproc, const std::vector<std::string>& arguments, const std::string& rendezvous) {
  std::vector<pid_t> ranks;
  for (int r = 0; r < nproc; ++r) {
    std::vector<std::string> args = {"captioner"};
    args.insert(args.end(), arguments.begin(), arguments.end());
    for (const std::string& extra : {std::string("--world-size"), std::to_string(nproc), std::string("--rank"), std::to_string(r),
                                     std::string("--rendezvous"), "file://" + rendezvous})
      args.push_back(extra);
    try {
      ranks.push_back(spawn(args));
    } catch (...) {
      for (pid_t pid : ranks) ::kill(pid, SIGKILL);  // still joining: no step to save yet
      for (pid_t pid : ranks) ::waitpid(pid, nullptr, 0);
      throw;
    }
  }
  return ranks;
}

// Waits for every rank. After the first failure the others get `timeout` (plus a margin) to
// stop, then are killed. Returns the first failing rank's exit code (128 + N for signal N).
int wait_for_ranks(std::vector<pid_t> ranks, std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  int code = 0;
  size_t running = ranks.size();
  Clock::time_point deadline = Clock::time_point::max();
  bool forwarded = false;
  while (running > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      const auto it = std::find(ranks.begin(), ranks.end(), pid);
      if (it == ranks.end()) continue;
      --running;
      const int rank = static_cast<int>(it - ranks.begin());
      *it = -1;
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
      // A stop signal (exit 128 + SIGINT, SIGTERM or SIGHUP): all ranks stop together.
      const bool stopped = WIFEXITED(status) && (WEXITSTATUS(status) == 128 + SIGINT || WEXITSTATUS(status) == 128 + SIGTERM ||
                                                 WEXITSTATUS(status) == 128 + SIGHUP);
      if (!stopped) std::cerr << "rank " << rank << " " << exit_text(status) << '\n';
      if (code == 0) code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      if (deadline == Clock::time_point::max()) deadline = Clock::now() + timeout + std::chrono::seconds(30);
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    if (g_forward != 0 && !forwarded) {
      for (pid_t rank : ranks)
        if (rank > 0) ::kill(rank, g_forward);
      forwarded = true;
    }
    if (Clock::now() > deadline) {
      for (size_t r = 0; r < ranks.size(); ++r)
        if (ranks[r] > 0) {
          std::cerr << "rank " << r << " did not stop after the failure: killing it\n";
          ::kill(ranks[r], SIGKILL);  // SIGTERM would only ask it to save and stop, which a hung rank cannot
        }
      deadline = Clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return code;
}

}  // namespace

int run_local_ranks(int nproc, const std::vector<std::string>& arguments, std::chrono::milliseconds timeout) {
  // A fresh path: the file store must not hold a previous run's keys.
  const std::string rendezvous =
      (std::filesystem::temp_directory_path() / ("captioner-rendezvous-" + std::to_string(::getpid()) + "-" +
                                                 std::to_string(std::chrono::steady_clock::now().time_since_epoch().count())))
          .string();
  int code = 0;
  {
    RankSignals signals;
    code = wait_for_ranks(spawn_ranks(nproc, arguments, rendezvous), timeout);
  }
  std::error_code ec;
  std::filesystem::remove(rendezvous, ec);
  return code;
}

}  // namespace captioner::cli
