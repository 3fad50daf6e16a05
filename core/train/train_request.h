#pragma once
// What a front end asks of training (prepare_training, training_job.h). No LibTorch here, so GUI
// code can build one.
#include <cstdint>
#include <string>

#include "core/model/config.h"

namespace captioner {

struct TrainRequest {
  std::string dataset;  // Shapes / Karpathy folder, COCO or Karpathy JSON, handout folder
  std::string run_dir;
  std::string image_dir;  // images of a COCO / Karpathy file; empty: beside the file
  std::string cache;      // feature cache folder; empty: see cache_parent
  // With image_dir and no cache: the cache goes in this folder, named by layer (the app shares one
  // per image folder); empty: in the run folder.
  std::string cache_parent;
  std::string encoder;         // encoder weights; empty: the installed ones
  std::string layer = "auto";  // "auto" or a GridLayer name; a resumed run refuses another than its own
  bool layer_chosen = false;   // the user named the layer (a resume then checks it)
  bool resume = false;
  int64_t resume_steps = 0;  // a resume's new total of steps; 0 keeps the saved one
  // The user chose config.model.kind. When not, the recipe's attention model falls back to the LSTM
  // on data with pooled vectors only (no 8x8 grid), saying so.
  bool model_chosen = false;
  bool writes_run_dir = true;  // false on the ranks of a distributed run other than 0
  TrainConfig config;
};

}  // namespace captioner
