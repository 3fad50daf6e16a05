// The process group in a build whose LibTorch has no c10d with Gloo: refuses clearly.
#include "core/train/process_group.h"

namespace captioner {

bool distributed_available() { return false; }

std::unique_ptr<ProcessGroup> connect_process_group(const DistributedOptions& options) {
  options.validate();
  require_distributed();  // throws: this build has no c10d
  return nullptr;
}

}  // namespace captioner
