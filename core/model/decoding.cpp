#include "core/model/decoding.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "core/data/tokenizer.h"

namespace captioner {

const char* mode_name(DecodeMode mode) {
  switch (mode) {
    case DecodeMode::Greedy:
      return "greedy";
    case DecodeMode::Sample:
      return "sample";
    default:
      return "beam";
  }
}

DecodeMode parse_mode(const std::string& name) {
  if (name == "greedy") return DecodeMode::Greedy;
  if (name == "sample") return DecodeMode::Sample;
  if (name == "beam") return DecodeMode::Beam;
  throw std::invalid_argument("decoding mode must be greedy, sample or beam, not '" + name + "'");
}

std::string describe(const DecodeOptions& options) {
  std::ostringstream out;
  if (options.mode == DecodeMode::Beam)
    out << "beam " << options.beam_width;
  else
    out << (options.mode == DecodeMode::Sample ? "sampled" : "greedy");
  if (options.no_repeat_ngram > 0) out << ", no repeated " << options.no_repeat_ngram << "-grams";
  if (options.revisit_penalty != kDefaultRevisitPenalty) out << ", revisit penalty " << options.revisit_penalty;
  return out.str();
}

std::vector<std::string> DecodedCaption::words() const {
  std::vector<std::string> out;
  for (const auto& t : tokens)
    if (t.id != Vocabulary::kEnd) out.push_back(t.word);
  return out;
}

std::string DecodedCaption::text() const { return join_tokens(words()); }

double DecodedCaption::mean_log_prob() const { return tokens.empty() ? 0.0 : log_prob / static_cast<double>(tokens.size()); }

double DecodedCaption::score(double length_penalty) const {
  return tokens.empty() ? 0.0 : (log_prob - penalty) / std::pow(static_cast<double>(tokens.size()), length_penalty);
}

namespace {

// One image repeated n times along the batch dimension.
torch::Tensor batch_of(const torch::Tensor& features, int64_t n) {
  auto image = features.dim() == 1 ? features.unsqueeze(0) : features;
  if (image.size(0) != 1) throw std::invalid_argument("decode: features must hold one image (leading dimension 1)");
  std::vector<int64_t> shape(image.sizes().begin(), image.sizes().end());
  shape[0] = n;
  return image.expand(shape);
}

// Row `row` of a [rows, cells] CPU float tensor; empty when undefined.
std::vector<float> map_row(const torch::Tensor& maps, int64_t row) {
  if (!maps.defined()) return {};
  const float* p = maps.data_ptr<float>() + row * maps.size(1);
  return {p, p + maps.size(1)};
}

// Row `row`'s k likeliest words in `log_probs` ([rows, V], CPU), which the caller has already
// cleared of the words a caption never holds; none when k is 0.
std::vector<WordChoice> likeliest(const torch::Tensor& log_probs, int64_t row, int k, const Vocabulary& vocab) {
  if (k <= 0) return {};
  const auto [values, ids] = log_probs[row].topk(std::min<int64_t>(k, log_probs.size(1)));
  std::vector<WordChoice> out;
  for (int64_t i = 0; i < values.size(0); ++i) {
    const float lp = values[i].item<float>();
    if (std::isinf(lp)) break;  // only the impossible words are left
    out.push_back({vocab.word(ids[i].item<int64_t>()), lp});
  }
  return out;
}

void append(DecodedCaption& caption, int64_t id, const Vocabulary& vocab, float log_prob, std::vector<float> map,
            std::vector<WordChoice> alternatives = {}) {
  DecodedToken token{id, vocab.word(id), log_prob, {}, std::move(alternatives)};
  if (id != Vocabulary::kEnd) token.attention = std::move(map);
  caption.tokens.push_back(std::move(token));
  caption.log_prob += log_prob;
  if (id == Vocabulary::kEnd) caption.finished = true;
}

// Scores [n, V] with START, PAD and UNK made impossible: a caption never contains them, whatever
// the model's distribution says (sampling at a high temperature drew START mid-caption). Only the
// choice is restricted; the log-probabilities reported stay the model's own.
torch::Tensor without_special_tokens(const torch::Tensor& scores) {
  const auto special = torch::tensor({Vocabulary::kPad, Vocabulary::kUnk, Vocabulary::kStart}, torch::kInt64);
  return scores.index_fill(1, special, -std::numeric_limits<float>::infinity());
}

// With n > 0, makes impossible in `scores` ([rows, V], CPU) every word that would complete, in
// row r's caption so far, a sequence of n words the caption already holds.
void block_repeated_ngrams(torch::Tensor& scores, const std::vector<DecodedCaption>& captions, int n) {
  if (n <= 0) return;
  auto s = scores.accessor<float, 2>();
  for (size_t r = 0; r < captions.size(); ++r) {
    const auto& tokens = captions[r].tokens;
    const size_t len = tokens.size();
    if (len + 1 < static_cast<size_t>(n)) continue;
    const size_t context = static_cast<size_t>(n) - 1;  // the last n-1 words, which the next one would extend
    for (size_t start = 0; start + context < len; ++start) {
      bool same = true;
      for (size_t k = 0; k < context && same; ++k) same = tokens[start + k].id == tokens[len - context + k].id;
      if (same) s[static_cast<int64_t>(r)][tokens[start + context].id] = -std::numeric_limits<float>::infinity();
    }
  }
}

// How far two attention maps over the same cells point at the same place, from 0 to 1:
// log(cells * sum a.b) / log(cells). Two maps on one and the same cell give 1; a map spread evenly
// gives 0 against any other, so words that look nowhere in particular ("a", "of") are not held
// to it.
double same_place(const float* a, const std::vector<float>& b) {
  const auto cells = static_cast<double>(b.size());
  if (cells < 2) return 0;
  double dot = 0;
  for (size_t c = 0; c < b.size(); ++c) dot += static_cast<double>(a[c]) * b[c];
  return std::clamp(std::log(cells * dot) / std::log(cells), 0.0, 1.0);
}

// What each word would cost row r's caption for returning to a place it was said at: [rows, V],
// strength x same_place(this step's map, the map it was said with), the highest over its earlier
// uses. Undefined when off or without maps. A scene's objects differ, so a word said again at
// the same place names the same object twice ("a red star to the left of a red star").
torch::Tensor revisit_costs(const std::vector<DecodedCaption>& captions, const torch::Tensor& maps, int64_t vocab_size,
                            double strength) {
  if (strength <= 0 || !maps.defined()) return {};
  auto costs = torch::zeros({static_cast<int64_t>(captions.size()), vocab_size});
  auto c = costs.accessor<float, 2>();
  for (size_t r = 0; r < captions.size(); ++r) {
    const float* now = maps.data_ptr<float>() + static_cast<int64_t>(r) * maps.size(1);
    for (const DecodedToken& said : captions[r].tokens) {
      if (said.attention.size() != static_cast<size_t>(maps.size(1))) continue;
      float& cost = c[static_cast<int64_t>(r)][said.id];
      cost = std::max(cost, static_cast<float>(strength * same_place(now, said.attention)));
    }
  }
  return costs;
}

torch::Tensor cpu_attention(const DecoderState& state) {
  return state.attention.defined() ? state.attention.to(torch::kCPU, torch::kFloat32).contiguous() : torch::Tensor();
}

bool is_greedy(const DecodeOptions& options) {
  return options.mode == DecodeMode::Greedy || options.temperature < kGreedyTemperature;
}

// One caption per row of `image` ([n, ...]: n samples of one image, or n images), word by word.
std::vector<DecodedCaption> greedy_or_sample(StepModel& model, const Vocabulary& vocab, const torch::Tensor& image,
                                             const DecodeOptions& options, const TokenObserver& on_token) {
  const bool greedy = is_greedy(options);
  const int64_t n = image.size(0);
  DecoderState state = model.start(image);
  const auto device = image.device();
  auto previous = torch::full({n}, Vocabulary::kStart, torch::TensorOptions(torch::kInt64).device(device));
  auto generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);

  std::vector<DecodedCaption> captions(static_cast<size_t>(n));
  int64_t remaining = n;
  for (int t = 0; t < options.max_len && remaining > 0; ++t) {
    const auto logits = model.step(previous, state).to(torch::kCPU, torch::kFloat32);  // [n, V]
    const auto maps = cpu_attention(state);
    const auto log_probs = torch::log_softmax(logits, -1);
    const auto offered = options.top_alternatives > 0 ? without_special_tokens(log_probs) : torch::Tensor();
    auto allowed = without_special_tokens(logits);
    const auto costs = revisit_costs(captions, maps, logits.size(1), options.revisit_penalty);
    if (costs.defined()) allowed -= costs;
    block_repeated_ngrams(allowed, captions, options.no_repeat_ngram);
    torch::Tensor next;
    if (greedy) {
      next = allowed.argmax(-1);
    } else {
      auto scaled = allowed / options.temperature;
      if (options.top_k > 0 && options.top_k < scaled.size(1)) {
        const auto kth = std::get<0>(scaled.topk(options.top_k, 1)).select(1, options.top_k - 1).unsqueeze(1);
        scaled = scaled.masked_fill(scaled < kth, -std::numeric_limits<float>::infinity());
      }
      next = torch::multinomial(torch::softmax(scaled, -1), 1, /*replacement=*/true, generator).squeeze(1);
    }
    const auto chosen = log_probs.gather(1, next.unsqueeze(1)).squeeze(1);
    const auto* next_ids = next.data_ptr<int64_t>();
    const auto* next_lp = chosen.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) {
      auto& caption = captions[static_cast<size_t>(i)];
      if (caption.finished) continue;
      if (costs.defined()) caption.penalty += costs[i][next_ids[i]].item<double>();
      append(caption, next_ids[i], vocab, next_lp[i], map_row(maps, i), likeliest(offered, i, options.top_alternatives, vocab));
      if (on_token) on_token(static_cast<size_t>(i), caption);
      if (caption.finished) --remaining;
    }
    previous = next.to(device);
  }
  return captions;
}

// Beam search: the live hypotheses form one batch. At each step the 2K best continuations are
// ranked; an END among the first K completes a hypothesis, the best K others stay live. It stops
// when K hypotheses are complete or at max_len (the live ones then count, unfinished).
std::vector<DecodedCaption> beam_search(StepModel& model, const Vocabulary& vocab, const torch::Tensor& features,
                                        const DecodeOptions& options) {
  const int64_t width = std::max(options.beam_width, 1);
  DecoderState state = model.start(batch_of(features, 1));
  const auto device = features.device();
  std::vector<DecodedCaption> live(1), done;
  auto previous = torch::full({1}, Vocabulary::kStart, torch::TensorOptions(torch::kInt64).device(device));
  for (int t = 0; t < options.max_len; ++t) {
    const auto log_probs = torch::log_softmax(model.step(previous, state).to(torch::kCPU, torch::kFloat32), -1);
    const auto maps = cpu_attention(state);
    const int64_t vocab_size = log_probs.size(1);
    std::vector<double> base;
    base.reserve(live.size());
    for (const auto& h : live) base.push_back(h.log_prob - h.penalty);
    const auto offered = without_special_tokens(log_probs);
    const auto costs = revisit_costs(live, maps, vocab_size, options.revisit_penalty);
    auto allowed = costs.defined() ? offered - costs : options.no_repeat_ngram > 0 ? offered.clone() : offered;
    block_repeated_ngrams(allowed, live, options.no_repeat_ngram);  // writes into `allowed`
    const auto totals = allowed + torch::tensor(base, torch::kFloat64).to(torch::kFloat32).unsqueeze(1);
    const int64_t k = std::min<int64_t>(2 * width, totals.numel());
    const auto best = std::get<1>(totals.flatten().topk(k));
    const auto* index = best.data_ptr<int64_t>();
    const auto* lp = log_probs.data_ptr<float>();

    std::vector<DecodedCaption> next_live;
    std::vector<int64_t> origins, tokens;
    for (int64_t rank = 0; rank < k && static_cast<int64_t>(next_live.size()) < width; ++rank) {
      const int64_t origin = index[rank] / vocab_size, token = index[rank] % vocab_size;
      if (token == Vocabulary::kEnd && rank >= width) continue;
      DecodedCaption h = live[static_cast<size_t>(origin)];
      if (costs.defined()) h.penalty += costs[origin][token].item<double>();
      append(h, token, vocab, lp[origin * vocab_size + token], map_row(maps, origin),
             likeliest(offered, origin, options.top_alternatives, vocab));
      if (h.finished) {
        done.push_back(std::move(h));
      } else {
        next_live.push_back(std::move(h));
        origins.push_back(origin);
        tokens.push_back(token);
      }
    }
    live = std::move(next_live);
    if (static_cast<int64_t>(done.size()) >= width || live.empty()) break;
    state.select(torch::tensor(origins, torch::kInt64).to(device));
    previous = torch::tensor(tokens, torch::kInt64).to(device);
  }
  if (static_cast<int64_t>(done.size()) < width)
    for (auto& h : live) done.push_back(std::move(h));
  std::stable_sort(done.begin(), done.end(), [&](const DecodedCaption& a, const DecodedCaption& b) {
    return a.score(options.length_penalty) > b.score(options.length_penalty);
  });
  if (static_cast<int64_t>(done.size()) > width) done.resize(static_cast<size_t>(width));
  return done;
}

void check(const DecodeOptions& options) {
  if (options.max_len < 1) throw std::invalid_argument("max_len must be at least 1");
  if (options.mode == DecodeMode::Sample && !(options.temperature > 0))
    throw std::invalid_argument("temperature must be positive");
  if (options.top_k < 0) throw std::invalid_argument("top-k must be >= 0");
  if (options.no_repeat_ngram < 0) throw std::invalid_argument("no-repeat n-gram size must be >= 0");
  if (options.top_alternatives < 0) throw std::invalid_argument("the number of alternatives per word must be >= 0");
  if (options.mode == DecodeMode::Beam && options.beam_width < 1) throw std::invalid_argument("beam width must be at least 1");
  if (!(options.revisit_penalty >= 0)) throw std::invalid_argument("the revisit penalty must be >= 0");
}

}  // namespace

std::vector<DecodedCaption> decode(StepModel& model, const Vocabulary& vocab, const torch::Tensor& features,
                                   const DecodeOptions& options, const TokenObserver& on_token) {
  check(options);
  torch::NoGradGuard no_grad;
  if (options.mode == DecodeMode::Beam) return beam_search(model, vocab, features, options);
  return greedy_or_sample(model, vocab, batch_of(features, is_greedy(options) ? 1 : std::max(options.samples, 1)), options,
                          on_token);
}

std::vector<DecodedCaption> decode_greedy_batch(StepModel& model, const Vocabulary& vocab, const torch::Tensor& features,
                                                const DecodeOptions& options, const TokenObserver& on_token) {
  if (features.dim() < 2 || features.size(0) < 1)
    throw std::invalid_argument("decode_greedy_batch: features must be [images, ...]");
  DecodeOptions greedy = options;
  greedy.mode = DecodeMode::Greedy;
  check(greedy);
  torch::NoGradGuard no_grad;
  return greedy_or_sample(model, vocab, features, greedy, on_token);
}

}  // namespace captioner
