#include "app/cli_data.h"

#include <cstdio>

#include "core/util/duration.h"

namespace captioner::cli {

void print_extraction_progress(const ExtractProgress& p) {
  if (p.done == p.total || p.done % 200 < 8)
    std::fprintf(stderr, "features: %lld/%lld images, %.1f images/s, ETA %s\n", static_cast<long long>(p.done),
                 static_cast<long long>(p.total), p.images_per_s, format_duration(p.eta_s).c_str());
}

}  // namespace captioner::cli
