#include "core/train/trainer.h"
#include "core/run/familiarity.h"
#include "core/run/run_summary.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/core/Generator.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

#include "core/data/batcher.h"
#include "core/data/feature_table.h"
#include "core/data/tokenizer.h"
#include "core/model/config_json.h"
#include "core/model/decoding.h"
#include "core/model/loss.h"
#include "core/run/checkpoint.h"
#include "core/run/run_folder.h"
#include "core/train/shard_threads.h"
#include "core/util/atomic_file.h"
#include "core/util/errors.h"
#include "core/util/file_lock.h"
#include "core/util/hash.h"
#include "core/util/precision.h"
#include "core/util/runtime.h"
#include "core/vision/feature_cache.h"

namespace captioner {

void TrainControl::request_pause() {
  std::lock_guard<std::mutex> lock(mutex_);
  pause_ = true;
}

void TrainControl::request_unpause() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pause_ = false;
  }
  cv_.notify_all();
}

void TrainControl::request_stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
}

bool TrainControl::pause_requested() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pause_;
}

bool TrainControl::wait_while_paused() {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [this] { return !pause_ || stop_.load(); });
  return !stop_.load();
}

namespace {

double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

constexpr uint64_t kCaptionStream = 0x9E3779B97F4A7C15ull;  // decorrelates the generators' seeds
constexpr uint64_t kValStream = 0xC2B2AE3D27D4EB4Full;
constexpr uint64_t kShardStream = 0xD6E8FEB86659FD93ull;
constexpr int kSampleCaptions = 3;

std::string pooled_features_path(const CaptionDataset& dataset, const TrainConfig& config) {
  return !config.features_path.empty() ? config.features_path : dataset.features_path;
}

// The features the configured model reads: the pooled vectors, or the grid beside them.
FeatureTable open_features(const CaptionDataset& dataset, const TrainConfig& config) {
  return open_dataset_features(dataset, pooled_features_path(dataset, config), config.model.kind == "attention");
}

constexpr int64_t kMaxConsecutiveSkips = 10;

// Why the loss is not finite: features that already hold NaN or infinity are the data's fault,
// not the learning rate's. Names the images when it can, and a checkpoint only when one exists.
std::string non_finite_loss_message(double loss, int64_t step, const torch::Tensor& features, const std::vector<int64_t>& images,
                                    bool has_checkpoint) {
  std::string text = "training loss became " + std::to_string(loss) + " at step " + std::to_string(step);
  const auto bad_rows = (~torch::isfinite(features.reshape({features.size(0), -1}))).any(1).nonzero().flatten();
  if (bad_rows.numel() > 0) {
    text += ": the image features of " + std::to_string(bad_rows.numel()) + " image(s) of the batch (dataset index";
    for (int64_t k = 0; k < std::min<int64_t>(bad_rows.numel(), 5); ++k)
      text += (k ? ", " : " ") + std::to_string(images[static_cast<size_t>(bad_rows[k].item<int64_t>())]);
    text += ") hold NaN or infinite values; extract them again";
  } else {
    text += "; lower the learning rate";
  }
  return text + (has_checkpoint ? " (the last good checkpoint is kept)" : " (no checkpoint was saved yet)");
}

std::vector<const TokenizedCaption*> captions_of(const CaptionDataset& dataset, const std::vector<int64_t>& images) {
  std::vector<const TokenizedCaption*> out;
  for (int64_t i : images)
    for (const auto& c : dataset.images[static_cast<size_t>(i)].captions) out.push_back(&c);
  return out;
}

// The observer's messages and states, when there is an observer.
struct RunLog {
  TrainObserver* observer;
  void message(const std::string& text) const {
    if (observer) observer->on_message(text);
  }
  void state(TrainerState s) const {
    if (observer) observer->on_state(s);
  }
};

// What one training step did: its loss and learning rate, or why the run must stop.
struct StepResult {
  double loss = 0;
  double lr = 0;
  size_t images = 0;
  std::string failure;
  bool stopped = false;  // a rank asked to stop: no step was taken
};

// What the ranks of a distributed run must agree on, each as text: the model, the vocabulary,
// the data, and the settings that shape the gradient and the schedule (not the device, thread
// count or file paths, which may differ between machines).
std::vector<std::pair<std::string, std::string>> agreement(const TrainConfig& config, const Vocabulary& vocab,
                                                           const std::string& dataset_fingerprint) {
  nlohmann::json model = config.model;
  nlohmann::json recipe = config;
  for (const char* local : {"model", "device", "threads", "precision", "features_path"}) recipe.erase(local);
  uint64_t words = kFnvOffset;
  for (const auto& w : vocab.words()) words = fnv1a(w.data(), w.size() + 1, words);
  return {{"model", model.dump()},
          {"vocabulary", std::to_string(vocab.size()) + " words, hash " + std::to_string(words)},
          {"dataset", dataset_fingerprint},
          {"training settings", recipe.dump()}};
}

// The first field where two JSON objects differ, as "key a vs b"; both texts when not JSON.
std::string first_difference(const std::string& a, const std::string& b) {
  const auto ja = nlohmann::json::parse(a, nullptr, false), jb = nlohmann::json::parse(b, nullptr, false);
  if (ja.is_object() && jb.is_object()) {
    for (auto it = ja.begin(); it != ja.end(); ++it)
      if (!jb.contains(it.key()) || jb[it.key()] != it.value())
        return it.key() + " " + it.value().dump() + " vs " + (jb.contains(it.key()) ? jb[it.key()].dump() : "none");
    for (auto it = jb.begin(); it != jb.end(); ++it)
      if (!ja.contains(it.key())) return it.key() + " none vs " + it.value().dump();
  }
  return a + " vs " + b;
}

// The parameter's gradient buffer, made (zeros, its own memory, never a view) when it has none.
torch::Tensor& gradient_of(torch::Tensor& parameter) {
  if (!parameter.grad().defined()) parameter.mutable_grad() = torch::zeros_like(parameter);
  return parameter.mutable_grad();
}

// splitmix64's finaliser: nearby inputs give unrelated seeds.
uint64_t mix_seed(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// One share of a training step's batch: rows [begin, end) of the rank's batch, the forward pass
// that made `loss`, and the generator its dropout drew from.
struct Shard {
  int64_t begin = 0, end = 0;
  at::Generator generator;
  CaptionLoss loss;
  double cross_entropy = 0;          // loss.cross_entropy as a number
  std::vector<torch::Tensor> grads;  // per parameter; undefined where no gradient reached it
};

// While it lives (a run that shares its steps), LibTorch runs one thread per calling thread: each
// share has a core. The count before comes back afterwards, for whatever runs next.
class OneThreadEach {
 public:
  OneThreadEach(bool active, int threads_before) : active_(active), before_(threads_before) {
    if (active_) at::set_num_threads(1);
  }
  ~OneThreadEach() {
    if (active_) at::set_num_threads(before_);
  }
  OneThreadEach(const OneThreadEach&) = delete;
  OneThreadEach& operator=(const OneThreadEach&) = delete;

 private:
  bool active_;
  int before_;
};

// Running totals of a run: time, the throughput's moving average, the last saved step, updates
// skipped for a non-finite gradient.
struct RunCounters {
  double elapsed = 0;
  double step_time_ema = 0;
  int64_t last_saved = 0;
  int64_t skipped = 0;
  int64_t consecutive_skips = 0;
};

}  // namespace

struct Trainer::Impl {
  TrainConfig config;
  CaptionDataset dataset;
  std::string run_dir;
  double started_at = 0;  // Unix seconds of the run's first step, for run.json
  DatasetSplit split;
  Vocabulary vocab;
  std::unique_ptr<FeatureTable> features;
  std::unique_ptr<EncodedCaptions> captions;
  std::unique_ptr<ImageSampler> sampler;
  Rng caption_rng;
  // The run's own generator (initial weights, dropout), never LibTorch's process-wide one.
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>();
  CaptionModel model;
  std::unique_ptr<torch::optim::Adam> optimizer;
  TrainingState state;
  TrainControl control;
  torch::Device device = torch::kCPU;
  MatmulPrecision precision = MatmulPrecision::Fp32;  // of the training steps; validation is fp32
  // How many cores share each training step, each on its own part of the batch with one thread:
  // the steps of the product's models are hundreds of small operations, whose dispatch a second
  // thread inside each operation does not shorten (docs/performance.md, "Speed").
  int64_t shards = 1;
  ShardThreads* shard_threads = nullptr;  // during run()
  std::vector<Batch> val_batches;         // fixed validation subset, on `device`
  std::vector<int64_t> sample_images;     // validation images whose captions are shown
  ProcessGroup* group = nullptr;          // distributed: this rank's group; null for one process
  std::unique_ptr<FileLock> run_lock;     // held by the trainer that writes the run folder, until its run ends

  // One process trains into a run folder at a time; a folder it cannot write is found here, not
  // at the first checkpoint.
  void lock_run_folder() {
    if (!writes()) return;
    try {
      run_lock = std::make_unique<FileLock>(RunFolder(run_dir).lock(), FileLock::Wait::Fail);
    } catch (const DataError& e) {
      if (e.reason() == "is locked by another process")
        throw DataError(run_dir, "another process is training into this folder; wait for it or choose another --out");
      throw DataError(run_dir, "cannot write to the run folder (" + e.reason() + ")");
    }
  }
  bool told_no_pause = false;

  int rank() const { return group ? group->rank() : 0; }
  int world_size() const { return group ? group->world_size() : 1; }
  bool writes() const { return rank() == 0; }

  // Refuses to start unless every rank has the same model, vocabulary, data and recipe, then
  // gives every rank rank 0's weights. Ranks other than 0 draw their own dropout masks.
  void join_group() {
    if (!group) return;
    for (const auto& [what, mine] : agreement(config, vocab, state.dataset_fingerprint)) {
      const auto all = group->all_gather_text("agree/" + what, mine);
      for (int r = 1; r < world_size(); ++r)
        if (all[static_cast<size_t>(r)] != all[0])
          throw ConfigError("rank " + std::to_string(r) + "'s " + what + " differs from rank 0's (" +
                            first_difference(all[0], all[static_cast<size_t>(r)]) + "); every rank must train the same run");
    }
    if (config.batch_size < world_size() || static_cast<int64_t>(split.train.size()) < world_size())
      throw ConfigError("a batch of " + std::to_string(config.batch_size) + " from " + std::to_string(split.train.size()) +
                        " training images cannot be shared by " + std::to_string(world_size()) + " ranks");
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> weights;
    for (const auto& p : model->parameters()) weights.push_back(p);
    group->broadcast(weights, 0);
    if (rank() > 0)
      generator.set_current_seed(config.seed ^ (0xD1B54A32D192ED03ull * static_cast<uint64_t>(rank())) ^
                                 static_cast<uint64_t>(state.step));
  }

  // This rank's part [begin, end) of a global batch of n images.
  std::pair<size_t, size_t> share_of(size_t n) const {
    const auto r = static_cast<size_t>(rank()), w = static_cast<size_t>(world_size());
    return {n * r / w, n * (r + 1) / w};
  }

  // Sums the gradients over the ranks, as one flat buffer (one collective per step). A
  // parameter without a gradient on this rank contributes zeros, so every rank sends the same
  // layout.
  void all_reduce_gradients() {
    std::vector<torch::Tensor> grads;
    for (auto& p : model->parameters()) grads.push_back(gradient_of(p));
    std::vector<torch::Tensor> views;
    views.reserve(grads.size());
    for (const auto& g : grads) views.push_back(g.reshape({-1}));
    std::vector<torch::Tensor> flat{torch::cat(views)};
    group->all_reduce_sum(flat);
    int64_t at = 0;
    for (auto& g : grads) {
      g.copy_(flat[0].narrow(0, at, g.numel()).view_as(g));
      at += g.numel();
    }
  }

  void prepare_data() {
    features = std::make_unique<FeatureTable>(open_features(dataset, config));
    if (split.train.empty()) throw DataError(dataset.source, "the training split has no images");
    captions = std::make_unique<EncodedCaptions>(dataset, vocab, config.max_len);
    sampler = std::make_unique<ImageSampler>(split.train, config.seed);
    caption_rng = Rng(config.seed ^ kCaptionStream);
    // What the Caption tab compares new images with (runs from before it get one when resumed).
    if (writes() && !std::filesystem::exists(RunFolder(run_dir).familiarity())) {
      std::error_code ec;
      std::filesystem::create_directories(run_dir, ec);
      std::vector<int64_t> rows;
      for (int64_t i : split.train) rows.push_back(dataset.images[static_cast<size_t>(i)].feature_row);
      write_familiarity_reference(run_dir, *features, rows, config.seed);
    }
  }

  void build_model() {
    device = resolve_device(config.device);
    precision = choose_precision(config.precision, device.is_cpu(), cpu_has_native_bf16());
    generator.set_current_seed(config.seed);
    model = make_caption_model(config.model, vocab.size(), Vocabulary::kPad, generator);
    model->to(device);
    optimizer = std::make_unique<torch::optim::Adam>(model->parameters(), torch::optim::AdamOptions(config.lr));
  }

  void build_validation() {
    val_batches.clear();
    sample_images.clear();
    if (split.val.empty()) return;
    std::vector<int64_t> pool = split.val;
    Rng rng(config.seed ^ kValStream);
    rng.shuffle(pool);
    const auto wanted = static_cast<size_t>(config.val_batches * config.batch_size);
    if (pool.size() > wanted) pool.resize(wanted);
    for (size_t at = 0; at < pool.size(); at += static_cast<size_t>(config.batch_size)) {
      const size_t end = std::min(pool.size(), at + static_cast<size_t>(config.batch_size));
      Batch b = make_batch({pool.begin() + static_cast<std::ptrdiff_t>(at), pool.begin() + static_cast<std::ptrdiff_t>(end)},
                           *captions, *features, rng);
      b.features = torch::Tensor();  // gathered at validation time: a grid subset is large
      b.tokens = b.tokens.to(device);
      val_batches.push_back(std::move(b));
    }
    sample_images.assign(pool.begin(),
                         pool.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(kSampleCaptions, pool.size())));
  }

  double validate() {
    if (val_batches.empty()) return std::numeric_limits<double>::quiet_NaN();
    torch::NoGradGuard no_grad;
    model->eval();
    double total = 0;
    double tokens = 0;
    for (size_t i = static_cast<size_t>(rank()); i < val_batches.size(); i += static_cast<size_t>(world_size())) {
      const auto& b = val_batches[i];
      std::vector<int64_t> rows;
      for (int64_t image : b.images) rows.push_back(captions->feature_row(image));
      const auto result = caption_loss(*model, features->gather(rows).to(device), b.tokens, Vocabulary::kPad);
      total += result.cross_entropy.item<double>() * static_cast<double>(result.tokens);
      tokens += static_cast<double>(result.tokens);
    }
    if (group) {
      std::vector<torch::Tensor> sums{torch::tensor({total, tokens}, torch::kFloat64)};
      group->all_reduce_sum(sums);
      total = sums[0][0].item<double>();
      tokens = sums[0][1].item<double>();
    }
    model->train();
    return tokens == 0 ? std::numeric_limits<double>::quiet_NaN() : total / tokens;
  }

  std::vector<SampleCaption> sample_captions() {
    std::vector<SampleCaption> out;
    model->eval();
    DecodeOptions options;
    options.max_len = static_cast<int>(config.max_len);
    for (int64_t image : sample_images) {
      const ImageRecord& record = dataset.images[static_cast<size_t>(image)];
      const auto caption = decode(*model, vocab, features->gather({record.feature_row}).to(device), options).front();
      SampleCaption sample;
      sample.key = record.key;
      if (dataset.format != DatasetFormat::Handout && !record.file.empty()) sample.image = dataset.image_root + "/" + record.file;
      sample.caption = caption.text();
      if (!record.captions.empty()) sample.reference = join_tokens(record.captions.front());
      out.push_back(std::move(sample));
    }
    model->train();
    return out;
  }

  double lr_at(int64_t step) const {
    const int64_t decays = step / config.lr_decay_every;  // whole periods: the schedule is a staircase
    return config.lr * std::pow(config.lr_decay, static_cast<double>(decays));
  }

  void set_lr(double lr) {
    for (auto& group : optimizer->param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
  }

  // Honours a pause request (blocking until unpaused); false when the run is to stop. A rank of
  // a distributed run cannot wait alone (the others would time out): it goes on, and its stop
  // requests travel with the step's losses instead.
  bool wait_if_paused(const RunLog& log) {
    if (group) {
      if (control.pause_requested() && !told_no_pause) log.message("a distributed run cannot pause: stop it and resume it later");
      told_no_pause = told_no_pause || control.pause_requested();
      return true;
    }
    if (control.pause_requested()) {
      log.state(TrainerState::Paused);
      if (!control.wait_while_paused()) return false;
      log.state(TrainerState::Running);
    }
    return !control.stop_requested();
  }

  // What the run trains on, how, and where: the first lines of its log.
  void describe_run(const RunLog& log) const {
    for (const auto& w : dataset.warnings) log.message(w);
    log.message(runtime_summary(device) + (shards > 1 ? " (each on its share of every batch)" : "") + "; " +
                std::to_string(split.train.size()) + " training and " + std::to_string(split.val.size()) +
                " validation images; vocabulary " + std::to_string(vocab.size()) + "; matrix products in " +
                precision_name(precision) +
                (config.precision == "auto"
                     ? std::string(precision == MatmulPrecision::Bf16 ? " (auto: this CPU multiplies bf16 natively)"
                                                                      : " (auto: no native bf16 products here)")
                     : std::string()));
    if (val_batches.empty()) log.message("no validation images: validation loss will not be reported");
  }

  // The shares of a batch of `rows`: as many as there are step threads (at most one per row), the
  // first drawing its dropout from the run's generator, the others from generators seeded by the
  // run's seed, the rank, the step and the share, so a run repeats and resumes exactly.
  std::vector<Shard> split_batch(int64_t rows) const {
    const int64_t n = std::max<int64_t>(1, std::min(shards, rows));
    std::vector<Shard> parts(static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) {
      Shard& s = parts[static_cast<size_t>(k)];
      s.begin = rows * k / n;
      s.end = rows * (k + 1) / n;
      s.generator = k == 0 ? generator
                           : at::make_generator<at::CPUGeneratorImpl>(
                                 mix_seed(config.seed ^ mix_seed(kShardStream + static_cast<uint64_t>(state.step) * 4096 +
                                                                 static_cast<uint64_t>(rank()) * 64 + static_cast<uint64_t>(k))));
    }
    return parts;
  }

  // Sums the shares' gradients into the parameters' in share order; a parameter no gradient
  // reached keeps its own, as after backward().
  static void add_gradients(const std::vector<torch::Tensor>& params, const std::vector<Shard>& parts) {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) {
      torch::Tensor total;
      for (const auto& s : parts) {
        const auto& g = s.grads[i];
        if (g.defined()) total = total.defined() ? total + g : g;
      }
      if (!total.defined()) continue;
      auto p = params[i];
      gradient_of(p).add_(total);
    }
  }

  // One optimisation step on a fresh batch, its shares on the shard threads. A non-finite loss
  // fails the run; a non-finite gradient skips the update (update_weights).
  StepResult train_step(RunCounters& counters, const RunLog& log) {
    StepResult out;
    const auto images = sampler->next(config.batch_size);
    const auto [begin, end] = share_of(images.size());
    Batch batch = make_batch(images, *captions, *features, caption_rng, begin, end);
    out.images = images.size();
    out.lr = lr_at(state.step);
    set_lr(out.lr);
    optimizer->zero_grad();
    const MatmulPrecisionScope mixed(precision);
    std::vector<Shard> parts = split_batch(static_cast<int64_t>(batch.images.size()));
    forward_shares(parts, batch);
    const double all_tokens = total_loss(parts, out);
    if (out.stopped) return out;
    std::vector<torch::Tensor> objectives;
    for (const auto& s : parts) {
      // The mean over all real tokens: each share's sum over its tokens divided by all the tokens
      // (of every rank, in a distributed run), plus its part of the regulariser (a mean over images).
      torch::Tensor objective = s.loss.loss;
      if (group || parts.size() > 1) {
        objective = s.loss.cross_entropy * (static_cast<double>(s.loss.tokens) / all_tokens);
        if (!s.loss.loss.is_same(s.loss.cross_entropy))
          objective = objective + (s.loss.loss - s.loss.cross_entropy) *
                                      (static_cast<double>(s.end - s.begin) / static_cast<double>(images.size()));
      }
      if (!std::isfinite(out.loss) || !std::isfinite(objective.item<double>())) {
        out.failure = non_finite_loss_message(out.loss, state.step + 1, batch.features, batch.images, counters.last_saved > 0);
        return out;
      }
      objectives.push_back(objective);
    }
    backward_shares(parts, objectives);
    if (group) all_reduce_gradients();
    if (update_weights(counters, log, out)) ++state.step;
    return out;
  }

  // Each share's loss, on its own thread.
  void forward_shares(std::vector<Shard>& parts, const Batch& batch) {
    const auto features_here = batch.features.to(device), tokens_here = batch.tokens.to(device);
    shard_threads->run(parts.size(), [&](size_t k) {
      const MatmulPrecisionScope shard_mixed(precision);
      Shard& s = parts[k];
      s.loss = caption_loss(*model, features_here.narrow(0, s.begin, s.end - s.begin),
                            tokens_here.narrow(0, s.begin, s.end - s.begin), Vocabulary::kPad, s.generator);
      s.cross_entropy = s.loss.cross_entropy.item<double>();
    });
  }

  // Sets out.loss to the step's mean loss over real tokens (every rank's, in a distributed run,
  // where out.stopped says that a rank asked to stop) and returns how many tokens it covers.
  double total_loss(const std::vector<Shard>& parts, StepResult& out) {
    double cross_entropy_sum = 0, tokens = 0;
    for (const auto& s : parts) {
      cross_entropy_sum += s.cross_entropy * static_cast<double>(s.loss.tokens);
      tokens += static_cast<double>(s.loss.tokens);
    }
    out.loss = parts.size() == 1 ? parts[0].cross_entropy : (tokens > 0 ? cross_entropy_sum / tokens : 0.0);
    if (!group) return tokens;
    group->report_step(state.step + 1);
    std::vector<torch::Tensor> totals{
        torch::tensor({cross_entropy_sum, tokens, control.stop_requested() ? 1.0 : 0.0}, torch::kFloat64)};
    group->all_reduce_sum(totals);
    out.stopped = totals[0][2].item<double>() > 0;
    out.loss = totals[0][0].item<double>() / totals[0][1].item<double>();
    return totals[0][1].item<double>();
  }

  // The gradient of the objectives' sum, in the parameters' gradients.
  void backward_shares(std::vector<Shard>& parts, const std::vector<torch::Tensor>& objectives) {
    if (parts.size() == 1) {
      objectives[0].backward();  // into the parameters' gradients, their hooks included
      return;
    }
    // Each share's gradient apart, then summed in share order: the same sum on every run,
    // whichever thread finishes first.
    const auto params = model->parameters();
    shard_threads->run(parts.size(), [&](size_t k) {
      const MatmulPrecisionScope shard_mixed(precision);
      parts[k].grads = torch::autograd::grad({objectives[k]}, params, {}, /*retain_graph=*/false, /*create_graph=*/false,
                                             /*allow_unused=*/true);
    });
    add_gradients(params, parts);
  }

  // Clips and applies the gradient; a non-finite one skips the update (the norm is taken before
  // clipping, with max norm infinity when clipping is off), since it would put NaN into the
  // weights and from there into a checkpoint. False when the run must stop (out.failure says why).
  bool update_weights(RunCounters& counters, const RunLog& log, StepResult& out) {
    const double grad_norm = torch::nn::utils::clip_grad_norm_(
        model->parameters(), config.grad_clip > 0 ? config.grad_clip : std::numeric_limits<double>::infinity());
    if (std::isfinite(grad_norm)) {
      optimizer->step();
      counters.consecutive_skips = 0;
      return true;
    }
    optimizer->zero_grad();
    ++counters.skipped;
    log.message("step " + std::to_string(state.step + 1) + ": the gradient is not finite; update skipped (" +
                std::to_string(counters.skipped) + " so far)");
    if (++counters.consecutive_skips >= kMaxConsecutiveSkips) {
      out.failure = "the gradient was not finite for " + std::to_string(counters.consecutive_skips) +
                    " steps in a row, up to step " + std::to_string(state.step + 1) +
                    "; lower the learning rate or check the data";
      return false;
    }
    return true;
  }

  // The progress of the step just taken, validated when it is a validation step, and kept in
  // the history. Validation time counts in the elapsed time, not in the throughput.
  TrainProgress record_step(const StepResult& step, std::chrono::steady_clock::duration took, RunCounters& counters) {
    const double step_time = std::chrono::duration<double>(took).count();
    counters.step_time_ema = counters.step_time_ema == 0 ? step_time : 0.9 * counters.step_time_ema + 0.1 * step_time;
    TrainProgress p;
    p.step = state.step;
    p.total_steps = config.steps;
    p.train_loss = step.loss;
    p.val_loss = std::numeric_limits<double>::quiet_NaN();
    p.captions_per_s = static_cast<double>(step.images) / counters.step_time_ema;
    p.step_captions_per_s = static_cast<double>(step.images) / step_time;
    p.lr = step.lr;
    p.skipped_updates = counters.skipped;
    if (state.step % config.val_every == 0 || state.step == config.steps) {
      const auto val_start = std::chrono::steady_clock::now();
      p.val_loss = validate();
      p.validated = !std::isnan(p.val_loss);
      if (p.validated && writes()) p.samples = sample_captions();
      counters.elapsed += std::chrono::duration<double>(std::chrono::steady_clock::now() - val_start).count();
    }
    counters.elapsed += step_time;
    p.elapsed_s = counters.elapsed;
    p.eta_s = static_cast<double>(config.steps - state.step) * counters.step_time_ema;
    // The history keeps each step's own throughput: the moving average still remembers the slow
    // first steps twenty steps later.
    p.wall_time = unix_now();
    state.history.rows.push_back({p.step, p.train_loss, p.val_loss, p.step_captions_per_s, p.lr, p.elapsed_s, p.wall_time});
    p.best_val_loss = state.history.best_val_loss();
    return p;
  }

  void save(TrainObserver* observer) {
    if (!writes()) return;
    state.sampler_state = sampler->state();
    state.caption_rng_state = caption_rng.state();
    {
      std::lock_guard<std::mutex> lock(generator.mutex());
      state.torch_rng_state = generator.get_state();
    }
    CheckpointContents contents;
    contents.config = &config;
    contents.vocab = &vocab;
    contents.model = model;
    contents.optimizer = optimizer.get();
    contents.state = &state;
    const std::string path = RunFolder(run_dir).checkpoint();
    save_checkpoint(path, contents);
    write_file_atomically(RunFolder(run_dir).history(), state.history.to_csv());
    write_summary("running");
    if (observer) observer->on_checkpoint(path, state.step);
  }

  void write_summary(const std::string& how) {
    if (!writes()) return;
    RunSummary summary;
    summary.config = config;
    summary.precision = precision_name(precision);
    summary.dataset = absolute_path(dataset.source);  // usable from any folder
    summary.step = state.step;
    summary.state = how;
    summary.best_val_loss = state.history.best_val_loss();
    summary.started_at = started_at;
    summary.updated_at = unix_now();
    write_run_summary(run_dir, summary);
  }
};

Trainer::Trainer() : impl_(std::make_unique<Impl>()) {}
Trainer::~Trainer() = default;

Trainer::Trainer(const TrainConfig& config, CaptionDataset dataset, const std::string& run_dir, ProcessGroup* group) : Trainer() {
  config.validate();
  Impl& d = *impl_;
  d.config = config;
  d.dataset = std::move(dataset);
  d.run_dir = run_dir;
  d.group = group;
  std::error_code ec;
  if (d.writes()) std::filesystem::create_directories(run_dir, ec);
  if (ec) throw DataError(run_dir, "cannot create run folder: " + ec.message());
  d.lock_run_folder();

  d.split = split_images(d.dataset, config.val_fraction, 0.0, config.seed);
  d.vocab = Vocabulary::build(captions_of(d.dataset, d.split.train), static_cast<int>(config.min_count));
  FeatureTable probe = open_features(d.dataset, config);
  d.config.model.feature_dim = probe.dim();
  d.config.encoder_id = features_encoder_id(pooled_features_path(d.dataset, config));
  d.state.dataset_fingerprint = dataset_fingerprint(d.dataset);
  d.prepare_data();
  d.build_model();
  d.build_validation();
  d.join_group();
}

std::unique_ptr<Trainer> Trainer::resume(const std::string& run_dir, CaptionDataset dataset, int64_t steps, ProcessGroup* group) {
  std::unique_ptr<Trainer> trainer(new Trainer());
  Impl& d = *trainer->impl_;
  d.group = group;
  const std::string path = RunFolder(run_dir).checkpoint();
  d.run_dir = run_dir;
  LoadedCheckpoint saved = load_checkpoint(path);  // first: a missing run is named as such
  d.lock_run_folder();
  if (!saved.has_optimizer) throw CheckpointError(path, "is a model export without training state; it cannot be resumed");
  d.config = saved.config;
  if (steps > 0) d.config.steps = steps;
  d.config.validate();
  d.dataset = std::move(dataset);
  d.run_dir = run_dir;
  if (dataset_fingerprint(d.dataset) != saved.state.dataset_fingerprint)
    throw DataError(d.dataset.source, "is not the dataset the run in " + run_dir + " was trained on");
  d.split = split_images(d.dataset, d.config.val_fraction, 0.0, d.config.seed);
  d.vocab = saved.vocab;
  d.state = saved.state;
  d.prepare_data();
  if (d.features->dim() != d.config.model.feature_dim)
    throw DataError(pooled_features_path(d.dataset, d.config), "features have " + std::to_string(d.features->dim()) +
                                                                   " columns; the model expects " +
                                                                   std::to_string(d.config.model.feature_dim));
  d.sampler->restore(saved.state.sampler_state);
  d.caption_rng.restore(saved.state.caption_rng_state);
  if (saved.state.torch_rng_state.defined()) {
    std::lock_guard<std::mutex> lock(d.generator.mutex());
    d.generator.set_state(saved.state.torch_rng_state);
  } else {
    d.generator.set_current_seed(d.config.seed);
  }
  d.device = resolve_device(d.config.device);
  d.precision = choose_precision(d.config.precision, d.device.is_cpu(), cpu_has_native_bf16());
  d.model = saved.model;
  d.model->to(d.device);
  d.optimizer = std::make_unique<torch::optim::Adam>(d.model->parameters(), torch::optim::AdamOptions(d.config.lr));
  restore_optimizer(saved, *d.optimizer, path);
  d.build_validation();
  d.join_group();
  return trainer;
}

TrainResult Trainer::run(TrainObserver* observer) {
  Impl& d = *impl_;
  const int threads = configure_threads(d.config.threads);
  d.shards = d.device.is_cpu() ? threads : 1;
  RunLog log{observer};
  d.describe_run(log);
  const OneThreadEach one_thread_each(d.shards > 1, threads);
  ShardThreads shard_threads(static_cast<size_t>(d.shards));
  d.shard_threads = &shard_threads;

  TrainResult result;
  RunCounters counters;
  counters.elapsed = d.state.history.rows.empty() ? 0.0 : d.state.history.rows.back().elapsed_s;
  counters.last_saved = d.state.step;
  const auto& rows = d.state.history.rows;
  d.started_at = !rows.empty() && rows.front().wall_time > 0 ? rows.front().wall_time - rows.front().elapsed_s : unix_now();
  d.model->train();
  log.state(TrainerState::Running);
  try {
    while (d.state.step < d.config.steps && d.wait_if_paused(log)) {
      const auto start = std::chrono::steady_clock::now();
      const StepResult step = d.train_step(counters, log);
      if (step.stopped) break;
      if (!step.failure.empty()) {
        result.state = TrainerState::Failed;
        result.error = step.failure;
        break;
      }
      const TrainProgress p = d.record_step(step, std::chrono::steady_clock::now() - start, counters);
      if (observer) observer->on_progress(p);
      if (d.state.step % d.config.checkpoint_every == 0 || d.state.step == d.config.steps) {
        d.save(observer);
        counters.last_saved = d.state.step;
      }
    }
    if (result.state != TrainerState::Failed) {
      if (d.state.step != counters.last_saved) d.save(observer);
      result.state = d.state.step >= d.config.steps ? TrainerState::Finished : TrainerState::Stopped;
    }
  } catch (const std::exception& e) {
    result.state = TrainerState::Failed;
    result.error = e.what();
  }
  if (d.group && result.state == TrainerState::Failed) d.group->report_failure(result.error);
  result.step = d.state.step;
  try {
    d.write_summary(result.state == TrainerState::Finished  ? "finished"
                    : result.state == TrainerState::Stopped ? "stopped"
                                                            : "failed");
  } catch (const std::exception& e) {
    log.message(std::string("could not write the run summary: ") + e.what());
  }
  if (!result.error.empty()) log.message(result.error);
  d.run_lock.reset();  // the run is over: another trainer (a resume) may write the folder now
  log.state(result.state);
  return result;
}

void Trainer::record_dataset_source(const std::string& fingerprint) { impl_->state.source_fingerprint = fingerprint; }

TrainControl& Trainer::control() { return impl_->control; }
const TrainConfig& Trainer::config() const { return impl_->config; }
const Vocabulary& Trainer::vocabulary() const { return impl_->vocab; }
const DatasetSplit& Trainer::split() const { return impl_->split; }
const History& Trainer::history() const { return impl_->state.history; }
int64_t Trainer::step() const { return impl_->state.step; }
CaptionModel Trainer::model() const { return impl_->model; }

}  // namespace captioner
