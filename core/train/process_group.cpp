#include "core/train/process_group.h"

#include "core/util/errors.h"

namespace captioner {

void DistributedOptions::validate() const {
  if (world_size < 1) throw ConfigError("world size must be at least 1");
  if (rank < 0 || rank >= world_size)
    throw ConfigError("rank " + std::to_string(rank) + " is outside the world of " + std::to_string(world_size) + " (0 to " +
                      std::to_string(world_size - 1) + ")");
  if (world_size > 1 && rendezvous.empty())
    throw ConfigError("a distributed run needs a rendezvous (tcp://HOST:PORT or file:///path)");
  if (timeout.count() < 1000) throw ConfigError("the distributed timeout must be at least 1 s");
}

void require_distributed() {
  if (!distributed_available())
    throw ConfigError("distributed training (--world-size, --nproc) needs a LibTorch with c10d and Gloo; this build has none");
}

}  // namespace captioner
