#include "app/cli_data.h"

#include <cstdio>

#include "app/progress_line.h"
#include "core/util/duration.h"

namespace captioner::cli {

void print_extraction_progress(const ExtractProgress& p) {
  char line[160];
  std::snprintf(line, sizeof line, "features: %lld/%lld images, %.1f images/s, ETA %s", static_cast<long long>(p.done),
                static_cast<long long>(p.total), p.images_per_s, format_duration(p.eta_s).c_str());
  ProgressLine::on_stderr().show(line, p.done % 200 < 8, p.done == p.total);
}

}  // namespace captioner::cli
