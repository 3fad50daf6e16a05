#pragma once
// Deterministic crash points for the crash-safety tests. With CAPTIONER_KILL_AT=NAME:N in the
// environment, the process sends itself SIGKILL the N-th time it reaches kill_point(NAME), exactly
// as `kill -9` would at that moment, so a test can stop a run between two given writes instead of
// racing a timer. Without the variable a kill point costs one relaxed atomic load.
namespace captioner {

void kill_point(const char* name);

}  // namespace captioner
