// Encoder benchmarks (not tests):
//   bench_encode throughput DIR [--batch B] [--workers W] [--threads T] [--precision auto|fp32|bf16]
//       images/s of `captioner extract` work (decode on worker threads + encode + cache writes)
//       over the images in DIR; run_encode_bench.sh sets it beside torchvision in Python.
//   bench_encode latency IMAGE [--runs N] [--threads T] [--layout nchw|nhwc] [--precision auto|fp32|bf16]
//       one dropped image captioned end to end (read + decode + resize + encode + greedy decoding
//       with a notebook-sized LSTM): p50 / p95 over N runs after a warm-up.
// The encoder is the installed one (CAPTIONER_ENCODER or the default locations).
#include <torch/torch.h>

#include <unistd.h>  // getpid

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/model/caption_net.h"
#include "core/model/decoding.h"
#include "core/util/precision.h"
#include "core/util/runtime.h"
#include "core/vision/encoder.h"
#include "core/vision/feature_cache.h"
#include "core/vision/image_io.h"

using namespace captioner;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int throughput(const std::string& dir, int64_t batch, int workers, const std::string& precision) {
  Encoder encoder = load_encoder(find_default_encoder(), torch::kCPU, precision);
  const auto images = list_images(dir);
  const auto out = std::filesystem::temp_directory_path() / ("bench-cache-" + std::to_string(::getpid()));
  std::filesystem::remove_all(out);
  ExtractOptions options;
  options.batch_size = batch;
  options.workers = workers;
  options.pooled_only = false;
  const auto start = Clock::now();
  const auto r = extract_features(encoder, images, out.string(), options);
  const double s = seconds_since(start);
  std::filesystem::remove_all(out);
  std::printf(
      "{\"impl\": \"captioner-cpp\", \"images\": %lld, \"failed\": %zu, \"threads\": %d, \"batch\": %lld, "
      "\"precision\": \"%s\", \"isa\": \"%s\", \"images_per_s\": %.2f}\n",
      static_cast<long long>(r.encoded), r.failed.size(), at::get_num_threads(), static_cast<long long>(batch),
      encoder.net->bf16() ? "bf16" : "fp32", cpu_matmul_isa().c_str(), static_cast<double>(r.encoded) / s);
  return 0;
}

int latency(const std::string& image, int runs, bool nhwc, const std::string& precision) {
  Encoder encoder = load_encoder(find_default_encoder(), torch::kCPU, precision);
  encoder.net->set_channels_last(nhwc);
  torch::manual_seed(0);
  ModelConfig config;  // the notebook's sizes
  std::vector<std::string> words = {"#PAD#", "#UNK#", "#START#", "#END#"};
  for (int i = 0; i < 10399; ++i) words.push_back("w" + std::to_string(i));
  const Vocabulary vocab = Vocabulary::from_words(words);
  CaptionNet model(config, vocab.size(), Vocabulary::kPad);
  model->eval();
  DecodeOptions options;
  options.max_len = 20;
  std::vector<double> ms, load_ms, encode_ms;
  torch::NoGradGuard no_grad;
  const auto rgb0 = load_image_rgb(image);
  for (int i = 0; i < runs + 2; ++i) {
    const auto start = Clock::now();
    const auto input = inception_input(load_image_rgb(image)).unsqueeze(0);
    const auto loaded = Clock::now();
    const auto pooled = encoder.net->forward(input).pooled;
    const auto encoded = Clock::now();
    const auto caption = decode(*model, vocab, pooled, options);
    if (i >= 2) {
      ms.push_back(seconds_since(start) * 1000.0);
      load_ms.push_back(std::chrono::duration<double, std::milli>(loaded - start).count());
      encode_ms.push_back(std::chrono::duration<double, std::milli>(encoded - loaded).count());
    }
  }
  for (auto* v : {&ms, &load_ms, &encode_ms}) std::sort(v->begin(), v->end());
  auto pct = [&](double p) { return ms[std::min(ms.size() - 1, static_cast<size_t>(p * static_cast<double>(ms.size())))]; };
  std::fprintf(stderr, "medians: read+decode+resize %.1f ms, encode %.1f ms, caption (20 tokens) %.1f ms\n",
               load_ms[load_ms.size() / 2], encode_ms[encode_ms.size() / 2],
               ms[ms.size() / 2] - load_ms[load_ms.size() / 2] - encode_ms[encode_ms.size() / 2]);
  std::printf(
      "{\"impl\": \"captioner-cpp\", \"image\": \"%s\", \"width\": %lld, \"height\": %lld, \"runs\": %d, "
      "\"threads\": %d, \"layout\": \"%s\", \"precision\": \"%s\", \"p50_ms\": %.1f, \"p95_ms\": %.1f}\n",
      image.c_str(), static_cast<long long>(rgb0.size(1)), static_cast<long long>(rgb0.size(0)), runs, at::get_num_threads(),
      nhwc ? "nhwc" : "nchw", encoder.net->bf16() ? "bf16" : "fp32", pct(0.5), pct(0.95));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: bench_encode throughput DIR [--batch B] [--workers W] [--threads T] [--precision P]\n"
                 "       bench_encode latency IMAGE [--runs N] [--threads T] [--layout nchw|nhwc] [--precision P]\n");
    return 2;
  }
  const std::string mode = argv[1], target = argv[2];
  int64_t batch = 8, threads = 2;
  int workers = 2, runs = 20;
  bool nhwc = true;
  std::string precision = "auto";
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--batch")
      batch = std::stoll(argv[i + 1]);
    else if (k == "--workers")
      workers = std::stoi(argv[i + 1]);
    else if (k == "--threads")
      threads = std::stoll(argv[i + 1]);
    else if (k == "--runs")
      runs = std::stoi(argv[i + 1]);
    else if (k == "--layout")
      nhwc = std::string(argv[i + 1]) == "nhwc";
    else if (k == "--precision")
      precision = argv[i + 1];
  }
  configure_threads(threads);
  keep_freed_memory();  // as the product's programs do
  try {
    return mode == "latency" ? latency(target, runs, nhwc, precision) : throughput(target, batch, workers, precision);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
