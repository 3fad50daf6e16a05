#include "core/train/recipe.h"

#include <algorithm>

#include "core/util/errors.h"

namespace captioner {

const std::vector<TrainPreset>& train_presets() {
  // Sized on the built-in Shapes data (4,000 natural-style scenes) on 2 CPU cores, where the
  // recipe's model trains at about 30 steps of 32 captions per second, validation included
  // (docs/performance.md, "Speed"). Batches of 32 named the objects better than batches of 64 for the
  // same number of captions seen.
  static const std::vector<TrainPreset> presets = {
      {"quick", "a first look in about a minute of training on 2 cores: the curves and rough captions", 1500, 32, 100, 4},
      {"default", "the built-in Shapes data in about 7 minutes on 2 cores, feature extraction included", 8000, 32, 250, 10},
      // On 2,000 scenes, the built-in data's earlier size, these steps overfit (validation loss
      // rose after about 5,000 steps, docs/results.md): more steps pay off on larger datasets.
      {"thorough", "about 8 minutes of training on 2 cores, for datasets larger than the built-in one", 12000, 32, 500, 10},
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
  c.checkpoint_every = derive_checkpoint_every(p.steps);
  derive_lr_decay(c);
}

int64_t derive_checkpoint_every(int64_t steps) {
  return std::max(std::min<int64_t>(100, std::max<int64_t>(1, steps / 2)), steps / 10);
}

void derive_lr_decay(TrainConfig& c) {
  // Halve the learning rate twice, at 40 % and 80 % of the run: the late, small steps are what
  // turn a model that knows the words into one that names the right object.
  c.lr_decay = 0.5;
  c.lr_decay_every = std::max<int64_t>(1, (c.steps * 2 + 4) / 5);  // rounded up: never a third halving
}

TrainConfig recommended_config(const std::string& preset) {
  TrainConfig c;
  c.model.kind = "attention";
  c.model.dropout = 0.2;
  // A narrow attention (64 wide, not 256) trains about 2.2 times as many steps per second on the
  // CPU, which bought more than the width; with coverage the captions named more of the objects
  // and invented fewer (README, "The first run").
  c.model.attention_dim = 64;
  c.model.coverage = true;
  c.lr = 2e-3;
  c.max_len = 22;
  c.precision = "auto";  // bf16 products where the CPU has bf16 units (README, "Performance")
  apply_preset(c, find_train_preset(preset));
  return c;
}

}  // namespace captioner
