#include "core/model/config.h"
#include "core/model/config_json.h"

#include <nlohmann/json.hpp>

#include <string>
#include <type_traits>

#include "core/util/errors.h"

namespace captioner {

void TrainConfig::validate() const {
  auto require = [](bool ok, const char* what) {
    if (!ok) throw ConfigError(what);
  };
  require(model.kind == "lstm" || model.kind == "attention", "model kind must be 'lstm' or 'attention'");
  require(model.kind != "attention" || model.layers == 1, "the attention model has one LSTM layer (layers must be 1)");
  require(model.attention_dim > 0 && model.attention_dim <= 65536, "attention size must be in [1, 65536]");
  require(model.attention_penalty >= 0, "attention penalty must be >= 0");
  require(model.feature_dim > 0, "feature dimension must be positive");
  require(model.embed > 0 && model.embed <= 65536, "embedding size must be in [1, 65536]");
  require(model.hidden > 0 && model.hidden <= 65536, "hidden size must be in [1, 65536]");
  require(model.layers >= 1 && model.layers <= 16, "layers must be in [1, 16]");
  require(model.dropout >= 0 && model.dropout < 1, "dropout must be in [0, 1)");
  require(steps >= 1, "steps must be at least 1");
  require(batch_size >= 1, "batch size must be at least 1");
  require(lr > 0, "learning rate must be positive");
  require(lr_decay > 0 && lr_decay <= 1, "learning-rate decay must be in (0, 1]");
  require(lr_decay_every >= 1, "learning-rate decay interval must be at least 1");
  require(max_len >= 2, "max length must be at least 2 (START and one token)");
  require(min_count >= 1, "min count must be at least 1");
  require(val_every >= 1, "validation interval must be at least 1");
  require(val_batches >= 1, "validation batches must be at least 1");
  require(checkpoint_every >= 1, "checkpoint interval must be at least 1");
  require(device == "auto" || device == "cpu" || device == "cuda", "device must be auto, cpu or cuda");
  require(threads >= 0, "threads must be >= 0");
  require(precision == "auto" || precision == "fp32" || precision == "bf16", "precision must be auto, fp32 or bf16");
}

namespace {

// JSON field `key` of `j`, or `fallback` when absent. nlohmann converts a float to an integer field
// with a static_cast, undefined behaviour when it is out of range (found by fuzz_checkpoint_meta):
// an integer field takes JSON integers only.
template <typename T>
T field(const nlohmann::json& j, const char* key, const T& fallback) {
  if (!j.is_object() || !j.contains(key)) return fallback;
  const nlohmann::json& value = j.at(key);
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    if (!value.is_number_integer()) throw ConfigError(std::string("configuration field '") + key + "' must be an integer");
  }
  return value.get<T>();
}

}  // namespace

void to_json(nlohmann::json& j, const ModelConfig& c) {
  j = {{"kind", c.kind},
       {"feature_dim", c.feature_dim},
       {"embed", c.embed},
       {"hidden", c.hidden},
       {"layers", c.layers},
       {"dropout", c.dropout},
       {"attention_dim", c.attention_dim},
       {"attention_penalty", c.attention_penalty},
       {"word_in_query", c.word_in_query},
       {"context_to_output", c.context_to_output},
       {"coverage", c.coverage}};
}

void from_json(const nlohmann::json& j, ModelConfig& c) {
  ModelConfig d;
  c.kind = field(j, "kind", d.kind);
  c.feature_dim = field(j, "feature_dim", d.feature_dim);
  c.embed = field(j, "embed", d.embed);
  c.hidden = field(j, "hidden", d.hidden);
  c.layers = field(j, "layers", d.layers);
  c.dropout = field(j, "dropout", d.dropout);
  c.attention_dim = field(j, "attention_dim", d.attention_dim);
  c.attention_penalty = field(j, "attention_penalty", d.attention_penalty);
  c.word_in_query = field(j, "word_in_query", false);
  c.context_to_output = field(j, "context_to_output", false);
  c.coverage = field(j, "coverage", false);
}

void to_json(nlohmann::json& j, const TrainConfig& c) {
  j = {{"model", c.model},
       {"steps", c.steps},
       {"batch_size", c.batch_size},
       {"lr", c.lr},
       {"lr_decay", c.lr_decay},
       {"lr_decay_every", c.lr_decay_every},
       {"grad_clip", c.grad_clip},
       {"max_len", c.max_len},
       {"min_count", c.min_count},
       {"val_fraction", c.val_fraction},
       {"val_every", c.val_every},
       {"val_batches", c.val_batches},
       {"checkpoint_every", c.checkpoint_every},
       {"seed", c.seed},
       {"device", c.device},
       {"threads", c.threads},
       {"precision", c.precision},
       {"features_path", c.features_path},
       {"encoder_id", c.encoder_id}};
}

void from_json(const nlohmann::json& j, TrainConfig& c) {
  TrainConfig d;
  if (j.contains("model")) j.at("model").get_to(c.model);
  c.steps = field(j, "steps", d.steps);
  c.batch_size = field(j, "batch_size", d.batch_size);
  c.lr = field(j, "lr", d.lr);
  c.lr_decay = field(j, "lr_decay", d.lr_decay);
  c.lr_decay_every = field(j, "lr_decay_every", d.lr_decay_every);
  c.grad_clip = field(j, "grad_clip", d.grad_clip);
  c.max_len = field(j, "max_len", d.max_len);
  c.min_count = field(j, "min_count", d.min_count);
  c.val_fraction = field(j, "val_fraction", d.val_fraction);
  c.val_every = field(j, "val_every", d.val_every);
  c.val_batches = field(j, "val_batches", d.val_batches);
  c.checkpoint_every = field(j, "checkpoint_every", d.checkpoint_every);
  c.seed = field(j, "seed", d.seed);
  c.device = field(j, "device", d.device);
  c.threads = field(j, "threads", d.threads);
  c.precision = field(j, "precision", d.precision);
  c.features_path = field(j, "features_path", d.features_path);
  c.encoder_id = field(j, "encoder_id", d.encoder_id);
}

}  // namespace captioner
