#include "core/util/kill_point.h"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

namespace captioner {
namespace {

struct KillSpec {
  std::string name;
  long count = 0;  // 0: no kill point armed
};

const KillSpec& armed() {
  static const KillSpec spec = [] {
    KillSpec s;
    const char* value = std::getenv("CAPTIONER_KILL_AT");
    if (!value) return s;
    const char* colon = std::strrchr(value, ':');
    if (!colon) return s;
    s.name.assign(value, colon);
    s.count = std::strtol(colon + 1, nullptr, 10);
    return s;
  }();
  return spec;
}

}  // namespace

void kill_point(const char* name) {
  const KillSpec& spec = armed();
  if (spec.count <= 0 || spec.name != name) return;
  static std::atomic<long> reached{0};
  if (reached.fetch_add(1) + 1 == spec.count) std::raise(SIGKILL);
}

}  // namespace captioner
