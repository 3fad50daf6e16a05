#include "core/data/vocabulary.h"

#include <QtTest/QtTest>

#include "core/util/errors.h"

using captioner::TokenizedCaption;
using captioner::Vocabulary;

namespace {
Vocabulary build(const std::vector<TokenizedCaption>& captions, int min_count) {
  std::vector<const TokenizedCaption*> ptrs;
  for (const auto& c : captions) ptrs.push_back(&c);
  return Vocabulary::build(ptrs, min_count);
}
}  // namespace

class TestVocabulary : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void special_tokens_come_first() {
    const Vocabulary v;
    QCOMPARE(v.size(), int64_t{4});
    QCOMPARE(v.word(Vocabulary::kPad), std::string("#PAD#"));
    QCOMPARE(v.word(Vocabulary::kUnk), std::string("#UNK#"));
    QCOMPARE(v.word(Vocabulary::kStart), std::string("#START#"));
    QCOMPARE(v.word(Vocabulary::kEnd), std::string("#END#"));
  }
  void threshold_keeps_words_seen_min_count_times() {
    const auto v = build({{"a", "dog"}, {"a", "cat"}, {"a", "dog", "runs"}}, 2);
    QVERIFY(v.contains("a"));     // 3
    QVERIFY(v.contains("dog"));   // 2
    QVERIFY(!v.contains("cat"));  // 1
    QVERIFY(!v.contains("runs"));
    QCOMPARE(v.size(), int64_t{6});
    QCOMPARE(v.id("cat"), Vocabulary::kUnk);
    QCOMPARE(build({{"a", "dog"}, {"a", "cat"}}, 1).size(), int64_t{7});
  }
  void ids_are_deterministic_by_count_then_word() {
    const auto v = build({{"b", "a", "c"}, {"c", "a"}, {"c", "z"}, {"z"}}, 1);
    // c:3, a:2, z:2, b:1 -> c, a, z, b
    QCOMPARE(v.words(), (std::vector<std::string>{"#PAD#", "#UNK#", "#START#", "#END#", "c", "a", "z", "b"}));
    // Same captions in another order give the same ids.
    QCOMPARE(build({{"z"}, {"c", "z"}, {"c", "a"}, {"b", "a", "c"}}, 1), v);
  }
  void special_words_in_text_are_not_duplicated() {
    const auto v = build({{"#PAD#", "#END#", "x"}, {"#PAD#", "#END#", "x"}}, 1);
    QCOMPARE(v.size(), int64_t{5});
  }
  void encode_wraps_in_start_end_and_truncates() {
    const auto v = build({{"a", "red", "car"}}, 1);
    const auto ids = v.encode({"a", "red", "bus"}, 0);
    QCOMPARE(ids, (std::vector<int64_t>{Vocabulary::kStart, v.id("a"), v.id("red"), Vocabulary::kUnk, Vocabulary::kEnd}));
    const auto cut = v.encode({"a", "red", "car"}, 3);
    QCOMPARE(cut, (std::vector<int64_t>{Vocabulary::kStart, v.id("a"), v.id("red")}));
    QCOMPARE(v.encode({"a"}, 3).back(), Vocabulary::kEnd);
  }
  void round_trips_through_word_list() {
    const auto v = build({{"x", "y"}, {"y"}}, 1);
    QCOMPARE(Vocabulary::from_words(v.words()), v);
    QVERIFY_THROWS_EXCEPTION(captioner::DataError, Vocabulary::from_words({"x", "y"}));
    QVERIFY_THROWS_EXCEPTION(captioner::DataError, Vocabulary::from_words({"#PAD#", "#UNK#", "#START#", "#END#", "a", "a"}));
    QVERIFY_THROWS_EXCEPTION(std::out_of_range, v.word(99));
  }
};

QTEST_APPLESS_MAIN(TestVocabulary)
#include "test_vocabulary.moc"
