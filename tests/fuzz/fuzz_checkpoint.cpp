// The whole checkpoint reader as `train --resume` uses it: load_checkpoint, then restore_optimizer
// into a fresh Adam. An input is a list of edits to a valid checkpoint made at start-up (an
// optional cut, then bytes XORed at offsets), so mutations reach every record behind the
// archive's own structure; an input that starts with "RAW" is taken as the whole file instead.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cstring>
#include <string>

#include "core/model/caption_model.h"
#include "core/run/checkpoint.h"
#include "core/util/atomic_file.h"
#include "fuzz_support.h"

namespace {

using namespace captioner;

// A small attention model after one Adam step, with history and generator state.
std::string valid_checkpoint() {
  TrainConfig config;
  config.model.feature_dim = 12;
  config.model.hidden = 16;
  config.model.embed = 8;
  const Vocabulary vocab = Vocabulary::from_words({"#PAD#", "#UNK#", "#START#", "#END#", "cat", "dog", "sat"});
  CaptionModel model = make_caption_model(config.model, vocab.size(), Vocabulary::kPad);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-2));
  optimizer.zero_grad();
  torch::Tensor loss;
  for (const auto& p : model->parameters()) loss = loss.defined() ? loss + p.sum() : p.sum();
  loss.backward();
  optimizer.step();
  TrainingState state;
  state.step = 1;
  state.history.rows.push_back({1, 2.5, 2.4, 100, 1e-3, 0.5});
  state.sampler_state = "{}";
  state.caption_rng_state = "1 2 3";
  state.torch_rng_state = torch::make_generator<at::CPUGeneratorImpl>(7).get_state();
  CheckpointContents contents;
  contents.config = &config;
  contents.vocab = &vocab;
  contents.model = model;
  contents.optimizer = &optimizer;
  contents.state = &state;
  const std::string path = fuzz::scratch_dir() + "/valid.pt";
  save_checkpoint(path, contents);
  return read_file(path);
}

uint32_t read_u32(const uint8_t* p) {
  uint32_t v = 0;
  std::memcpy(&v, p, 4);
  return v;
}

std::string edited(const std::string& valid, const uint8_t* data, size_t size) {
  std::string file = valid;
  size_t at = 0;
  if (size >= 5 && data[0] == 'C') {  // cut
    file.resize(read_u32(data + 1) % (file.size() + 1));
    at = 5;
  }
  for (; at + 5 <= size && !file.empty(); at += 5) file[read_u32(data + at) % file.size()] ^= static_cast<char>(data[at + 4]);
  return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string valid = valid_checkpoint();
  const bool raw = size >= 3 && std::memcmp(data, "RAW", 3) == 0;
  const std::string file = raw ? std::string(reinterpret_cast<const char*>(data) + 3, size - 3) : edited(valid, data, size);
  const std::string path = fuzz::write_file("input.pt", file);
  try {
    const LoadedCheckpoint loaded = load_checkpoint(path);
    torch::optim::Adam optimizer(loaded.model->parameters(), torch::optim::AdamOptions(1e-2));
    if (loaded.has_optimizer) restore_optimizer(loaded, optimizer, path);
  } catch (const std::exception&) {
  }
  return 0;
}
