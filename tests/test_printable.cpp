#include "core/util/printable.h"

#include <QtTest/QtTest>

using captioner::excerpt;
using captioner::printable;

class TestPrintable : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  // What a terminal would obey is shown instead: escape sequences, bell, NUL, bidi overrides.
  // Values quoted in messages are cut: a megabyte-long value makes a short line that says its length.
  void excerpts_are_short_and_say_how_long_the_value_was() {
    QCOMPARE(excerpt("<f4"), std::string("<f4"));
    const std::string huge(1 << 20, 'x');
    const std::string cut = excerpt(huge, 10);
    QCOMPARE(cut, std::string("xxxxxxxxxx\u2026 (1048576 bytes)"));
    // Never inside a UTF-8 character: "é" is two bytes, so a cut after 2 bytes keeps "a" only.
    QCOMPARE(excerpt("a\xc3\xa9"
                     "bcdef",
                     2),
             std::string("a\u2026 (8 bytes)"));
    QCOMPARE(excerpt("\x1b[2J and more", 4), std::string("\\x1b[2J\u2026 (13 bytes)"));
  }

  void control_characters_are_shown_not_obeyed() {
    QCOMPARE(printable("a red disc"), std::string("a red disc"));
    QCOMPARE(printable("caf\xc3\xa9 \xe2\x80\x94 ok"), std::string("caf\xc3\xa9 \xe2\x80\x94 ok"));  // é and an em dash stay
    QCOMPARE(printable("\x1b[2Jwiped"), std::string("\\x1b[2Jwiped"));
    QCOMPARE(printable(std::string("bell\x07nul\0end", 12)), std::string("bell\\x07nul\\x00end"));
    QCOMPARE(printable("tab\tnew\nline\x7f"), std::string("tab\\x09new\\x0aline\\x7f"));
    QCOMPARE(printable("abc\xe2\x80\xae"
                       "fed"),
             std::string("abc\\u202efed"));                                            // right-to-left override
    QCOMPARE(printable("\xe2\x81\xa6x\xe2\x81\xa9"), std::string("\\u2066x\\u2069"));  // an isolate
    QCOMPARE(printable("cut \xe2\x80"), std::string("cut \xe2\x80"));                  // a cut sequence is not read past its end
  }
};

QTEST_APPLESS_MAIN(TestPrintable)
#include "test_printable.moc"
