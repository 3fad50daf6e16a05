#include "core/caption_net.h"
#include "core/decoding.h"

#include <torch/torch.h>

#include <QtTest/QtTest>

#include <cmath>

using namespace captioner;

namespace {

// Vocabulary: PAD UNK START END a b c. The fake model's next-word distribution is fixed, except
// that END becomes the most likely word from step `end_after` on.
Vocabulary fake_vocab() { return Vocabulary::from_words({"#PAD#", "#UNK#", "#START#", "#END#", "a", "b", "c"}); }

class FakeModel : public StepModel {
 public:
  explicit FakeModel(int end_after = 1000) : end_after_(end_after) {}
  std::vector<double> probs = {0, 0, 0, 0.1, 0.6, 0.2, 0.1};
  DecoderState start(const torch::Tensor& features) override {
    DecoderState s;
    s.tensors = {{torch::zeros({features.size(0)}, torch::kInt64), 0}};
    return s;
  }
  torch::Tensor step(const torch::Tensor& tokens, DecoderState& state) override {
    auto& t = state.tensors[0].first;
    auto p = torch::tensor(probs, torch::kFloat64).to(torch::kFloat32).unsqueeze(0).repeat({tokens.size(0), 1});
    auto logits = torch::log(p);
    const auto late = t.ge(end_after_);
    logits.index_put_({late, torch::indexing::Slice(3, 4)}, 10.0f);
    t = t + 1;
    return logits;
  }

 private:
  int end_after_;
};

std::vector<double> first_word_frequencies(FakeModel& model, double temperature, uint64_t seed) {
  DecodeOptions o;
  o.mode = DecodeMode::Sample;
  o.temperature = temperature;
  o.samples = 20000;
  o.max_len = 1;
  o.seed = seed;
  const auto captions = decode(model, fake_vocab(), torch::zeros({4}), o);
  std::vector<double> freq(7, 0.0);
  for (const auto& c : captions) freq[static_cast<size_t>(c.tokens.at(0).id)] += 1.0 / static_cast<double>(captions.size());
  return freq;
}

}  // namespace

class TestDecoding : public QObject {
  Q_OBJECT
 private slots:
  void greedy_takes_the_argmax_and_stops_at_end() {
    FakeModel model(2);
    DecodeOptions o;
    o.max_len = 10;
    const auto captions = decode(model, fake_vocab(), torch::zeros({4}), o);
    QCOMPARE(captions.size(), size_t{1});
    QCOMPARE(captions[0].text(), std::string("a a"));
    QVERIFY(captions[0].finished);
    QCOMPARE(captions[0].tokens.size(), size_t{3});  // a a END
    QCOMPARE(captions[0].tokens.back().id, Vocabulary::kEnd);
    QVERIFY(std::abs(captions[0].tokens[0].log_prob - std::log(0.6)) < 1e-5);
  }
  void greedy_respects_max_len() {
    FakeModel model;
    DecodeOptions o;
    o.max_len = 4;
    const auto c = decode(model, fake_vocab(), torch::zeros({4}), o).front();
    QCOMPARE(c.tokens.size(), size_t{4});
    QVERIFY(!c.finished);
    QVERIFY(std::abs(c.log_prob - 4 * std::log(0.6)) < 1e-4);
  }
  void sampling_at_t1_follows_the_model() {
    FakeModel model;
    const auto f = first_word_frequencies(model, 1.0, 1);
    for (size_t i = 3; i < 7; ++i) QVERIFY2(std::abs(f[i] - model.probs[i]) < 0.015, std::to_string(f[i]).c_str());
  }
  void temperature_sharpens_and_flattens() {
    FakeModel model;
    auto expected = [&](double t) {
      std::vector<double> q(7, 0.0);
      double z = 0;
      for (size_t i = 3; i < 7; ++i) z += q[i] = std::pow(model.probs[i], 1.0 / t);
      for (auto& x : q) x /= z;
      return q;
    };
    for (double t : {0.5, 2.0}) {
      const auto f = first_word_frequencies(model, t, 2);
      const auto q = expected(t);
      for (size_t i = 3; i < 7; ++i)
        QVERIFY2(std::abs(f[i] - q[i]) < 0.015, ("T=" + std::to_string(t) + " word " + std::to_string(i)).c_str());
    }
    // T -> 0 is greedy: every sample is the argmax.
    const auto cold = first_word_frequencies(model, 1e-4, 3);
    QCOMPARE(cold[4], 1.0);
  }
  void sampling_is_reproducible_by_seed() {
    FakeModel model;
    DecodeOptions o;
    o.mode = DecodeMode::Sample;
    o.samples = 8;
    o.max_len = 6;
    o.seed = 5;
    auto texts = [&](uint64_t seed) {
      o.seed = seed;
      std::vector<std::string> out;
      for (const auto& c : decode(model, fake_vocab(), torch::zeros({4}), o)) out.push_back(c.text());
      return out;
    };
    QCOMPARE(texts(5), texts(5));
    QVERIFY(texts(5) != texts(6));
  }
  void samples_stop_independently_at_end() {
    FakeModel model;
    model.probs = {0, 0, 0, 0.5, 0.5, 0, 0};
    DecodeOptions o;
    o.mode = DecodeMode::Sample;
    o.samples = 200;
    o.max_len = 50;
    size_t max_tokens = 0, min_tokens = 100;
    for (const auto& c : decode(model, fake_vocab(), torch::zeros({4}), o)) {
      for (size_t i = 0; i + 1 < c.tokens.size(); ++i) QVERIFY(c.tokens[i].id != Vocabulary::kEnd);
      if (c.finished) QCOMPARE(c.tokens.back().id, Vocabulary::kEnd);
      max_tokens = std::max(max_tokens, c.tokens.size());
      min_tokens = std::min(min_tokens, c.tokens.size());
    }
    QCOMPARE(min_tokens, size_t{1});
    QVERIFY(max_tokens > 4);
  }
  void bad_options_are_refused() {
    FakeModel model;
    DecodeOptions o;
    o.max_len = 0;
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, decode(model, fake_vocab(), torch::zeros({4}), o));
    o.max_len = 3;
    o.mode = DecodeMode::Sample;
    o.temperature = 0;
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, decode(model, fake_vocab(), torch::zeros({4}), o));
  }
  void step_decoding_agrees_with_teacher_forcing() {
    torch::manual_seed(3);
    ModelConfig config;
    config.feature_dim = 5;
    config.embed = 4;
    config.hidden = 6;
    config.layers = 2;
    const auto vocab = Vocabulary::from_words({"#PAD#", "#UNK#", "#START#", "#END#", "x", "y", "z"});
    CaptionNet net(config, vocab.size(), Vocabulary::kPad);
    net->eval();
    const auto features = torch::randn({5});
    DecodeOptions o;
    o.mode = DecodeMode::Sample;
    o.max_len = 6;
    o.seed = 9;
    const auto caption = decode(*net, vocab, features, o).front();
    std::vector<int64_t> ids = {Vocabulary::kStart};
    for (const auto& t : caption.tokens) ids.push_back(t.id);
    torch::NoGradGuard no_grad;
    const auto tokens = torch::tensor(ids, torch::kInt64).unsqueeze(0);
    const auto hidden = net->hidden_states(features.unsqueeze(0), tokens.index({torch::indexing::Slice(), torch::indexing::Slice(0, -1)}));
    const auto lp = torch::log_softmax(net->logits(hidden), -1)[0];
    for (size_t i = 0; i < caption.tokens.size(); ++i)
      QVERIFY(std::abs(lp[static_cast<int64_t>(i)][ids[i + 1]].item<float>() - caption.tokens[i].log_prob) < 1e-5);
  }
};

QTEST_APPLESS_MAIN(TestDecoding)
#include "test_decoding.moc"
