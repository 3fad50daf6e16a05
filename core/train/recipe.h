#pragma once
// The product's training recipe: what the desktop app's form starts from and what
// `captioner train` trains when given no option, so that both train the same model. Presets
// (Quick, Default, Thorough) set the run's length and cadence together.
//
// TrainConfig's own defaults stay the notebook's values: a checkpoint written before a field
// existed reads that field's struct default, so those defaults must never move.
#include <cstdint>
#include <string>
#include <vector>

#include "core/model/config.h"

namespace captioner {

struct TrainPreset {
  std::string name;     // "quick", "default", "thorough"
  std::string summary;  // one line for a tooltip or --help
  int64_t steps = 0;
  int64_t batch_size = 0;
  int64_t val_every = 0;
  int64_t val_batches = 0;
};

const std::vector<TrainPreset>& train_presets();
// Throws ConfigError listing the presets when `name` is none of them.
const TrainPreset& find_train_preset(const std::string& name);

// The recipe with `preset`'s length and cadence: the attention model (its width, coverage),
// dropout, learning rate and its schedule, caption length.
TrainConfig recommended_config(const std::string& preset = "default");
// Sets the fields a preset decides (steps, batch, validation cadence) and those that follow from
// the number of steps (derive_checkpoint_every, derive_lr_decay).
void apply_preset(TrainConfig& config, const TrainPreset& preset);
// A checkpoint every tenth of the run, at least every 100 steps but never only at the end: a run
// of any length can be resumed from somewhere.
int64_t derive_checkpoint_every(int64_t steps);
// The learning rate is halved at 40 % and 80 % of the steps (lr_decay 0.5).
void derive_lr_decay(TrainConfig& config);

// The encoder-layer choice both front ends start from: "auto", the layer the encoder's weights
// read colour and shape best from (vision's recommended_grid_layer).
inline const char* const kRecommendedLayerChoice = "auto";

}  // namespace captioner
