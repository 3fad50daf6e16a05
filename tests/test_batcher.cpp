#include "core/data/batcher.h"

#include <nlohmann/json.hpp>

#include <QtTest/QtTest>

#include <set>

using namespace captioner;

namespace {

CaptionDataset make_dataset(int images, int captions_per_image) {
  CaptionDataset ds;
  for (int i = 0; i < images; ++i) {
    ImageRecord r;
    r.key = std::to_string(i);
    r.feature_row = i;
    for (int j = 0; j < captions_per_image; ++j) {
      TokenizedCaption c = {"img" + std::to_string(i), "cap" + std::to_string(j)};
      for (int k = 0; k < j; ++k) c.push_back("more");  // captions of different lengths
      r.captions.push_back(c);
    }
    ds.images.push_back(r);
  }
  return ds;
}

Vocabulary vocab_of(const CaptionDataset& ds) {
  std::vector<const TokenizedCaption*> all;
  for (const auto& im : ds.images)
    for (const auto& c : im.captions) all.push_back(&c);
  return Vocabulary::build(all, 1);
}

}  // namespace

class TestBatcher : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void layout_is_start_words_end_then_pad() {
    const auto ds = make_dataset(4, 3);
    const auto vocab = vocab_of(ds);
    EncodedCaptions enc(ds, vocab, 0);
    const auto t = pad_sequences({&enc.of(0)[0], &enc.of(1)[2]}, Vocabulary::kPad);
    // caption 0: START img0 cap0 END ; caption 2: START img1 cap2 more more END
    QCOMPARE(t.size(0), int64_t{2});
    QCOMPARE(t.size(1), int64_t{6});
    const auto row0 = std::vector<int64_t>(t[0].data_ptr<int64_t>(), t[0].data_ptr<int64_t>() + 6);
    QCOMPARE(row0, (std::vector<int64_t>{Vocabulary::kStart, vocab.id("img0"), vocab.id("cap0"), Vocabulary::kEnd,
                                         Vocabulary::kPad, Vocabulary::kPad}));
    QCOMPARE(t[1][0].item<int64_t>(), Vocabulary::kStart);
    QCOMPARE(t[1][5].item<int64_t>(), Vocabulary::kEnd);
  }
  void truncates_to_max_len() {
    const auto ds = make_dataset(2, 3);
    const auto vocab = vocab_of(ds);
    EncodedCaptions enc(ds, vocab, 4);
    for (int i = 0; i < 2; ++i)
      for (const auto& c : enc.of(i)) QVERIFY(c.size() <= 4);
    // caption 2 (6 tokens) loses its tail, END included; caption 0 (4 tokens) is whole.
    QCOMPARE(enc.of(0)[2].back(), vocab.id("more"));
    QCOMPARE(enc.of(0)[0].back(), Vocabulary::kEnd);
  }
  void batch_holds_distinct_images_with_their_features() {
    const auto ds = make_dataset(10, 2);
    const auto vocab = vocab_of(ds);
    EncodedCaptions enc(ds, vocab, 0);
    auto features = FeatureTable::from_tensor(torch::arange(10, torch::kFloat32).unsqueeze(1).repeat({1, 3}));
    ImageSampler sampler({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 7);
    Rng rng(3);
    for (int step = 0; step < 50; ++step) {
      const auto images = sampler.next(4);
      QCOMPARE(std::set<int64_t>(images.begin(), images.end()).size(), size_t{4});
      const auto batch = make_batch(images, enc, features, rng);
      QCOMPARE(batch.features.sizes(), (torch::IntArrayRef{4, 3}));
      for (int i = 0; i < 4; ++i) {
        QCOMPARE(batch.features[i][0].item<float>(), static_cast<float>(images[static_cast<size_t>(i)]));
        // The caption belongs to that image.
        QCOMPARE(batch.tokens[i][1].item<int64_t>(), vocab.id("img" + std::to_string(images[static_cast<size_t>(i)])));
      }
    }
  }
  void epochs_cover_every_image_once() {
    ImageSampler sampler({10, 11, 12, 13, 14, 15}, 1);
    std::multiset<int64_t> seen;
    for (int i = 0; i < 3; ++i) {
      const auto b = sampler.next(2);
      seen.insert(b.begin(), b.end());
    }
    QCOMPARE(seen, (std::multiset<int64_t>{10, 11, 12, 13, 14, 15}));
    QCOMPARE(sampler.epoch(), int64_t{0});
    sampler.next(2);
    QCOMPARE(sampler.epoch(), int64_t{1});
    // A batch larger than the pool is clamped, still distinct.
    const auto all = ImageSampler({1, 2, 3}, 1).next(8);
    QCOMPARE(std::set<int64_t>(all.begin(), all.end()).size(), size_t{3});
  }
  void random_caption_choice_reaches_every_caption() {
    const auto ds = make_dataset(1, 5);
    const auto vocab = vocab_of(ds);
    EncodedCaptions enc(ds, vocab, 0);
    auto features = FeatureTable::from_tensor(torch::zeros({1, 2}));
    Rng rng(11);
    std::map<int64_t, int> counts;
    for (int i = 0; i < 500; ++i) ++counts[make_batch({0}, enc, features, rng).tokens[0][2].item<int64_t>()];
    QCOMPARE(counts.size(), size_t{5});
    for (auto& [id, n] : counts) QVERIFY2(n > 60 && n < 140, ("caption drawn " + std::to_string(n) + "/500 times").c_str());
  }
  void sampler_state_round_trips() {
    ImageSampler a({1, 2, 3, 4, 5, 6, 7}, 5);
    a.next(3);
    ImageSampler b({1, 2, 3, 4, 5, 6, 7}, 99);
    b.restore(a.state());
    for (int i = 0; i < 10; ++i) QCOMPARE(a.next(3), b.next(3));
    ImageSampler other({1, 2}, 5);
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, other.restore(a.state()));
    // A saved state whose numbers are not integers is refused, not cast (undefined for 1e300).
    auto forged = nlohmann::json::parse(a.state());
    forged["position"] = 1e300;
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, b.restore(forged.dump()));
  }
};

QTEST_APPLESS_MAIN(TestBatcher)
#include "test_batcher.moc"
