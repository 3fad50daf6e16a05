#pragma once
// Word <-> id mapping built from training captions.
// Ids are deterministic: the four special tokens first (PAD=0, UNK=1, START=2, END=3), then the
// words seen at least min_count times, most frequent first, ties in byte order.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace captioner {

using TokenizedCaption = std::vector<std::string>;

class Vocabulary {
 public:
  static constexpr int64_t kPad = 0;
  static constexpr int64_t kUnk = 1;
  static constexpr int64_t kStart = 2;
  static constexpr int64_t kEnd = 3;
  static const char* const kPadWord;
  static const char* const kUnkWord;
  static const char* const kStartWord;
  static const char* const kEndWord;

  Vocabulary();  // only the special tokens

  // Counts every token of every caption; keeps words with count >= min_count.
  static Vocabulary build(const std::vector<const TokenizedCaption*>& captions, int min_count);
  // Exact word list in id order (as saved by words()); validates the special tokens.
  static Vocabulary from_words(const std::vector<std::string>& words);

  int64_t size() const { return static_cast<int64_t>(words_.size()); }
  int64_t id(const std::string& word) const;  // kUnk for unknown words
  const std::string& word(int64_t id) const;  // throws std::out_of_range
  bool contains(const std::string& word) const { return index_.count(word) != 0; }
  const std::vector<std::string>& words() const { return words_; }

  // START + ids + END, truncated to max_len tokens in all (max_len <= 0: no limit).
  // A truncated caption keeps START and loses its tail, END included.
  std::vector<int64_t> encode(const TokenizedCaption& caption, int max_len) const;

  bool operator==(const Vocabulary& other) const { return words_ == other.words_; }

 private:
  void add(const std::string& word);
  std::vector<std::string> words_;
  std::unordered_map<std::string, int64_t> index_;
};

}  // namespace captioner
