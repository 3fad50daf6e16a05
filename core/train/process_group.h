#pragma once
// The ranks of a distributed run, over PyTorch's c10d (the engine behind torch.distributed):
// a rendezvous store (TCP or a shared file) and a Gloo process group for the collectives.
// A build whose LibTorch lacks c10d or Gloo still builds; connect_process_group then refuses
// with a ConfigError that says so.
//
// Failures never hang: every collective gives up after `timeout`, and the error names the
// rank that fell behind (or failed, when it could say why) as far as the store can tell.
#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace captioner {

struct DistributedOptions {
  int world_size = 1;
  int rank = 0;
  std::string rendezvous;  // tcp://HOST:PORT (rank 0 listens there) or file:///shared/path
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  // Throws ConfigError naming the first bad field.
  void validate() const;
};

// A collective failed: a rank died, hung past the timeout, or refused to go on.
class DistributedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Sums each tensor over the ranks, in place (CPU float tensors; others go through the CPU).
  virtual void all_reduce_sum(std::vector<torch::Tensor>& tensors) = 0;
  // Gives every rank rank `root`'s values, in place.
  virtual void broadcast(std::vector<torch::Tensor>& tensors, int root) = 0;
  // Every rank's `value` under `key`, in rank order (through the store: for small texts).
  virtual std::vector<std::string> all_gather_text(const std::string& key, const std::string& value) = 0;
  // Tells the others how far this rank got, so a failure can name who fell behind.
  virtual void report_step(int64_t step) = 0;
  // Tells the others why this rank stops, before it throws.
  virtual void report_failure(const std::string& why) = 0;
};

// Whether this build can run distributed (LibTorch with c10d and Gloo).
bool distributed_available();
// Throws ConfigError saying why when it cannot.
void require_distributed();

// Joins the group: blocks until all `world_size` ranks have joined or `timeout` passed.
// Throws ConfigError for a bad or unreachable rendezvous, a port in use, or a build without
// c10d; DistributedError when the others do not come.
std::unique_ptr<ProcessGroup> connect_process_group(const DistributedOptions& options);

}  // namespace captioner
