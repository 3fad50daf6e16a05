// A synthetic feature cache of any size, to measure training at COCO scale without COCO:
//   make_feature_cache OUT [--images 118287] [--channels 2048] [--cells 64] [--vocab 10403]
// writes OUT/dataset.json (Karpathy format, 95 % train / 5 % val, 5 captions per image made by
// bench_train's rule, bench_inputs.md: 6-18 words, START and END making 8-20 tokens, each word
// one of vocab - 4 drawn uniformly, so that bench_train and `captioner train` time the same
// shapes) and the cache OUT/features:
// pooled.npy (float32 [images, channels]) and grid.npy (float16 [images, cells, channels]),
// what `captioner extract` writes. At the defaults the grid is 31 GB: bigger than the memory of
// the machines this is measured on. The feature values are random (256 distinct rows, reused):
// the point is their size and layout, not their content. Not a test: a benchmark tool.
#include <c10/util/Half.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/util/atomic_file.h"
#include "core/util/npy.h"

namespace {

void write_all(std::FILE* f, const void* data, size_t bytes, const std::string& path) {
  if (std::fwrite(data, 1, bytes, f) != bytes) throw std::runtime_error(path + ": write failed (disk full?)");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: make_feature_cache OUT [--images N] [--channels C] [--cells K] [--vocab V]\n");
    return 2;
  }
  const std::string out = argv[1];
  int64_t images = 118287, channels = 2048, cells = 64, vocab = 10403;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const int64_t value = std::stoll(argv[i + 1]);
    if (key == "--images")
      images = value;
    else if (key == "--channels")
      channels = value;
    else if (key == "--cells")
      cells = value;
    else if (key == "--vocab")
      vocab = value;
    else {
      std::fprintf(stderr, "unknown option %s\n", key.c_str());
      return 2;
    }
  }
  try {
    std::filesystem::create_directories(out + "/features");
    uint64_t x = 1;  // bench_inputs.md's generator
    auto next = [&x] { return x = (1103515245ull * x + 12345ull) % 2147483648ull; };
    nlohmann::json list = nlohmann::json::array();
    for (int64_t i = 0; i < images; ++i) {
      nlohmann::json sentences = nlohmann::json::array();
      for (int c = 0; c < 5; ++c) {
        std::vector<std::string> tokens;
        for (int64_t w = 6 + static_cast<int64_t>(next() % 13); w > 0; --w)
          tokens.push_back("w" + std::to_string(next() % static_cast<uint64_t>(vocab - 4)));
        sentences.push_back({{"tokens", tokens}});
      }
      char name[32];
      std::snprintf(name, sizeof name, "%012lld.jpg", static_cast<long long>(i));
      list.push_back({{"filename", name}, {"imgid", i}, {"split", i % 20 == 0 ? "val" : "train"}, {"sentences", sentences}});
    }
    captioner::write_file_atomically(out + "/dataset.json", nlohmann::json{{"images", list}}.dump());

    std::mt19937_64 rng(1);
    std::normal_distribution<float> normal(0.f, 1.f);
    std::vector<float> pooled_row(static_cast<size_t>(channels));
    const std::string pooled = out + "/features/pooled.npy", grid = out + "/features/grid.npy";
    std::vector<std::vector<c10::Half>> rows(256, std::vector<c10::Half>(static_cast<size_t>(cells * channels)));
    for (auto& r : rows)
      for (auto& v : r) v = c10::Half(std::abs(normal(rng)));  // post-ReLU features are >= 0
    std::FILE* p = std::fopen(pooled.c_str(), "wb");
    std::FILE* g = std::fopen(grid.c_str(), "wb");
    if (!p || !g) throw std::runtime_error("cannot create the feature files under " + out + "/features");
    const std::string ph = captioner::npy_header("<f4", {images, channels}),
                      gh = captioner::npy_header("<f2", {images, cells, channels});
    write_all(p, ph.data(), ph.size(), pooled);
    write_all(g, gh.data(), gh.size(), grid);
    for (int64_t i = 0; i < images; ++i) {
      const auto& r = rows[static_cast<size_t>(i % 256)];
      for (int64_t c = 0; c < channels; ++c) {
        float sum = 0;
        for (int64_t k = 0; k < cells; ++k) sum += static_cast<float>(r[static_cast<size_t>(k * channels + c)]);
        pooled_row[static_cast<size_t>(c)] = sum / static_cast<float>(cells);
      }
      write_all(p, pooled_row.data(), pooled_row.size() * sizeof(float), pooled);
      write_all(g, r.data(), r.size() * sizeof(c10::Half), grid);
      if ((i + 1) % 10000 == 0 || i + 1 == images)
        std::fprintf(stderr, "%lld/%lld images\n", static_cast<long long>(i + 1), static_cast<long long>(images));
    }
    if (std::fclose(p) != 0 || std::fclose(g) != 0) throw std::runtime_error("cannot finish the feature files under " + out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
