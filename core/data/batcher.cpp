#include "core/data/batcher.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <stdexcept>

namespace captioner {

EncodedCaptions::EncodedCaptions(const CaptionDataset& dataset, const Vocabulary& vocab, int64_t max_len) {
  captions_.reserve(dataset.images.size());
  feature_rows_.reserve(dataset.images.size());
  for (const auto& image : dataset.images) {
    feature_rows_.push_back(image.feature_row);
    std::vector<std::vector<int64_t>> encoded;
    encoded.reserve(image.captions.size());
    for (const auto& caption : image.captions) encoded.push_back(vocab.encode(caption, static_cast<int>(max_len)));
    captions_.push_back(std::move(encoded));
  }
}

torch::Tensor pad_sequences(const std::vector<const std::vector<int64_t>*>& sequences, int64_t pad_id) {
  size_t longest = 0;
  for (const auto* s : sequences) longest = std::max(longest, s->size());
  auto out = torch::full({static_cast<int64_t>(sequences.size()), static_cast<int64_t>(longest)}, pad_id, torch::kInt64);
  auto* data = out.data_ptr<int64_t>();
  for (size_t i = 0; i < sequences.size(); ++i) std::copy(sequences[i]->begin(), sequences[i]->end(), data + i * longest);
  return out;
}

ImageSampler::ImageSampler(std::vector<int64_t> pool, uint64_t seed) : order_(std::move(pool)), rng_(seed) {
  if (order_.empty()) throw std::invalid_argument("no images to sample from");
  reshuffle();
}

void ImageSampler::reshuffle() {
  rng_.shuffle(order_);
  position_ = 0;
}

std::vector<int64_t> ImageSampler::next(int64_t batch_size) {
  const size_t b = std::min(static_cast<size_t>(std::max<int64_t>(batch_size, 1)), order_.size());
  if (order_.size() - position_ < b) {
    ++epoch_;
    reshuffle();
  }
  std::vector<int64_t> batch(order_.begin() + static_cast<std::ptrdiff_t>(position_),
                             order_.begin() + static_cast<std::ptrdiff_t>(position_ + b));
  position_ += b;
  return batch;
}

std::string ImageSampler::state() const {
  return nlohmann::json{{"order", order_}, {"position", position_}, {"epoch", epoch_}, {"rng", rng_.state()}}.dump();
}

void ImageSampler::restore(const std::string& state) {
  const auto j = nlohmann::json::parse(state);
  // Integers only: nlohmann's cast of an out-of-range float to an integer is undefined.
  auto integer = [&](const nlohmann::json& v) {
    if (!v.is_number_integer()) throw std::invalid_argument("saved sampler state holds a number that is not an integer");
  };
  integer(j.at("position"));
  integer(j.at("epoch"));
  for (const auto& v : j.at("order")) integer(v);
  std::vector<int64_t> order = j.at("order").get<std::vector<int64_t>>();
  std::vector<int64_t> a = order, b = order_;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  if (a != b) throw std::invalid_argument("saved sampler state belongs to a different set of training images");
  order_ = std::move(order);
  position_ = j.at("position").get<size_t>();
  epoch_ = j.at("epoch").get<int64_t>();
  rng_.restore(j.at("rng").get<std::string>());
}

Batch make_batch(const std::vector<int64_t>& images, const EncodedCaptions& captions, const FeatureTable& features,
                 Rng& caption_rng, size_t begin, size_t end) {
  end = std::min(end, images.size());
  if (begin > end) throw std::invalid_argument("make_batch: empty share of the batch");
  std::vector<const std::vector<int64_t>*> chosen;
  std::vector<int64_t> rows;
  chosen.reserve(end - begin);
  rows.reserve(end - begin);
  for (size_t i = 0; i < images.size(); ++i) {
    const auto& options = captions.of(images[i]);
    const auto* caption = &options[static_cast<size_t>(caption_rng.below(options.size()))];
    if (i < begin || i >= end) continue;
    rows.push_back(captions.feature_row(images[i]));
    chosen.push_back(caption);
  }
  Batch batch;
  batch.images.assign(images.begin() + static_cast<std::ptrdiff_t>(begin), images.begin() + static_cast<std::ptrdiff_t>(end));
  batch.tokens = pad_sequences(chosen, Vocabulary::kPad);
  batch.features = features.gather(rows);
  return batch;
}

}  // namespace captioner
