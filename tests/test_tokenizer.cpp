#include "core/data/tokenizer.h"

#include <QtTest/QtTest>

using captioner::readable_caption;
using captioner::tokenize;
using Tokens = std::vector<std::string>;

class TestTokenizer : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  // Display text: punctuation attached to the word before it; tokens that only start with a mark stay.
  void readable_captions_attach_punctuation() {
    QCOMPARE(readable_caption("a dog , running on the beach ."), std::string("a dog, running on the beach."));
    QCOMPARE(readable_caption("shapes , a red disc"), std::string("shapes, a red disc"));
    QCOMPARE(readable_caption("what is it ? ! ok"), std::string("what is it?! ok"));
    QCOMPARE(readable_caption("a .net logo"), std::string("a .net logo"));
    QCOMPARE(readable_caption(""), std::string());
  }

  void lowercases_and_splits_punctuation() {
    QCOMPARE(tokenize("A Man riding a Horse, on the beach."),
             (Tokens{"a", "man", "riding", "a", "horse", ",", "on", "the", "beach", "."}));
  }
  void keeps_already_tokenized_text() {
    const std::string handout = "people shopping in an open market for vegetables .";
    QCOMPARE(tokenize(handout), (Tokens{"people", "shopping", "in", "an", "open", "market", "for", "vegetables", "."}));
  }
  void is_idempotent() {
    for (const char* raw : {"Two dogs (one brown) play; \"fetch!\" they said...", "It's a t-shirt, isn't it?",
                            "A 3.5 inch screen, 1,000 pixels.", "man 's hat"}) {
      const auto once = tokenize(raw);
      QCOMPARE(tokenize(captioner::join_tokens(once)), once);
    }
  }
  void keeps_apostrophes_and_hyphens_inside_words() { QCOMPARE(tokenize("A man's T-shirt"), (Tokens{"a", "man's", "t-shirt"})); }
  void keeps_numbers_whole() { QCOMPARE(tokenize("3.5 and 1,000."), (Tokens{"3.5", "and", "1,000", "."})); }
  void collapses_whitespace_and_keeps_ellipsis() {
    QCOMPARE(tokenize("  a\tdog\n\n..."), (Tokens{"a", "dog", "..."}));
    QVERIFY(tokenize("   \t ").empty());
    QVERIFY(tokenize("").empty());
  }
  void leaves_non_ascii_bytes_alone() { QCOMPARE(tokenize("Un CAFÉ crème"), (Tokens{"un", "cafÉ", "crème"})); }
};

QTEST_APPLESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
