// The process group in a build whose LibTorch has no c10d with Gloo: refuses clearly.
#include "core/train/process_group.h"
#include "core/util/errors.h"

namespace captioner {

bool distributed_available() { return false; }

std::unique_ptr<ProcessGroup> connect_process_group(const DistributedOptions& options) {
  options.validate();
  throw ConfigError("distributed training (--world-size, --nproc) needs a LibTorch with c10d and Gloo; this build has none");
}

}  // namespace captioner
