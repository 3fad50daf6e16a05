#include "core/data/vocabulary.h"

#include <algorithm>
#include <stdexcept>

#include "core/util/errors.h"

namespace captioner {

const char* const Vocabulary::kPadWord = "#PAD#";
const char* const Vocabulary::kUnkWord = "#UNK#";
const char* const Vocabulary::kStartWord = "#START#";
const char* const Vocabulary::kEndWord = "#END#";

Vocabulary::Vocabulary() {
  add(kPadWord);
  add(kUnkWord);
  add(kStartWord);
  add(kEndWord);
}

void Vocabulary::add(const std::string& word) {
  index_.emplace(word, static_cast<int64_t>(words_.size()));
  words_.push_back(word);
}

Vocabulary Vocabulary::build(const std::vector<const TokenizedCaption*>& captions, int min_count) {
  std::unordered_map<std::string, int64_t> counts;
  for (const auto* caption : captions)
    for (const auto& token : *caption) ++counts[token];

  std::vector<std::pair<std::string, int64_t>> kept;
  Vocabulary specials;
  for (auto& [word, count] : counts)
    if (count >= std::max(min_count, 1) && !specials.contains(word)) kept.emplace_back(word, count);
  std::sort(kept.begin(), kept.end(),
            [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });

  Vocabulary vocab;
  for (auto& [word, count] : kept) vocab.add(word);
  return vocab;
}

Vocabulary Vocabulary::from_words(const std::vector<std::string>& words) {
  Vocabulary vocab;
  if (words.size() < 4 || words[kPad] != kPadWord || words[kUnk] != kUnkWord || words[kStart] != kStartWord ||
      words[kEnd] != kEndWord)
    throw DataError("", "vocabulary must start with #PAD#, #UNK#, #START#, #END#");
  for (size_t i = 4; i < words.size(); ++i) {
    if (vocab.contains(words[i])) throw DataError("", "vocabulary lists '" + words[i] + "' twice");
    vocab.add(words[i]);
  }
  return vocab;
}

int64_t Vocabulary::id(const std::string& word) const {
  auto it = index_.find(word);
  return it == index_.end() ? kUnk : it->second;
}

const std::string& Vocabulary::word(int64_t id) const {
  if (id < 0 || id >= size()) throw std::out_of_range("token id " + std::to_string(id) + " outside the vocabulary");
  return words_[static_cast<size_t>(id)];
}

std::vector<int64_t> Vocabulary::encode(const TokenizedCaption& caption, int max_len) const {
  std::vector<int64_t> ids;
  ids.reserve(caption.size() + 2);
  ids.push_back(kStart);
  for (const auto& token : caption) ids.push_back(id(token));
  ids.push_back(kEnd);
  if (max_len > 0 && static_cast<int>(ids.size()) > max_len) ids.resize(static_cast<size_t>(std::max(max_len, 1)));
  return ids;
}

}  // namespace captioner
