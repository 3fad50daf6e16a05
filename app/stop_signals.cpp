#include "app/stop_signals.h"

#include <csignal>

namespace captioner::cli {

namespace {
constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};
volatile std::sig_atomic_t g_signal = 0;
std::atomic<bool> g_flag{false};

extern "C" void on_stop_signal(int signo) {
  g_signal = signo;
  g_flag.store(true);
  std::signal(signo, SIG_DFL);  // the same signal again ends the process at once
}
}  // namespace

StopSignals::StopSignals() {
  g_signal = 0;
  g_flag.store(false);
  for (int s : kStopSignals) std::signal(s, on_stop_signal);
}

StopSignals::~StopSignals() {
  for (int s : kStopSignals) std::signal(s, SIG_DFL);
}

bool StopSignals::received() const { return g_flag.load(); }
int StopSignals::signal_number() const { return g_signal; }

const char* StopSignals::signal_name() const {
  switch (g_signal) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "a stop request";
  }
}

int StopSignals::exit_code() const { return 128 + (g_signal != 0 ? static_cast<int>(g_signal) : SIGINT); }

std::atomic<bool>& StopSignals::flag() { return g_flag; }

}  // namespace captioner::cli
