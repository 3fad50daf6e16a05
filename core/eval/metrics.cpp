#include "core/eval/metrics.h"

#include <string_view>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

namespace captioner {

namespace {

// Tokens the toolkit drops after PTB tokenization (its PUNCTUATIONS list; brackets arrive as
// -LRB- etc. there and as the characters here).
bool is_removed_punctuation(const std::string& t) {
  static const std::set<std::string> removed = {"''", "'", "``", "`", "\"", "-lrb-", "-rrb-", "-lcb-", "-rcb-", "(",  ")",   "[",
                                                "]",  "{", "}",  ".", "?",  "!",     ",",     ":",     "-",     "--", "...", ";"};
  return removed.count(t) > 0;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool is_edge_punct(char c) { return std::string_view(".,!?;:\"()[]{}`").find(c) != std::string_view::npos; }

// Splits one whitespace-free chunk the PTB way: punctuation off both ends, then clitics.
void split_chunk(std::string chunk, Tokens& out) {
  Tokens tail;
  size_t begin = 0;
  while (begin < chunk.size() && (is_edge_punct(chunk[begin]) || chunk[begin] == '\'')) {
    // A leading apostrophe of a clitic ("'s" on its own) stays.
    if (chunk[begin] == '\'' && begin + 1 < chunk.size() && std::isalpha(static_cast<unsigned char>(chunk[begin + 1]))) break;
    out.emplace_back(1, chunk[begin]);
    ++begin;
  }
  size_t end = chunk.size();
  while (end > begin && (is_edge_punct(chunk[end - 1]) || chunk[end - 1] == '\'' || chunk[end - 1] == '-')) {
    if (chunk[end - 1] == '.' && end - 1 > begin && chunk[end - 2] == '.') {  // "..." stays one token
      size_t dots = end;
      while (dots > begin && chunk[dots - 1] == '.') --dots;
      tail.push_back(chunk.substr(dots, end - dots));
      end = dots;
      continue;
    }
    tail.emplace_back(1, chunk[end - 1]);
    --end;
  }
  std::string word = chunk.substr(begin, end - begin);
  if (!word.empty()) {
    // Clitics: "n't" and 's 're 've 'll 'd 'm split off the word they end.
    static const char* clitics[] = {"n't", "'s", "'re", "'ve", "'ll", "'d", "'m"};
    std::string clitic;
    for (const char* c : clitics) {
      const std::string s(c);
      if (word.size() > s.size() && word.compare(word.size() - s.size(), s.size(), s) == 0) {
        clitic = s;
        word.resize(word.size() - s.size());
        break;
      }
    }
    out.push_back(word);
    if (!clitic.empty()) out.push_back(clitic);
  }
  for (auto it = tail.rbegin(); it != tail.rend(); ++it) out.push_back(*it);
}

void check_sizes(const std::vector<std::vector<Tokens>>& references, const std::vector<Tokens>& candidates) {
  if (references.size() != candidates.size())
    throw std::invalid_argument("metrics: " + std::to_string(candidates.size()) + " candidates but " +
                                std::to_string(references.size()) + " reference sets");
  for (size_t i = 0; i < references.size(); ++i)
    if (references[i].empty()) throw std::invalid_argument("metrics: image " + std::to_string(i) + " has no reference");
}

using NgramCounts = std::map<Tokens, int>;

NgramCounts count_ngrams(const Tokens& words, int max_n) {
  NgramCounts counts;
  for (int n = 1; n <= max_n; ++n)
    for (size_t i = 0; i + static_cast<size_t>(n) <= words.size(); ++i)
      ++counts[Tokens(words.begin() + static_cast<std::ptrdiff_t>(i), words.begin() + static_cast<std::ptrdiff_t>(i) + n)];
  return counts;
}

size_t lcs_length(const Tokens& a, const Tokens& b) {
  std::vector<size_t> row(b.size() + 1, 0), prev(b.size() + 1, 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) row[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], row[j - 1]);
    std::swap(row, prev);
  }
  return prev[b.size()];
}

}  // namespace

Tokens ptb_tokenize(std::string_view text) {
  Tokens raw;
  std::string chunk;
  auto flush = [&] {
    if (!chunk.empty()) split_chunk(chunk, raw);
    chunk.clear();
  };
  for (char c : text) {
    if (is_space(c)) {
      flush();
    } else {
      chunk.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c);
    }
  }
  flush();
  Tokens out;
  for (auto& t : raw)
    if (!is_removed_punctuation(t)) out.push_back(std::move(t));
  return out;
}

std::array<double, 4> bleu(const std::vector<std::vector<Tokens>>& references, const std::vector<Tokens>& candidates) {
  check_sizes(references, candidates);
  constexpr int kN = 4;
  constexpr double kTiny = 1e-15, kSmall = 1e-9;  // the toolkit's smoothing constants
  std::array<double, kN> guess{}, correct{};
  double test_length = 0, ref_length = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Tokens& cand = candidates[i];
    // Clip each candidate n-gram by its largest count in any one reference.
    std::map<Tokens, int> max_ref;
    for (const auto& ref : references[i])
      for (const auto& [gram, count] : count_ngrams(ref, kN)) max_ref[gram] = std::max(max_ref[gram], count);
    for (const auto& [gram, count] : count_ngrams(cand, kN)) {
      auto it = max_ref.find(gram);
      if (it != max_ref.end()) correct[gram.size() - 1] += std::min(count, it->second);
    }
    const auto len = static_cast<double>(cand.size());
    for (int k = 0; k < kN; ++k) guess[static_cast<size_t>(k)] += std::max(0.0, len - k);
    // Closest reference length; on a tie the shorter one.
    double best = -1;
    for (const auto& ref : references[i]) {
      const auto r = static_cast<double>(ref.size());
      if (best < 0 || std::abs(r - len) < std::abs(best - len) || (std::abs(r - len) == std::abs(best - len) && r < best))
        best = r;
    }
    test_length += len;
    ref_length += best;
  }
  std::array<double, kN> scores{};
  double product = 1;
  for (size_t k = 0; k < kN; ++k) {
    product *= (correct[k] + kTiny) / (guess[k] + kSmall);
    scores[k] = std::pow(product, 1.0 / static_cast<double>(k + 1));
  }
  const double ratio = (test_length + kTiny) / (ref_length + kSmall);
  if (ratio < 1)
    for (auto& s : scores) s *= std::exp(1 - 1 / ratio);
  return scores;
}

PerImageScore rouge_l(const std::vector<std::vector<Tokens>>& references, const std::vector<Tokens>& candidates) {
  check_sizes(references, candidates);
  constexpr double kBeta = 1.2;
  PerImageScore result;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Tokens& cand = candidates[i];
    double precision = 0, recall = 0;
    for (const auto& ref : references[i]) {
      const auto lcs = static_cast<double>(lcs_length(cand, ref));
      // The toolkit splits an empty caption into one empty token: length 1, never matched.
      precision = std::max(precision, lcs / static_cast<double>(std::max<size_t>(cand.size(), 1)));
      recall = std::max(recall, lcs / static_cast<double>(std::max<size_t>(ref.size(), 1)));
    }
    double score = 0;
    if (precision > 0 && recall > 0) score = (1 + kBeta * kBeta) * precision * recall / (recall + kBeta * kBeta * precision);
    result.per_image.push_back(score);
  }
  for (double s : result.per_image) result.corpus += s;
  if (!result.per_image.empty()) result.corpus /= static_cast<double>(result.per_image.size());
  return result;
}

namespace {

constexpr int kCiderN = 4;
constexpr double kCiderSigma = 6.0;

// A caption's tf-idf vector per n-gram order, with its norms and its length.
struct CiderVector {
  std::array<std::map<Tokens, double>, kCiderN> weights;
  std::array<double, kCiderN> norm{};
  double length = 0;
};

// The idf of CIDEr-D: in how many images' reference sets each n-gram occurs.
class CiderIdf {
 public:
  explicit CiderIdf(const std::vector<std::vector<NgramCounts>>& ref_counts)
      : log_images_(std::log(static_cast<double>(ref_counts.size()))) {
    for (const auto& image : ref_counts) {
      std::set<Tokens> seen;
      for (const auto& counts : image)
        for (const auto& [gram, count] : counts) seen.insert(gram);
      for (const auto& gram : seen) document_frequency_[gram] += 1;
    }
  }

  CiderVector vector(const NgramCounts& counts) const {
    CiderVector v;
    for (const auto& [gram, tf] : counts) {
      auto it = document_frequency_.find(gram);
      // An n-gram absent from every reference set gets the largest idf (df clamped to 1).
      const double df = std::log(std::max(1.0, it == document_frequency_.end() ? 0.0 : it->second));
      const size_t n = gram.size() - 1;
      const double w = tf * (log_images_ - df);
      v.weights[n][gram] = w;
      v.norm[n] += w * w;
      // The toolkit's length is the number of bigrams (its `n == 1` test on a 0-based index),
      // i.e. words - 1; kept, since it sets the Gaussian length penalty.
      if (n == 1) v.length += tf;
    }
    for (auto& x : v.norm) x = std::sqrt(x);
    return v;
  }

 private:
  std::map<Tokens, double> document_frequency_;
  double log_images_;
};

// Per n-gram order: the clipped cosine of a candidate and one reference, times the Gaussian
// length penalty.
std::array<double, kCiderN> cider_similarity(const CiderVector& hyp, const CiderVector& ref) {
  std::array<double, kCiderN> out{};
  const double delta = hyp.length - ref.length;
  for (size_t n = 0; n < kCiderN; ++n) {
    double value = 0;
    for (const auto& [gram, w] : hyp.weights[n]) {
      auto it = ref.weights[n].find(gram);
      if (it != ref.weights[n].end()) value += std::min(w, it->second) * it->second;  // clipped (the "-D")
    }
    if (hyp.norm[n] != 0 && ref.norm[n] != 0) value /= hyp.norm[n] * ref.norm[n];
    out[n] = value * std::exp(-(delta * delta) / (2 * kCiderSigma * kCiderSigma));
  }
  return out;
}

}  // namespace

PerImageScore cider_d(const std::vector<std::vector<Tokens>>& references, const std::vector<Tokens>& candidates) {
  check_sizes(references, candidates);
  std::vector<std::vector<NgramCounts>> ref_counts(references.size());
  for (size_t i = 0; i < references.size(); ++i)
    for (const auto& ref : references[i]) ref_counts[i].push_back(count_ngrams(ref, kCiderN));
  const CiderIdf idf(ref_counts);
  PerImageScore result;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const CiderVector hyp = idf.vector(count_ngrams(candidates[i], kCiderN));
    std::array<double, kCiderN> total{};
    for (const auto& counts : ref_counts[i]) {
      const auto similarity = cider_similarity(hyp, idf.vector(counts));
      for (size_t n = 0; n < kCiderN; ++n) total[n] += similarity[n];
    }
    double mean = 0;
    for (double t : total) mean += t;
    mean /= kCiderN;
    result.per_image.push_back(mean / static_cast<double>(ref_counts[i].size()) * 10.0);
  }
  for (double s : result.per_image) result.corpus += s;
  if (!result.per_image.empty()) result.corpus /= static_cast<double>(result.per_image.size());
  return result;
}

CaptionScores score_captions(const std::vector<std::vector<std::string>>& references,
                             const std::vector<std::string>& candidates) {
  std::vector<std::vector<Tokens>> refs;
  for (const auto& set : references) {
    refs.emplace_back();
    for (const auto& r : set) refs.back().push_back(ptb_tokenize(r));
  }
  std::vector<Tokens> cands;
  cands.reserve(candidates.size());
  for (const auto& c : candidates) cands.push_back(ptb_tokenize(c));
  CaptionScores scores;
  scores.bleu = bleu(refs, cands);
  scores.rouge_l = rouge_l(refs, cands).corpus;
  const auto cider = cider_d(refs, cands);
  scores.cider_d = cider.corpus;
  scores.cider_per_image = cider.per_image;
  return scores;
}

}  // namespace captioner
