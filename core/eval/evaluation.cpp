#include "core/eval/evaluation.h"

#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/data/tokenizer.h"

namespace captioner {

bool names_exactly(const std::vector<std::string>& words, const std::vector<ShapeObject>& objects) {
  std::set<std::pair<std::string, std::string>> named, truth;
  for (const auto& n : named_objects(words)) named.emplace(n.color, n.shape);
  for (const auto& o : objects) truth.emplace(o.color, o.shape);
  return named == truth;
}

void count_object_mentions(const std::vector<std::string>& words, const std::vector<ShapeObject>& objects,
                           ObjectMentions& score) {
  using Pair = std::pair<std::string, std::string>;  // (colour, shape); colour empty: any colour
  std::set<Pair> truth;
  for (const auto& o : objects) truth.emplace(o.color, o.shape);
  auto in_image = [&](const Pair& mention) {
    for (const auto& t : truth)
      if (t.second == mention.second && (mention.first.empty() || t.first == mention.first)) return true;
    return false;
  };
  std::set<Pair> mentioned;
  bool repeated = false;
  for (const auto& n : named_objects(words)) repeated = !mentioned.emplace(n.color, n.shape).second || repeated;
  int64_t hallucinated = 0;
  for (const auto& m : mentioned) hallucinated += in_image(m) ? 0 : 1;
  int64_t recalled = 0;
  for (const auto& t : truth) recalled += mentioned.count(t) ? 1 : 0;

  static const std::map<std::string, int64_t> numbers = {{"one", 1},  {"two", 2}, {"three", 3}, {"four", 4},
                                                         {"five", 5}, {"six", 6}, {"seven", 7}, {"eight", 8}};
  bool counts = false, right = true;
  for (const auto& w : words)
    if (const auto n = numbers.find(w); n != numbers.end()) {
      counts = true;
      right = right && n->second == static_cast<int64_t>(objects.size());
    }

  ++score.captions;
  score.mentioned += static_cast<int64_t>(mentioned.size());
  score.hallucinated += hallucinated;
  score.hallucinating_captions += hallucinated > 0 ? 1 : 0;
  score.objects += static_cast<int64_t>(truth.size());
  score.recalled += recalled;
  score.counting_captions += counts ? 1 : 0;
  score.right_counts += counts && right ? 1 : 0;
  score.repeating_captions += repeated ? 1 : 0;
}

void play_pointing_game(const DecodedCaption& caption, const std::vector<ShapeObject>& objects, int image_size, Pointing& score) {
  auto inside = [](const ShapeObject& o, double x, double y) {
    return x >= o.bbox[0] && x < o.bbox[0] + o.bbox[2] && y >= o.bbox[1] && y < o.bbox[1] + o.bbox[3];
  };
  std::vector<std::string> words;
  for (const auto& token : caption.tokens) words.push_back(token.word);
  for (const auto& named : named_objects(words)) {
    const DecodedToken& token = caption.tokens[named.token];
    std::vector<const ShapeObject*> matches;
    for (const auto& o : objects)
      if (o.shape == named.shape && (named.color.empty() || o.color == named.color)) matches.push_back(&o);
    if (matches.empty() || token.attention.empty()) continue;
    const int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(token.attention.size()))));
    const double cell = static_cast<double>(image_size) / side;
    const auto best = std::max_element(token.attention.begin(), token.attention.end()) - token.attention.begin();
    const auto row = best / side, column = best % side;  // the attended cell, row-major
    const double x = (static_cast<double>(column) + 0.5) * cell, y = (static_cast<double>(row) + 0.5) * cell;
    const int centre_cell = static_cast<int>(image_size / 2.0 / cell);
    const double cx = (centre_cell + 0.5) * cell;
    ++score.words;
    bool hit = false, centre_hit = false;
    for (const auto* o : matches) {
      hit = hit || inside(*o, x, y);
      centre_hit = centre_hit || inside(*o, cx, cx);
    }
    score.hits += hit;
    score.centre_hits += centre_hit;
  }
}

std::vector<ScoreBand> score_bands(const std::vector<EvaluatedImage>& images, int bands) {
  std::vector<const EvaluatedImage*> order;
  for (const auto& image : images) order.push_back(&image);
  std::stable_sort(order.begin(), order.end(),
                   [](const EvaluatedImage* a, const EvaluatedImage* b) { return a->mean_log_prob < b->mean_log_prob; });
  const auto n = static_cast<int64_t>(order.size());
  const int64_t count = std::min<int64_t>(std::max(bands, 1), n);
  std::vector<ScoreBand> out;
  for (int64_t b = 0; b < count; ++b) {
    const int64_t from = b * n / count, to = (b + 1) * n / count;
    ScoreBand band;
    band.lowest = order[static_cast<size_t>(from)]->mean_log_prob;
    band.highest = order[static_cast<size_t>(to - 1)]->mean_log_prob;
    band.images = to - from;
    int64_t right = 0;
    for (int64_t i = from; i < to; ++i) right += order[static_cast<size_t>(i)]->names_exactly;
    band.content_accuracy = static_cast<double>(right) / static_cast<double>(band.images);
    out.push_back(band);
  }
  return out;
}

UnsureSplit split_by_score(const std::vector<EvaluatedImage>& images, double threshold) {
  UnsureSplit split;
  split.threshold = threshold;
  int64_t unsure_right = 0, sure_right = 0;
  for (const auto& image : images) {
    const bool unsure = image.mean_log_prob < threshold;
    (unsure ? split.unsure : split.sure) += 1;
    (unsure ? unsure_right : sure_right) += image.names_exactly;
  }
  if (split.unsure) split.unsure_accuracy = static_cast<double>(unsure_right) / static_cast<double>(split.unsure);
  if (split.sure) split.sure_accuracy = static_cast<double>(sure_right) / static_cast<double>(split.sure);
  return split;
}

EvalReport evaluate(CaptionModelImpl& model, const Vocabulary& vocab, const CaptionDataset& dataset,
                    const std::vector<int64_t>& images, const FeatureTable& features, const ShapesAnnotations* shapes,
                    const DecodeOptions& options, const torch::Device& device,
                    const std::function<void(int64_t, int64_t)>& progress) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  EvalReport report;
  report.has_objects = shapes != nullptr && shapes->any();
  std::vector<std::vector<std::string>> references;
  std::vector<std::string> candidates;
  int64_t exact = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    const ImageRecord& record = dataset.images[static_cast<size_t>(images[i])];
    const auto captions = decode(model, vocab, features.gather({record.feature_row}).to(device), options);
    const DecodedCaption& best = captions.front();
    EvaluatedImage result;
    result.image = images[i];
    result.caption = best.text();
    result.mean_log_prob = best.mean_log_prob();
    report.mean_log_prob += result.mean_log_prob;
    references.emplace_back();
    for (const auto& c : record.captions) references.back().push_back(join_tokens(c));
    candidates.push_back(result.caption);
    if (report.has_objects) {
      const auto row = static_cast<size_t>(record.feature_row);
      const auto& objects = row < shapes->objects.size() ? shapes->objects[row] : std::vector<ShapeObject>{};
      result.names_exactly = names_exactly(best.words(), objects);
      exact += result.names_exactly;
      count_object_mentions(best.words(), objects, report.mentions);
      play_pointing_game(best, objects, shapes->image_size, report.pointing);
    }
    report.per_image.push_back(std::move(result));
    if (progress) progress(static_cast<int64_t>(i + 1), static_cast<int64_t>(images.size()));
  }
  report.images = static_cast<int64_t>(images.size());
  if (!images.empty()) {
    report.scores = score_captions(references, candidates);
    report.mean_log_prob /= static_cast<double>(images.size());
    if (report.has_objects) {
      report.content_accuracy = static_cast<double>(exact) / static_cast<double>(images.size());
      report.calibration = score_bands(report.per_image, 10);
      report.unsure = split_by_score(report.per_image, kUnsureBelow);
    }
  }
  if (was_training) model.train();
  return report;
}

}  // namespace captioner
