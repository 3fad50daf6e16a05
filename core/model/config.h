#pragma once
// Configuration structs with their defaults (the notebook's values where it had one).
// They travel inside every checkpoint as JSON (config_json.h).
#include <cstdint>
#include <string>

namespace captioner {

struct ModelConfig {
  std::string kind = "lstm";   // "lstm" (the notebook's model) or "attention" (soft attention over the grid)
  int64_t feature_dim = 2048;  // width of the image vector / of each grid cell
  int64_t embed = 128;
  int64_t hidden = 256;
  int64_t layers = 1;  // attention: 1
  double dropout = 0.0;
  int64_t attention_dim = 256;     // attention: width of the projected grid cells and of the scores
  double attention_penalty = 0.0;  // attention: weight of the doubly stochastic regularisation (Show,
                                   // Attend and Tell used 1; on Shapes 0 points better, README)
  bool word_in_query = true;       // attention: the query is the previous hidden state and the word
                                   // just read (it names what to look at next); older checkpoints: false
  bool context_to_output = false;  // attention: the attended context also feeds the word prediction
                                   // (Show, Attend and Tell's deep output; on Shapes it named the
                                   // objects less well, README)
  bool coverage = false;           // attention: the scores also read each cell's weight summed over
                                   // the steps so far (coverage, Tu et al. 2016), so the model can
                                   // tell what it has already described; older checkpoints: false
};

struct TrainConfig {
  ModelConfig model;
  int64_t steps = 3000;
  int64_t batch_size = 128;
  double lr = 1e-3;
  double lr_decay = 1.0;           // multiply the learning rate by this ...
  int64_t lr_decay_every = 1000;   // ... every this many steps (1.0 = constant)
  double grad_clip = 5.0;          // max global gradient norm; <= 0 disables clipping
  int64_t max_len = 20;            // tokens per caption, START and END included
  int64_t min_count = 5;           // vocabulary threshold
  double val_fraction = 0.1;       // used when the dataset has no split of its own
  int64_t val_every = 100;         // steps between validations
  int64_t val_batches = 10;        // size of the fixed validation subset, in batches
  int64_t checkpoint_every = 500;  // steps between checkpoints (also at the end and on stop)
  uint64_t seed = 42;
  std::string device = "auto";     // auto | cpu | cuda
  int64_t threads = 0;             // intra-op threads; 0 = all cores
  std::string precision = "fp32";  // matrix products: auto | fp32 | bf16 (core/util/precision.h)
  std::string features_path;       // features for datasets without their own (rows in dataset order)
  std::string encoder_id;          // encoder that computed the features; empty when unknown

  // Throws ConfigError naming the first bad field.
  void validate() const;
};

}  // namespace captioner
