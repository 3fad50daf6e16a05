#include "core/data/dataset.h"
#include "core/util/errors.h"

#include <QtTest/QtTest>

#include <set>

using namespace captioner;

namespace {
CaptionDataset dataset_of(int n) {
  CaptionDataset ds;
  for (int i = 0; i < n; ++i) ds.images.push_back({std::to_string(i), std::to_string(i), "", {{"w"}}, Split::Unassigned, i});
  return ds;
}
}  // namespace

class TestSplit : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void parts_are_disjoint_and_cover_all_images() {
    const auto s = split_images(dataset_of(1000), 0.1, 0.05, 42);
    QCOMPARE(s.val.size(), size_t{100});
    QCOMPARE(s.test.size(), size_t{50});
    QCOMPARE(s.train.size(), size_t{850});
    std::set<int64_t> all;
    for (const auto* part : {&s.train, &s.val, &s.test}) all.insert(part->begin(), part->end());
    QCOMPARE(all.size(), size_t{1000});
  }
  void same_seed_same_split_other_seed_other_split() {
    const auto a = split_images(dataset_of(200), 0.2, 0.0, 7);
    const auto b = split_images(dataset_of(200), 0.2, 0.0, 7);
    const auto c = split_images(dataset_of(200), 0.2, 0.0, 8);
    QCOMPARE(a.val, b.val);
    QCOMPARE(a.train, b.train);
    QVERIFY(a.val != c.val);
  }
  void tiny_datasets_keep_a_training_image() {
    const auto s = split_images(dataset_of(2), 0.5, 0.4, 1);
    QCOMPARE(s.train.size(), size_t{1});
    QCOMPARE(s.val.size(), size_t{1});
    QVERIFY(s.test.empty());
    QVERIFY_THROWS_EXCEPTION(ConfigError, split_images(dataset_of(10), 0.6, 0.5, 1));
  }
  void dataset_split_is_honoured() {
    auto ds = dataset_of(5);
    ds.images[0].split = Split::Test;
    ds.images[1].split = Split::Val;
    ds.images[2].split = Split::Train;
    const auto s = split_images(ds, 0.5, 0.0, 1);
    QCOMPARE(s.test, (std::vector<int64_t>{0}));
    QCOMPARE(s.val, (std::vector<int64_t>{1}));
    QCOMPARE(s.train, (std::vector<int64_t>{2, 3, 4}));  // unassigned go to train
  }
};

QTEST_APPLESS_MAIN(TestSplit)
#include "test_split.moc"
