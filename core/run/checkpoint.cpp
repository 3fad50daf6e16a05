#include "core/run/checkpoint.h"
#include "core/run/run_folder.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/serialize/output-archive.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>

#include "core/model/config_json.h"
#include "core/util/archive_check.h"
#include "core/util/atomic_file.h"
#include "core/util/errors.h"
#include "core/util/hash.h"
#include "core/util/printable.h"

namespace captioner {

std::string LoadedCheckpoint::summary() const {
  return config.model.kind + " model, hidden " + std::to_string(config.model.hidden) + ", vocabulary " +
         std::to_string(vocab.size()) + ", step " + std::to_string(state.step);
}

namespace {

constexpr const char* kFormat = "captioner-checkpoint";
// 2: the optimizer state is a byte record, and every record has a checksum in the metadata.
constexpr int kFormatVersion = 2;
constexpr int64_t kHistoryColumns = 7;  // checkpoints before HistoryRow::wall_time have 6

torch::Tensor history_to_tensor(const History& history) {
  auto t = torch::empty({static_cast<int64_t>(history.rows.size()), kHistoryColumns}, torch::kFloat64);
  auto* p = t.data_ptr<double>();
  for (const auto& r : history.rows) {
    *p++ = static_cast<double>(r.step);
    *p++ = r.train_loss;
    *p++ = r.val_loss;
    *p++ = r.captions_per_s;
    *p++ = r.lr;
    *p++ = r.elapsed_s;
    *p++ = r.wall_time;
  }
  return t;
}

History history_from_tensor(const torch::Tensor& t) {
  History history;
  if (t.dim() != 2 || (t.size(1) != kHistoryColumns && t.size(1) != 6)) return history;
  const auto c = t.to(torch::kFloat64).contiguous();
  const auto* p = c.data_ptr<double>();
  const int64_t columns = c.size(1);
  for (int64_t i = 0; i < c.size(0); ++i, p += columns)
    history.rows.push_back({static_cast<int64_t>(p[0]), p[1], p[2], p[3], p[4], p[5], columns > 6 ? p[6] : 0.0});
  return history;
}

std::string hex(uint64_t h) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

// FNV-1a continued over a tensor's shape and bytes.
uint64_t hash_tensor(uint64_t h, const torch::Tensor& t) {
  for (const int64_t d : t.sizes()) h = fnv1a(&d, sizeof d, h);
  const auto cpu = t.detach().to(torch::kCPU).contiguous();
  return fnv1a(cpu.data_ptr(), static_cast<size_t>(cpu.numel()) * cpu.element_size(), h);
}

// FNV-1a over every parameter and buffer (name, shape, bytes) in the module's own order: a
// flipped weight byte, which LibTorch's archive reader does not notice, changes it.
std::string weights_checksum(const torch::nn::Module& model) {
  uint64_t h = kFnvOffset;
  auto add = [&](const std::string& name, const torch::Tensor& t) { h = hash_tensor(fnv1a(name.data(), name.size(), h), t); };
  for (const auto& item : model.named_parameters()) add(item.key(), item.value());
  for (const auto& item : model.named_buffers()) add(item.key(), item.value());
  return hex(h);
}

// A record's checksum: its element type, shape and bytes.
std::string tensor_checksum(const torch::Tensor& t) {
  const auto kind = static_cast<int>(t.scalar_type());
  return hex(hash_tensor(fnv1a(&kind, sizeof kind, kFnvOffset), t));
}

std::string archive_bytes(torch::serialize::OutputArchive& archive) {
  std::string bytes;
  archive.save_to([&bytes](const void* data, size_t size) {
    bytes.append(static_cast<const char*>(data), size);
    return size;
  });
  return bytes;
}

// LibTorch reads a tensor whose shape needs more bytes than its stored record holds without
// complaint (and then reads past the record): the record's length is checked here.
torch::Tensor read_record(torch::serialize::InputArchive& archive, const char* key, const std::string& path) {
  torch::Tensor t;
  if (!archive.try_read(key, t)) return t;
  const std::string short_storage = short_storage_problem(t);
  if (!short_storage.empty())
    throw CheckpointError(path, std::string("its ") + key + " record is cut short (" + short_storage + ")");
  return t.to(torch::kCPU);
}

void check_record(const nlohmann::json& sums, const char* key, const torch::Tensor& t, const std::string& path) {
  if (!sums.contains(key)) throw CheckpointError(path, std::string("its metadata has no checksum for the ") + key + " record");
  if (!t.defined()) throw CheckpointError(path, std::string("its ") + key + " record is missing");
  if (sums[key] != tensor_checksum(t))
    throw CheckpointError(path,
                          std::string("its ") + key + " record does not match the checksum saved with it: the file is corrupt");
}

torch::Tensor bytes_tensor(const std::string& bytes) {
  auto t = torch::empty({static_cast<int64_t>(bytes.size())}, torch::kUInt8);
  if (!bytes.empty()) std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
  return t;
}

std::string shape_text(at::IntArrayRef sizes) {
  std::string out = "[";
  for (size_t i = 0; i < sizes.size(); ++i) out += (i ? ", " : "") + std::to_string(sizes[i]);
  return out + "]";
}

}  // namespace

GridLayer trained_grid_layer(const std::string& path, const TrainConfig& config) {
  try {
    return grid_layer_of(config.encoder_id);
  } catch (const DataError& e) {
    throw DataError(path, e.reason());
  }
}

GridLayer run_grid_layer(const std::string& run_dir) {
  const std::string path = RunFolder(run_dir).checkpoint();
  return trained_grid_layer(path, load_checkpoint(path).config);
}

void save_checkpoint(const std::string& path, const CheckpointContents& contents, const std::function<void()>& before_rename) {
  if (contents.config == nullptr || contents.vocab == nullptr || !contents.model || contents.state == nullptr)
    throw std::invalid_argument("save_checkpoint: incomplete contents");
  const TrainingState& state = *contents.state;
  nlohmann::json meta = {{"format", kFormat},
                         {"version", kFormatVersion},
                         {"config", *contents.config},
                         {"vocabulary", contents.vocab->words()},
                         {"step", state.step},
                         {"weights_fnv1a", weights_checksum(*contents.model)},
                         {"sampler", state.sampler_state},
                         {"caption_rng", state.caption_rng_state},
                         {"dataset", state.dataset_fingerprint},
                         {"dataset_source", state.source_fingerprint}};

  // Every record but the weights (checked above) as a tensor with its checksum in the metadata.
  std::map<std::string, torch::Tensor> records = {{"history", history_to_tensor(state.history)}};
  if (state.torch_rng_state.defined()) records["torch_rng"] = state.torch_rng_state;
  if (contents.optimizer != nullptr) {
    torch::serialize::OutputArchive optimizer_archive;
    contents.optimizer->save(optimizer_archive);
    records["optimizer_state"] = bytes_tensor(archive_bytes(optimizer_archive));
  }
  nlohmann::json sums = nlohmann::json::object();
  for (const auto& [key, t] : records) sums[key] = tensor_checksum(t);
  meta["records_fnv1a"] = sums;

  torch::serialize::OutputArchive archive;
  archive.write("meta", c10::IValue(meta.dump()));
  for (const auto& [key, t] : records) archive.write(key, t);
  torch::serialize::OutputArchive model_archive;
  contents.model->save(model_archive);
  archive.write("model", model_archive);
  write_file_atomically(path, archive_bytes(archive), before_rename);
}

CheckpointMeta read_checkpoint_meta(const std::string& text, const std::string& path, uint64_t file_bytes) {
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw CheckpointError(path, "its metadata is not JSON (" + excerpt(e.what(), 200) + ")");
  }
  if (!meta.is_object() || !meta.contains("format") || meta["format"] != kFormat)
    throw CheckpointError(path, "not a Captioner checkpoint");
  CheckpointMeta out;
  try {
    // Integers only: nlohmann's cast of an out-of-range float to an integer is undefined.
    for (const char* key : {"version", "step"})
      if (meta.contains(key) && !meta[key].is_number_integer())
        throw CheckpointError(path, std::string("its metadata field '") + key + "' is not an integer");
    const int version = meta.value("version", 0);
    if (version > kFormatVersion)
      throw CheckpointError(path, "written by a newer Captioner (format version " + std::to_string(version) + ")");
    meta.at("config").get_to(out.config);
    out.vocab = Vocabulary::from_words(meta.at("vocabulary").get<std::vector<std::string>>());
    out.step = meta.at("step").get<int64_t>();
    out.sampler_state = meta.value("sampler", "");
    out.caption_rng_state = meta.value("caption_rng", "");
    out.dataset_fingerprint = meta.value("dataset", "");
    out.source_fingerprint = meta.value("dataset_source", "");
    out.weights_checksum = meta.value("weights_fnv1a", "");
    out.version = version;
    if (meta.contains("records_fnv1a")) out.record_checksums = meta["records_fnv1a"].dump();
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::exception& e) {
    throw CheckpointError(path, "its metadata is inconsistent (" + excerpt(e.what(), 200) + ")");
  }
  try {
    out.config.validate();
  } catch (const ConfigError& e) {
    throw CheckpointError(path, std::string("its configuration is invalid: ") + e.what());
  }
  if (out.step < 0) throw CheckpointError(path, "step " + std::to_string(out.step) + " is negative");
  // Weights every model of this configuration has at least (embedding, output layer, recurrent
  // matrices), 4 bytes each: more than the file holds means the configuration is not the one saved.
  const double vocab = static_cast<double>(out.vocab.size());
  const auto& m = out.config.model;
  const double at_least =
      4 * (vocab * static_cast<double>(m.embed + m.hidden) +
           4.0 * static_cast<double>(m.hidden) * static_cast<double>(m.hidden) * static_cast<double>(m.layers));
  if (at_least > static_cast<double>(file_bytes))
    throw CheckpointError(path, "its configuration (vocabulary " + std::to_string(out.vocab.size()) + ", hidden " +
                                    std::to_string(m.hidden) + ", embedding " + std::to_string(m.embed) +
                                    ") needs more weights than the file holds");
  return out;
}

namespace {

// The model the saved configuration makes, with the saved weights, each checked: the shape the
// configuration gives it (LibTorch's load replaces a tensor whatever its shape), finite values,
// and all of them against the checksum saved with them (when the file has one).
void load_weights(LoadedCheckpoint& loaded, const std::string& checksum, const std::string& path) {
  loaded.model = make_caption_model(loaded.config.model, loaded.vocab.size(), Vocabulary::kPad);
  std::vector<std::pair<std::string, std::vector<int64_t>>> expected;
  for (const auto& item : loaded.model->named_parameters()) expected.emplace_back(item.key(), item.value().sizes().vec());
  torch::serialize::InputArchive model_archive;
  loaded.archive->read("model", model_archive);
  loaded.model->load(model_archive);
  for (const auto& items : {loaded.model->named_parameters(), loaded.model->named_buffers()})
    for (const auto& item : items) {
      const std::string short_storage = short_storage_problem(item.value());
      if (!short_storage.empty()) throw CheckpointError(path, "weight " + item.key() + " is cut short (" + short_storage + ")");
    }
  const auto params = loaded.model->named_parameters();
  for (const auto& [name, shape] : expected) {
    const auto* t = params.find(name);
    if (t == nullptr || t->sizes().vec() != shape)
      throw CheckpointError(path, "weight " + name + " is " + (t ? shape_text(t->sizes()) : "missing") +
                                      " but the saved configuration (vocabulary " + std::to_string(loaded.vocab.size()) +
                                      ", hidden " + std::to_string(loaded.config.model.hidden) + ") makes " + shape_text(shape));
    if (!torch::isfinite(*t).all().item<bool>()) throw CheckpointError(path, "weight " + name + " holds NaN or infinite values");
  }
  if (!checksum.empty() && checksum != weights_checksum(*loaded.model))
    throw CheckpointError(path, "the weights do not match the checksum saved with them: the file is corrupt");
}

// The records beside the weights (history, generator state, optimizer state), each checked against
// its checksum (format 2) before anything reads its contents.
void read_training_records(LoadedCheckpoint& loaded, const CheckpointMeta& meta, const std::string& path) {
  const torch::Tensor history = read_record(*loaded.archive, "history", path);
  const torch::Tensor rng = read_record(*loaded.archive, "torch_rng", path);
  if (meta.version >= 2) {
    const auto sums = nlohmann::json::parse(meta.record_checksums.empty() ? "{}" : meta.record_checksums);
    check_record(sums, "history", history, path);
    if (sums.contains("torch_rng")) check_record(sums, "torch_rng", rng, path);
    if (sums.contains("optimizer_state")) {
      loaded.optimizer_state = read_record(*loaded.archive, "optimizer_state", path);
      check_record(sums, "optimizer_state", loaded.optimizer_state, path);
    }
    loaded.has_optimizer = loaded.optimizer_state.defined();
  } else {
    torch::serialize::InputArchive probe;
    loaded.has_optimizer = loaded.archive->try_read("optimizer", probe);
  }
  if (history.defined()) loaded.state.history = history_from_tensor(history);
  if (rng.defined()) {
    // The run's generator state is a fixed-size byte record: another size is not one.
    const auto expected = at::make_generator<at::CPUGeneratorImpl>().get_state();
    if (rng.scalar_type() != expected.scalar_type() || rng.sizes() != expected.sizes())
      throw CheckpointError(path, "its random generator record is " + shape_text(rng.sizes()) + ", not the " +
                                      shape_text(expected.sizes()) + " bytes of a generator state");
    loaded.state.torch_rng_state = rng;
  }
}

}  // namespace

LoadedCheckpoint load_checkpoint(const std::string& path, const torch::Device& device) {
  const std::string bytes = [&] {
    try {
      return read_file(path);
    } catch (const DataError& e) {
      throw CheckpointError(path, e.reason());
    }
  }();
  const std::string pickle_problem = archive_pickle_problem(bytes);
  if (!pickle_problem.empty()) throw CheckpointError(path, pickle_problem);
  LoadedCheckpoint loaded;
  loaded.archive = std::make_shared<torch::serialize::InputArchive>();
  std::string meta_text;
  try {
    loaded.archive->load_from(bytes.data(), bytes.size(), device);
    c10::IValue meta_value;
    loaded.archive->read("meta", meta_value);
    meta_text = meta_value.toStringRef();
  } catch (const c10::Error& e) {
    throw CheckpointError(path, "not a readable Captioner checkpoint (" + excerpt(e.what_without_backtrace(), 200) + ")");
  } catch (const std::exception& e) {
    throw CheckpointError(path, "not a readable Captioner checkpoint (" + excerpt(e.what(), 200) + ")");
  }
  CheckpointMeta meta = read_checkpoint_meta(meta_text, path, bytes.size());
  loaded.config = std::move(meta.config);
  loaded.vocab = std::move(meta.vocab);
  loaded.state.step = meta.step;
  loaded.state.sampler_state = std::move(meta.sampler_state);
  loaded.state.caption_rng_state = std::move(meta.caption_rng_state);
  loaded.state.dataset_fingerprint = std::move(meta.dataset_fingerprint);
  loaded.state.source_fingerprint = std::move(meta.source_fingerprint);
  try {
    read_training_records(loaded, meta, path);
    load_weights(loaded, meta.weights_checksum, path);
    loaded.model->to(device);
    loaded.model->eval();
  } catch (const CheckpointError&) {
    throw;
  } catch (const c10::Error& e) {
    throw CheckpointError(path, "checkpoint content is inconsistent (" + excerpt(e.what_without_backtrace(), 200) + ")");
  } catch (const std::exception& e) {
    throw CheckpointError(path, "checkpoint content is inconsistent (" + excerpt(e.what(), 200) + ")");
  }
  return loaded;
}

void restore_optimizer(const LoadedCheckpoint& checkpoint, torch::optim::Optimizer& optimizer, const std::string& path) {
  torch::serialize::InputArchive optimizer_archive;
  try {
    if (checkpoint.optimizer_state.defined()) {  // checked against its checksum when loaded
      const auto& bytes = checkpoint.optimizer_state;
      optimizer_archive.load_from(static_cast<const char*>(bytes.data_ptr()), static_cast<size_t>(bytes.numel()));
    } else if (!checkpoint.archive || !checkpoint.archive->try_read("optimizer", optimizer_archive)) {
      throw CheckpointError(path, "it holds no optimizer state");
    }
    optimizer.load(optimizer_archive);
  } catch (const CheckpointError&) {
    throw;
  } catch (const c10::Error& e) {
    throw CheckpointError(path, "its optimizer state does not fit the model (" + excerpt(e.what_without_backtrace(), 200) + ")");
  }
}

}  // namespace captioner
