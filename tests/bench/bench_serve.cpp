// The caption service's throughput (a benchmark, not a test):
//   bench_serve RUN_DIR IMAGE_DIR [--requests N] [--rounds R] [--threads T] [--max-batch B] [--max-wait-ms W]
// First times `captioner extract`'s work on the images of IMAGE_DIR (decode on worker threads,
// batched encoding at the model's layer, cache writes); then serves RUN_DIR on loopback
// (`captioner serve`'s server, in this process) and drives POST /caption with 1, 4 and 16
// concurrent clients, N requests each, over the same images held in memory. Prints one JSON line
// per phase: requests/s, p50 and p99 latency, the mean batch, and the ratio to extraction. Then
// one client streams N chat completions: the time to the first word of the caption and to the
// whole answer, p50 and p99. R rounds alternate both (a shared machine's speed drifts), then the
// median ratios.
#include <unistd.h>  // getpid

#include <httplib.h>
#include <openssl/evp.h>

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/infer/model_input.h"
#include "core/run/checkpoint.h"
#include "core/run/run_folder.h"
#include "core/serve/http_server.h"
#include "core/util/atomic_file.h"
#include "core/util/runtime.h"
#include "core/vision/feature_cache.h"

using namespace captioner;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double extraction_images_per_s(const std::string& run, const std::vector<std::string>& images) {
  const std::string checkpoint = RunFolder(run).checkpoint();
  const LoadedCheckpoint model = load_checkpoint(checkpoint, torch::kCPU);
  Encoder encoder = load_encoder_for_model(checkpoint, model.config, "", torch::kCPU);
  const auto out = std::filesystem::temp_directory_path() / ("bench-serve-cache-" + std::to_string(::getpid()));
  std::filesystem::remove_all(out);
  ExtractOptions options;  // `captioner extract`'s defaults
  const auto start = Clock::now();
  const auto r = extract_features(encoder, images, out.string(), options);
  const double s = seconds_since(start);
  std::filesystem::remove_all(out);
  return static_cast<double>(r.encoded) / s;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

std::string data_url(const std::string& png) {
  std::string out(4 * ((png.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(png.data()),
                                static_cast<int>(png.size()));
  out.resize(static_cast<size_t>(n));
  return "data:image/png;base64," + out;
}

// One client, streamed chat completions: when the first word arrives, and the whole answer.
void time_streaming(int port, const std::vector<std::string>& bytes, int requests) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(300);
  c.set_tcp_nodelay(true);
  std::vector<double> first_word, whole;
  for (int i = 0; i < requests; ++i) {
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/chat/completions";
    req.set_header("Content-Type", "application/json");
    req.body = R"({"stream": true, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": ")" +
               data_url(bytes[static_cast<size_t>(i) % bytes.size()]) + R"("}}]}]})";
    std::string received;
    double first = -1;
    const auto sent = Clock::now();
    req.content_receiver = [&](const char* data, size_t length, uint64_t, uint64_t) {
      received.append(data, length);
      const std::string key = R"("content":")";
      for (size_t at = received.find(key); first < 0 && at != std::string::npos; at = received.find(key, at + 1))
        if (at + key.size() < received.size() && received[at + key.size()] != '"')
          first = seconds_since(sent) * 1000;  // a content chunk other than the role's empty one
      return true;
    };
    httplib::Response res;
    httplib::Error error = httplib::Error::Success;
    if (!c.send(req, res, error) || res.status != 200) {
      std::fprintf(stderr, "streaming failed: %s\n", httplib::to_string(error).c_str());
      return;
    }
    whole.push_back(seconds_since(sent) * 1000);
    first_word.push_back(first);
  }
  std::printf(
      "{\"phase\": \"stream\", \"clients\": 1, \"requests\": %d, \"first_word_p50_ms\": %.1f, \"first_word_p99_ms\": %.1f, "
      "\"whole_p50_ms\": %.1f, \"whole_p99_ms\": %.1f}\n",
      requests, percentile(first_word, 0.5), percentile(first_word, 0.99), percentile(whole, 0.5), percentile(whole, 0.99));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_serve RUN_DIR IMAGE_DIR [--requests N] [--threads T] [--max-batch B] [--max-wait-ms W]\n");
    return 2;
  }
  const std::string run = argv[1];
  int requests = 64, threads = 0, rounds = 1;
  ServeConfig config;
  config.model = run;
  config.port = 0;
  config.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = std::stoi(argv[i + 1]);
    if (flag == "--requests")
      requests = value;
    else if (flag == "--threads")
      threads = value;
    else if (flag == "--rounds")
      rounds = value;
    else if (flag == "--max-batch")
      config.batching.max_batch = value;
    else if (flag == "--max-wait-ms")
      config.batching.max_wait_ms = value;
  }
  configure_threads(threads);
  keep_freed_memory();  // as the product's programs do
  const auto images = list_images(argv[2]);
  if (images.empty()) {
    std::fprintf(stderr, "no images in %s\n", argv[2]);
    return 1;
  }
  std::vector<std::string> bytes;
  for (const auto& image : images) bytes.push_back(read_file(image));
  std::map<int, std::vector<double>> ratios;  // clients -> ratio to extraction, a round each
  for (int round = 0; round < rounds; ++round) {
    const double extract = extraction_images_per_s(run, images);
    std::printf("{\"phase\": \"extract\", \"images\": %zu, \"threads\": %d, \"images_per_s\": %.2f}\n", images.size(),
                at::get_num_threads(), extract);
    std::fflush(stdout);

    CaptionServer server(config);
    const int port = server.bind();
    // The clients drive the server from a thread; the server's model runs on this one, as in
    // `captioner serve`.
    std::thread driver([&] {
      for (int clients : {1, 4, 16}) {
        {  // warm-up: one request per client
          httplib::Client c("127.0.0.1", port);
          for (int i = 0; i < clients; ++i) c.Post("/caption", bytes[static_cast<size_t>(i) % bytes.size()], "image/png");
        }
        const BatchStats before = server.captioner().stats();
        std::atomic<int> next{0};
        int failures = 0;
        std::vector<double> latencies;
        std::mutex mutex;
        std::vector<std::thread> pool;
        const auto start = Clock::now();
        for (int t = 0; t < clients; ++t)
          pool.emplace_back([&] {
            httplib::Client c("127.0.0.1", port);
            c.set_read_timeout(300);
            c.set_tcp_nodelay(true);
            for (int i; (i = next++) < requests;) {
              const auto sent = Clock::now();
              const auto r = c.Post("/caption", bytes[static_cast<size_t>(i) % bytes.size()], "image/png");
              const double ms = seconds_since(sent) * 1000;
              std::lock_guard<std::mutex> lock(mutex);
              if (!r || r->status != 200) {
                if (failures++ == 0)
                  std::fprintf(stderr, "first failure: %s\n",
                               r ? (std::to_string(r->status) + " " + r->body).c_str() : httplib::to_string(r.error()).c_str());
              }
              latencies.push_back(ms);
            }
          });
        for (auto& t : pool) t.join();
        const double s = seconds_since(start);
        const BatchStats after = server.captioner().stats();
        const double rate = requests / s;
        std::printf(
            "{\"phase\": \"serve\", \"clients\": %d, \"requests\": %d, \"failures\": %d, \"requests_per_s\": %.2f, "
            "\"p50_ms\": %.1f, \"p99_ms\": %.1f, \"mean_batch\": %.2f, \"ratio_to_extract\": %.2f}\n",
            clients, requests, failures, rate, percentile(latencies, 0.5), percentile(latencies, 0.99),
            static_cast<double>(after.images - before.images) / std::max<int64_t>(1, after.batches - before.batches),
            rate / extract);
        ratios[clients].push_back(rate / extract);
        std::fflush(stdout);
      }
      time_streaming(port, bytes, requests);
      server.stop();
    });
    server.run();
    driver.join();
  }
  for (const auto& [clients, r] : ratios)
    std::printf(
        "{\"summary\": \"median ratio to extraction\", \"clients\": %d, \"rounds\": %zu, \"median\": %.2f, "
        "\"min\": %.2f, \"max\": %.2f}\n",
        clients, r.size(), percentile(r, 0.5), *std::min_element(r.begin(), r.end()), *std::max_element(r.begin(), r.end()));
  return 0;
}
