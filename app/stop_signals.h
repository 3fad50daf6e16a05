#pragma once
// The signals that ask a long command (train, extract) to stop cleanly: SIGINT (Ctrl-C), SIGTERM
// (a job scheduler, systemd, kill) and SIGHUP (the terminal went away). The first one sets a flag
// the command polls; it then saves and exits with 128 + the signal's number, as shells expect.
// A second signal of the same kind ends the process at once (the default disposition).
#include <atomic>

namespace captioner::cli {

class StopSignals {
 public:
  StopSignals();   // installs the handlers; one instance at a time
  ~StopSignals();  // restores the default dispositions
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  bool received() const;
  int signal_number() const;  // 0 before any signal
  const char* signal_name() const;
  int exit_code() const;  // 128 + the signal's number; 130 (SIGINT) when stopped for another reason
  // Set by the handler: a command that takes an std::atomic<bool> cancel flag can pass this one.
  static std::atomic<bool>& flag();
};

}  // namespace captioner::cli
