// Time of the gradient all-reduce of a distributed run, on this machine: two ranks (threads,
// each with its own c10d/Gloo process group over a file rendezvous) sum a float buffer of a
// model's gradient size, as the trainer does once per step. Prints one JSON line.
//   bench_allreduce [--model lstm|attention] [--vocab V] [--iterations K]
// The buffer holds as many floats as the model has weights (default: the notebook's LSTM at
// vocabulary 10,403; the attention model on the 2048-channel grid with --model attention).
#include <torch/torch.h>

#include <unistd.h>  // getpid

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "core/model/caption_model.h"
#include "core/train/process_group.h"

int main(int argc, char** argv) {
  captioner::ModelConfig config;
  int64_t vocab = 10403;
  int iterations = 50;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--model")
      config.kind = argv[i + 1];
    else if (k == "--vocab")
      vocab = std::stoll(argv[i + 1]);
    else if (k == "--iterations")
      iterations = std::stoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (!captioner::distributed_available()) {
    std::fprintf(stderr, "this build has no c10d/Gloo\n");
    return 1;
  }
  torch::set_num_threads(1);
  int64_t floats = 0;
  for (const auto& p : captioner::make_caption_model(config, vocab, 0)->parameters()) floats += p.numel();
  const std::string store = (std::filesystem::temp_directory_path() / ("bench-allreduce-" + std::to_string(::getpid()))).string();
  std::vector<std::future<double>> ranks;
  for (int r = 0; r < 2; ++r)
    ranks.push_back(std::async(std::launch::async, [=] {
      captioner::DistributedOptions o;
      o.world_size = 2;
      o.rank = r;
      o.rendezvous = "file://" + store;
      auto group = captioner::connect_process_group(o);
      std::vector<torch::Tensor> buffer{torch::ones({floats})};
      for (int i = 0; i < 3; ++i) group->all_reduce_sum(buffer);  // warm-up: connections, buffers
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < iterations; ++i) group->all_reduce_sum(buffer);
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / iterations;
    }));
  double seconds = 0;
  for (auto& r : ranks) seconds = std::max(seconds, r.get());
  std::filesystem::remove(store);
  std::printf("{\"ranks\": 2, \"model\": \"%s\", \"floats\": %lld, \"ms_per_all_reduce\": %.2f, \"gb_per_s\": %.2f}\n",
              config.kind.c_str(), static_cast<long long>(floats), seconds * 1e3, floats * 4.0 / seconds / 1e9);
  return 0;
}
