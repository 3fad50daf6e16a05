#include "core/decoding.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <stdexcept>

#include "core/tokenizer.h"

namespace captioner {

std::vector<std::string> DecodedCaption::words() const {
  std::vector<std::string> out;
  for (const auto& t : tokens)
    if (t.id != Vocabulary::kEnd) out.push_back(t.word);
  return out;
}

std::string DecodedCaption::text() const { return join_tokens(words()); }

std::vector<DecodedCaption> decode(StepModel& model, const Vocabulary& vocab, const torch::Tensor& features,
                                   const DecodeOptions& options) {
  if (options.max_len < 1) throw std::invalid_argument("max_len must be at least 1");
  if (options.mode == DecodeMode::Sample && !(options.temperature > 0))
    throw std::invalid_argument("temperature must be positive");
  torch::NoGradGuard no_grad;
  const bool greedy = options.mode == DecodeMode::Greedy || options.temperature < kGreedyTemperature;
  const int64_t n = greedy ? 1 : std::max(options.samples, 1);

  auto image = features.dim() == 1 ? features.unsqueeze(0) : features;
  image = image.expand({n, image.size(1)});
  DecoderState state = model.start(image);
  const auto device = image.device();
  auto previous = torch::full({n}, Vocabulary::kStart, torch::TensorOptions(torch::kInt64).device(device));
  auto generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);

  std::vector<DecodedCaption> captions(static_cast<size_t>(n));
  std::vector<bool> done(static_cast<size_t>(n), false);
  int64_t remaining = n;
  for (int t = 0; t < options.max_len && remaining > 0; ++t) {
    const auto logits = model.step(previous, state).to(torch::kCPU, torch::kFloat32);  // [n, V]
    const auto log_probs = torch::log_softmax(logits, -1);
    torch::Tensor next;
    if (greedy) {
      next = logits.argmax(-1);
    } else {
      const auto probs = torch::softmax(logits / options.temperature, -1);
      next = torch::multinomial(probs, 1, /*replacement=*/true, generator).squeeze(1);
    }
    const auto chosen = log_probs.gather(1, next.unsqueeze(1)).squeeze(1);
    const auto* next_ids = next.data_ptr<int64_t>();
    const auto* next_lp = chosen.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) {
      if (done[static_cast<size_t>(i)]) continue;
      auto& caption = captions[static_cast<size_t>(i)];
      caption.tokens.push_back({next_ids[i], vocab.word(next_ids[i]), next_lp[i]});
      caption.log_prob += next_lp[i];
      if (next_ids[i] == Vocabulary::kEnd) {
        caption.finished = true;
        done[static_cast<size_t>(i)] = true;
        --remaining;
      }
    }
    previous = next.to(device);
  }
  return captions;
}

}  // namespace captioner
