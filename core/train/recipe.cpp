#include "core/train/recipe.h"

#include <algorithm>

#include "core/util/errors.h"

namespace captioner {

const std::vector<TrainPreset>& train_presets() {
  // Sized on the built-in Shapes data on 2 CPU cores (README, "The first run"): Default gives a
  // model that names the objects right within 10 minutes there, extraction included.
  static const std::vector<TrainPreset> presets = {
      {"quick", "a first look in about 3 minutes on 2 cores: the curves and rough captions", 500, 48, 50, 2},
      {"default", "good captions on the built-in Shapes in under 10 minutes on 2 cores", 1500, 64, 100, 4},
      {"thorough", "the README's recipe: about 30 minutes on 2 cores, best scores", 3000, 96, 100, 10},
  };
  return presets;
}

const TrainPreset& find_train_preset(const std::string& name) {
  std::string known;
  for (const auto& p : train_presets()) {
    if (p.name == name) return p;
    known += (known.empty() ? "" : ", ") + p.name;
  }
  throw ConfigError("unknown preset '" + name + "' (known: " + known + ")");
}

void apply_preset(TrainConfig& c, const TrainPreset& p) {
  c.steps = p.steps;
  c.batch_size = p.batch_size;
  c.val_every = p.val_every;
  c.val_batches = p.val_batches;
  c.checkpoint_every = std::max<int64_t>(100, p.steps / 10);
  // Halve the learning rate twice, at 40 % and 80 % of the run: the late, small steps are what
  // turn a model that knows the words into one that names the right object.
  c.lr_decay = 0.5;
  c.lr_decay_every = std::max<int64_t>(1, p.steps * 2 / 5);
}

TrainConfig recommended_config(const std::string& preset) {
  TrainConfig c;
  c.model.kind = "attention";
  c.model.dropout = 0.2;
  c.lr = 2e-3;
  c.max_len = 22;
  apply_preset(c, find_train_preset(preset));
  return c;
}

}  // namespace captioner
