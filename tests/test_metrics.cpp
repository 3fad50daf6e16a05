// Caption metrics against values worked out by hand from the coco-caption definitions.
#include "core/eval/metrics.h"

#include <QtTest/QtTest>

#include <cmath>

using namespace captioner;

namespace {

Tokens words(const std::string& s) { return ptb_tokenize(s); }
std::vector<std::vector<Tokens>> refs(std::initializer_list<std::initializer_list<const char*>> sets) {
  std::vector<std::vector<Tokens>> out;
  for (const auto& set : sets) {
    out.emplace_back();
    for (const char* r : set) out.back().push_back(words(r));
  }
  return out;
}
std::vector<Tokens> cands(std::initializer_list<const char*> list) {
  std::vector<Tokens> out;
  for (const char* c : list) out.push_back(words(c));
  return out;
}
bool near(double a, double b, double tol = 1e-6) { return std::abs(a - b) <= tol; }

}  // namespace

class TestMetrics : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void ptb_tokenization_drops_punctuation_and_splits_clitics() {
    QCOMPARE(ptb_tokenize("A man's hat, isn't it?"), (Tokens{"a", "man", "'s", "hat", "is", "n't", "it"}));
    QCOMPARE(ptb_tokenize("  Two (small) dogs... \"playing\"!  "), (Tokens{"two", "small", "dogs", "playing"}));
    QCOMPARE(ptb_tokenize("a t-shirt - and 3.5 dogs."), (Tokens{"a", "t-shirt", "and", "3.5", "dogs"}));
    QVERIFY(ptb_tokenize(" . , ! ").empty());
  }

  void bleu_identical_caption_is_one() {
    const auto b = bleu(refs({{"a man rides a horse"}}), cands({"a man rides a horse"}));
    for (double s : b) QVERIFY2(near(s, 1.0, 1e-9), std::to_string(s).c_str());
  }

  // cand "the cat the cat on the mat" (7 words) against two 6-word references:
  // clipped matches 5/7, 3/6, 1/5, 0/4; no brevity penalty (7 > 6).
  void bleu_clips_counts_candidate_longer_than_every_reference() {
    const auto b = bleu(refs({{"the cat sat on the mat", "a cat is on the mat"}}), cands({"the cat the cat on the mat"}));
    QVERIFY(near(b[0], 5.0 / 7.0));
    QVERIFY(near(b[1], std::sqrt(5.0 / 7.0 * 0.5)));
    QVERIFY(near(b[2], std::cbrt(5.0 / 7.0 * 0.5 * 0.2)));
    QVERIFY(b[3] < 1e-3);  // no 4-gram matches: only the toolkit's 1e-15 smoothing is left
  }

  // "the cat" (2 words): closest reference length is 4, so BP = exp(1 - 4/2).
  void bleu_brevity_penalty_uses_closest_reference_length() {
    const auto b = bleu(refs({{"the cat sat on the mat", "a cat is here"}}), cands({"the cat"}));
    QVERIFY(near(b[0], std::exp(-1.0)));
    QVERIFY(near(b[1], std::exp(-1.0)));
  }

  // Length 5 between references of 4 and 6: the tie goes to the shorter, so no penalty.
  void bleu_tie_picks_shorter_reference() {
    const auto b = bleu(refs({{"the cat sat on", "the cat sat on the mat"}}), cands({"the cat sat on it"}));
    QVERIFY(near(b[0], 0.8));
  }

  // Corpus level: counts are summed before dividing (2 of 6 unigrams), not averaged per image.
  void bleu_is_corpus_level() {
    const auto b = bleu(refs({{"a b"}, {"x y z w"}}), cands({"a b", "c d e f"}));
    QVERIFY(near(b[0], 2.0 / 6.0));
  }

  void empty_candidate_scores_zero() {
    const auto r = refs({{"a dog runs"}, {"a cat sleeps"}});
    const auto c = cands({"", "a cat sleeps"});
    const auto b = bleu(r, c);
    QVERIFY(b[0] > 0 && b[0] < 1);  // the second image still counts
    QCOMPARE(rouge_l(r, c).per_image[0], 0.0);
    QCOMPARE(cider_d(r, c).per_image[0], 0.0);
    const auto only_empty = bleu(refs({{"a dog runs"}}), cands({""}));
    for (double s : only_empty) QVERIFY(s < 1e-9);
  }

  // LCS with the first reference is "the cat on the mat" (5): P = 5/7, R = 5/6, beta = 1.2.
  void rouge_l_hand_computed() {
    const auto r = rouge_l(refs({{"the cat sat on the mat", "a cat is on the mat"}}), cands({"the cat the cat on the mat"}));
    QVERIFY(near(r.corpus, 0.7800511508951408));
  }

  // Precision and recall are maximised over references separately, as the toolkit does.
  void rouge_l_takes_best_precision_and_recall_independently() {
    const auto r = rouge_l(refs({{"a b c d e f", "a"}}), cands({"a b c"}));
    QVERIFY(near(r.corpus, 1.0));
  }

  // Two images, so idf = log 2 - log df = log 2 for every n-gram. Image 1 matches exactly:
  // n=1,2 cosine 1, n=3,4 empty -> mean 0.5 -> x10 = 5. Image 2 "c e" vs "c d": unigram
  // cosine 1/2, the rest 0 -> 0.125 -> 1.25. The absent word "e" still weighs log 2.
  void cider_d_hand_computed_with_absent_word() {
    const auto c = cider_d(refs({{"a b"}, {"c d"}}), cands({"a b", "c e"}));
    QVERIFY(near(c.per_image[0], 5.0));
    QVERIFY(near(c.per_image[1], 1.25));
    QVERIFY(near(c.corpus, 3.125));
  }

  // "a b b" vs "a b": unigram cosine 2/sqrt(10) (clipped), bigram 1/sqrt(2), trigram 0, and the
  // length penalty exp(-1/72) (2 bigrams against 1).
  void cider_d_clips_repeats_and_penalises_length() {
    const auto c = cider_d(refs({{"a b"}, {"c d"}}), cands({"a b b", "c d"}));
    const double expected = (2 / std::sqrt(10.0) + 1 / std::sqrt(2.0)) * std::exp(-1.0 / 72) / 4 * 10;
    QVERIFY(near(c.per_image[0], expected));
    QVERIFY(near(c.per_image[1], 5.0));
  }

  // A single image has idf log(1) - log(1) = 0 for every n-gram: CIDEr-D is 0 whatever the caption.
  void cider_d_of_one_image_is_zero() { QCOMPARE(cider_d(refs({{"a b"}}), cands({"a b"})).corpus, 0.0); }

  // n-grams shared by every image's references carry no weight.
  void cider_d_ignores_ngrams_in_every_image() {
    const auto c = cider_d(refs({{"a red circle"}, {"a blue circle"}}), cands({"a circle", "a blue circle"}));
    QVERIFY(near(c.per_image[0], 0.0));
    QVERIFY(c.per_image[1] > 0);
  }

  void score_captions_tokenizes_raw_text() {
    const auto s =
        score_captions({{"A small red circle."}, {"A large blue square!"}}, {"a small red circle", "A LARGE blue square"});
    for (double b : s.bleu) QVERIFY(near(b, 1.0, 1e-9));
    QVERIFY(near(s.rouge_l, 1.0));
    QVERIFY(s.cider_d > 0);
    QCOMPARE(s.cider_per_image.size(), size_t(2));
  }

  // Without any 4-gram, BLEU-4 is the toolkit's smoothing ratio 1e-15/1e-9 to the power 1/4.
  void bleu_of_short_captions_follows_toolkit_smoothing() {
    const auto b = bleu(refs({{"a red circle"}}), cands({"a red circle"}));
    QVERIFY(near(b[2], 1.0, 1e-9));
    QVERIFY(near(b[3], std::pow(1e-6, 0.25), 1e-9));
  }

  void mismatched_inputs_are_refused() {
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, bleu(refs({{"a"}}), cands({"a", "b"})));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, cider_d({{}}, cands({"a"})));
  }
};

QTEST_APPLESS_MAIN(TestMetrics)
#include "test_metrics.moc"
