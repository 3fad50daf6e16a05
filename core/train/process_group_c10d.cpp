// The process group on c10d's stores and its Gloo backend (compiled only when LibTorch has them;
// see process_group_none.cpp for the other case).
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>

#include "core/train/process_group.h"
#include "core/util/errors.h"

namespace captioner {

namespace {

struct Rendezvous {
  std::string host;  // tcp
  uint16_t port = 0;
  std::string file;  // file
};

Rendezvous parse_rendezvous(const std::string& address) {
  Rendezvous r;
  const std::string tcp = "tcp://", file = "file://";
  if (address.rfind(tcp, 0) == 0) {
    const std::string rest = address.substr(tcp.size());
    const auto colon = rest.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size())
      throw ConfigError("rendezvous " + address + ": expected tcp://HOST:PORT");
    r.host = rest.substr(0, colon);
    if (r.host.size() > 2 && r.host.front() == '[' && r.host.back() == ']') r.host = r.host.substr(1, r.host.size() - 2);
    const std::string port = rest.substr(colon + 1);
    if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 || std::stoi(port) < 1 ||
        std::stoi(port) > 65535)
      throw ConfigError("rendezvous " + address + ": the port must be a number from 1 to 65535");
    r.port = static_cast<uint16_t>(std::stoi(port));
  } else if (address.rfind(file, 0) == 0 && address.size() > file.size() + 1 && address[file.size()] == '/') {
    r.file = address.substr(file.size());
  } else {
    throw ConfigError("rendezvous '" + address + "': expected tcp://HOST:PORT or file:///shared/path");
  }
  return r;
}

// LibTorch 2.x's TCP store serves through libuv by default, which Debian's LibTorch 2.6 is built
// without ("use_libuv was requested but PyTorch was build without libuv support"); 1.13's options
// have no such field. The classic server is asked for wherever the option exists.
template <typename Options>
auto without_libuv(Options& o, int) -> decltype(o.useLibUV = false, void()) {
  o.useLibUV = false;
}
template <typename Options>
void without_libuv(Options&, long) {}

std::string step_key(int rank) { return "step/" + std::to_string(rank); }
std::string failure_key(int rank) { return "failed/" + std::to_string(rank); }

std::string text_of(const std::vector<uint8_t>& bytes) { return std::string(bytes.begin(), bytes.end()); }
std::vector<uint8_t> bytes_of(const std::string& text) { return std::vector<uint8_t>(text.begin(), text.end()); }

class GlooProcessGroup final : public ProcessGroup {
 public:
  GlooProcessGroup(const DistributedOptions& options, c10::intrusive_ptr<c10d::Store> store, const std::string& host)
      : options_(options), store_(std::move(store)) {
    auto gloo = c10d::ProcessGroupGloo::Options::create(options.timeout);
    if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface && *interface)
      gloo->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
    else if (host == "127.0.0.1" || host == "localhost" || host == "::1" || host.empty())
      gloo->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(host.empty() ? "127.0.0.1" : host));
    else
      gloo->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>("gloo", store_), options.rank,
                                                         options.world_size, gloo);
  }

  int rank() const override { return options_.rank; }
  int world_size() const override { return options_.world_size; }

  void all_reduce_sum(std::vector<torch::Tensor>& tensors) override {
    on_cpu(tensors, [&](std::vector<torch::Tensor>& cpu) { wait(group_->allreduce(cpu), "summing gradients and losses"); });
  }

  void broadcast(std::vector<torch::Tensor>& tensors, int root) override {
    c10d::BroadcastOptions o;
    o.rootRank = root;
    on_cpu(tensors, [&](std::vector<torch::Tensor>& cpu) {
      for (auto& t : cpu) {
        std::vector<torch::Tensor> one{t};
        wait(group_->broadcast(one, o), "receiving rank " + std::to_string(root) + "'s values");
      }
    });
  }

  std::vector<std::string> all_gather_text(const std::string& key, const std::string& value) override {
    std::vector<std::string> out;
    try {
      store_->set(key + "/" + std::to_string(options_.rank), bytes_of(value));
      for (int r = 0; r < options_.world_size; ++r) out.push_back(text_of(store_->get(key + "/" + std::to_string(r))));
    } catch (const std::exception& e) {
      throw DistributedError(diagnose("exchanging " + key, e));
    }
    return out;
  }

  void report_step(int64_t step) override {
    step_ = step;
    try {
      store_->set(step_key(options_.rank), bytes_of(std::to_string(step)));
    } catch (const std::exception& e) {
      throw DistributedError(diagnose("reporting step " + std::to_string(step), e));
    }
  }

  void report_failure(const std::string& why) override {
    try {
      store_->set(failure_key(options_.rank), bytes_of(why));
    } catch (...) {  // the store may be gone too: the others will time out and say so
    }
  }

 private:
  template <typename F>
  void on_cpu(std::vector<torch::Tensor>& tensors, F&& run) {
    bool all_cpu = true;
    for (const auto& t : tensors) all_cpu = all_cpu && t.device().is_cpu() && t.is_contiguous();
    if (all_cpu) return run(tensors);
    std::vector<torch::Tensor> cpu;
    cpu.reserve(tensors.size());
    for (const auto& t : tensors) cpu.push_back(t.to(torch::kCPU).contiguous());
    run(cpu);
    for (size_t i = 0; i < tensors.size(); ++i) tensors[i].copy_(cpu[i]);
  }

  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) {
    try {
      work->wait();
    } catch (const std::exception& e) {
      throw DistributedError(diagnose(what, e));
    }
  }

  // Why a collective failed, in the ranks' terms: one that said why it stopped, else those whose
  // last reported step is behind this one's. The store is asked briefly: it may be gone too.
  std::string diagnose(const std::string& what, const std::exception& e) {
    const std::string head = "rank " + std::to_string(options_.rank) + ": " + what + " failed at step " + std::to_string(step_);
    std::string first_line = e.what();
    first_line = first_line.substr(0, first_line.find('\n'));
    std::string who;
    try {
      store_->setTimeout(std::chrono::seconds(2));
      std::vector<std::string> behind;
      for (int r = 0; r < options_.world_size; ++r) {
        if (r == options_.rank) continue;
        if (store_->check({failure_key(r)}))
          return head + ": rank " + std::to_string(r) + " stopped: " + text_of(store_->get(failure_key(r)));
        const int64_t step = store_->check({step_key(r)}) ? std::stoll(text_of(store_->get(step_key(r)))) : -1;
        if (step < step_)
          behind.push_back(std::to_string(r) +
                           (step < 0 ? " (never started)" : " (last seen at step " + std::to_string(step) + ")"));
      }
      // Nobody behind: the one that went away did so during this very step; name the candidates.
      if (behind.empty())
        for (int r = 0; r < options_.world_size; ++r)
          if (r != options_.rank) behind.push_back(std::to_string(r));
      for (size_t i = 0; i < behind.size(); ++i) who += (i ? ", rank " : "rank ") + behind[i];
      who += behind.size() > 1 ? " (one or more of them) died or stopped answering" : " died or stopped answering";
    } catch (const std::exception&) {
      who = options_.rank == 0 ? "the rendezvous store failed" : "rank 0 (which holds the rendezvous) died or stopped answering";
    }
    return head + ": " + who + " (" + first_line + ")";
  }

  DistributedOptions options_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
  int64_t step_ = 0;
};

}  // namespace

bool distributed_available() { return true; }

std::unique_ptr<ProcessGroup> connect_process_group(const DistributedOptions& options) {
  options.validate();
  const Rendezvous where = parse_rendezvous(options.rendezvous);
  c10::intrusive_ptr<c10d::Store> store;
  try {
    if (!where.file.empty()) {
      store = c10::make_intrusive<c10d::FileStore>(where.file, options.world_size);
      store->setTimeout(options.timeout);
    } else {
      c10d::TCPStoreOptions o;
      o.port = where.port;
      o.isServer = options.rank == 0;
      o.numWorkers = static_cast<size_t>(options.world_size);
      o.waitWorkers = true;
      o.timeout = options.timeout;
      without_libuv(o, 0);
      store = c10::make_intrusive<c10d::TCPStore>(where.host, o);
    }
  } catch (const std::exception& e) {
    std::string reason = e.what();
    reason = reason.substr(0, reason.find('\n'));
    if (options.rank == 0 && where.file.empty())
      throw ConfigError("rendezvous " + options.rendezvous +
                        ": rank 0 cannot listen there or the other ranks did not join within " +
                        std::to_string(options.timeout.count() / 1000) + " s (is the port in use?): " + reason);
    throw ConfigError("rendezvous " + options.rendezvous + ": rank " + std::to_string(options.rank) + " could not join within " +
                      std::to_string(options.timeout.count() / 1000) + " s: " + reason);
  }
  try {
    return std::make_unique<GlooProcessGroup>(options, store, where.host);
  } catch (const std::exception& e) {
    std::string reason = e.what();
    throw DistributedError("rank " + std::to_string(options.rank) + ": the process group did not form within " +
                           std::to_string(options.timeout.count() / 1000) + " s: " + reason.substr(0, reason.find('\n')));
  }
}

}  // namespace captioner
