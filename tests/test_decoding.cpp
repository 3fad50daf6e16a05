#include "core/model/attention_net.h"
#include "core/model/caption_net.h"
#include "core/model/decoding.h"

#include <torch/torch.h>

#include <QtTest/QtTest>

#include <cmath>
#include <set>

#include "model_reference.h"

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

// A model that looks at `map` at every step and always prefers the same words: a 0.6, b 0.25,
// END 0.1, c 0.05.
class LookingModel : public StepModel {
 public:
  explicit LookingModel(std::vector<float> map) : map_(std::move(map)) {}
  DecoderState start(const torch::Tensor& features) override {
    DecoderState s;
    s.tensors = {{torch::zeros({features.size(0)}), 0}};  // batch bookkeeping only
    return s;
  }
  torch::Tensor step(const torch::Tensor& tokens, DecoderState& state) override {
    const int64_t n = tokens.size(0);
    state.attention = torch::tensor(map_).unsqueeze(0).repeat({n, 1});
    const std::vector<double> p = {1e-9, 1e-9, 1e-9, 0.1, 0.6, 0.25, 0.05};
    return torch::log(torch::tensor(p, torch::kFloat64).to(torch::kFloat32)).unsqueeze(0).repeat({n, 1});
  }

 private:
  std::vector<float> map_;
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

// A model whose next-word distribution depends only on the previous word: a trap for greedy.
// After START: a 0.5, b 0.4, c 0.1. After a: a, b, c, END 0.25 each. After b: END 0.9, c 0.1.
// After c: END 1. Greedy says "a ..." (0.5 * 0.25 ...); the best caption is "b" (0.4 * 0.9).
class TreeModel : public StepModel {
 public:
  DecoderState start(const torch::Tensor& features) override {
    DecoderState s;
    s.tensors = {{torch::zeros({features.size(0)}), 0}};  // batch bookkeeping only
    return s;
  }
  torch::Tensor step(const torch::Tensor& tokens, DecoderState& state) override {
    std::vector<float> rows;
    for (int64_t i = 0; i < tokens.size(0); ++i) {
      std::vector<float> p(7, 1e-9f);
      switch (tokens[i].item<int64_t>()) {
        case Vocabulary::kStart:
          p[4] = 0.5f;
          p[5] = 0.4f;
          p[6] = 0.1f;
          break;
        case 4:
          p[3] = p[4] = p[5] = p[6] = 0.25f;
          break;
        case 5:
          p[3] = 0.9f;
          p[6] = 0.1f;
          break;
        default:
          p[3] = 1.0f;
      }
      rows.insert(rows.end(), p.begin(), p.end());
    }
    return torch::log(torch::tensor(rows).view({tokens.size(0), 7}));
  }
};

ModelConfig model_config(const std::string& kind) {
  ModelConfig c;
  c.kind = kind;
  c.feature_dim = 6;
  c.embed = 5;
  c.hidden = 12;
  c.attention_dim = 7;
  return c;
}

// A random model with sharpened outputs (larger output weights), so captions differ by image.
CaptionModel random_model(const std::string& kind, int64_t vocab_size, uint64_t seed) {
  torch::manual_seed(seed);
  auto model = make_caption_model(model_config(kind), vocab_size, Vocabulary::kPad);
  torch::NoGradGuard no_grad;
  model->output_layer()->weight.mul_(6);
  model->eval();
  return model;
}

torch::Tensor image_for(const std::string& kind, uint64_t seed) {
  torch::manual_seed(seed);
  return kind == "attention" ? torch::randn({1, 9, 6}) : torch::randn({1, 6});
}

Vocabulary ten_words() {
  return Vocabulary::from_words({"#PAD#", "#UNK#", "#START#", "#END#", "a", "b", "c", "d", "e", "f", "g", "h"});
}

}  // namespace

class TestDecoding : public QObject {
  Q_OBJECT
 private Q_SLOTS:
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
  // The fake model always prefers "a": with blocking, no caption repeats a sequence of n words.
  void no_repeat_ngram_blocks_repeated_sequences() {
    FakeModel model;
    DecodeOptions o;
    o.max_len = 12;
    QCOMPARE(decode(model, fake_vocab(), torch::zeros({4}), o).front().text(), std::string("a a a a a a a a a a a a"));
    o.no_repeat_ngram = 2;
    QCOMPARE(decode(model, fake_vocab(), torch::zeros({4}), o).front().text(), std::string("a a b a"));
    auto no_repeats = [](const DecodedCaption& c, int n) {
      std::set<std::vector<int64_t>> seen;
      for (size_t i = 0; i + n <= c.tokens.size(); ++i) {
        std::vector<int64_t> gram;
        for (int k = 0; k < n; ++k) gram.push_back(c.tokens[i + static_cast<size_t>(k)].id);
        if (!seen.insert(gram).second) return false;
      }
      return true;
    };
    for (int n : {1, 2, 3}) {
      o.no_repeat_ngram = n;
      o.mode = DecodeMode::Beam;
      o.beam_width = 3;
      for (const auto& c : decode(model, fake_vocab(), torch::zeros({4}), o)) QVERIFY(no_repeats(c, n));
      o.mode = DecodeMode::Sample;
      o.samples = 50;
      o.temperature = 2.0;
      for (const auto& c : decode(model, fake_vocab(), torch::zeros({4}), o)) QVERIFY2(no_repeats(c, n), c.text().c_str());
      o.mode = DecodeMode::Greedy;
    }
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
  // START, PAD and UNK never appear in a caption, even from a model that prefers them, in every
  // mode (sampling at a high temperature drew START mid-caption).
  void special_tokens_are_never_chosen() {
    FakeModel model;
    model.probs = {0.3, 0.3, 0.3, 0.02, 0.05, 0.02, 0.01};
    for (const DecodeMode mode : {DecodeMode::Greedy, DecodeMode::Sample, DecodeMode::Beam}) {
      DecodeOptions o;
      o.mode = mode;
      o.temperature = 5;
      o.samples = 200;
      o.beam_width = 3;
      o.max_len = 8;
      for (const auto& caption : decode(model, fake_vocab(), torch::zeros({4}), o))
        for (const auto& token : caption.tokens) QVERIFY2(token.id > Vocabulary::kStart, token.word.c_str());
    }
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
    const auto hidden =
        test::hidden_states(*net, features.unsqueeze(0), tokens.index({torch::indexing::Slice(), torch::indexing::Slice(0, -1)}));
    const auto lp = torch::log_softmax(test::logits(*net, hidden), -1)[0];
    for (size_t i = 0; i < caption.tokens.size(); ++i)
      QVERIFY(std::abs(lp[static_cast<int64_t>(i)][ids[i + 1]].item<float>() - caption.tokens[i].log_prob) < 1e-5);
  }
  void beam_search_escapes_the_greedy_trap() {
    TreeModel model;
    DecodeOptions o;
    o.max_len = 5;
    const auto greedy = decode(model, fake_vocab(), torch::zeros({4}), o).front();
    QCOMPARE(greedy.words().front(), std::string("a"));
    o.mode = DecodeMode::Beam;
    o.beam_width = 2;
    const auto beams = decode(model, fake_vocab(), torch::zeros({4}), o);
    QVERIFY(beams.size() <= 2);
    QCOMPARE(beams.front().text(), std::string("b"));
    QVERIFY(beams.front().finished);
    QVERIFY(std::abs(beams.front().log_prob - (std::log(0.4) + std::log(0.9))) < 1e-5);
    QVERIFY(beams.front().mean_log_prob() > greedy.mean_log_prob());
    for (size_t i = 1; i < beams.size(); ++i) QVERIFY(beams[i - 1].score(1.0) >= beams[i].score(1.0));
  }

  void beam_of_width_one_is_greedy() {
    const auto vocab = ten_words();
    for (const std::string kind : {"lstm", "attention"}) {
      const auto model = random_model(kind, vocab.size(), 5);
      for (uint64_t image = 0; image < 10; ++image) {
        DecodeOptions o;
        o.max_len = 8;
        const auto features = image_for(kind, image);
        const auto greedy = decode(*model, vocab, features, o).front();
        o.mode = DecodeMode::Beam;
        o.beam_width = 1;
        const auto beam = decode(*model, vocab, features, o);
        QCOMPARE(beam.size(), size_t(1));
        QCOMPARE(beam.front().tokens.size(), greedy.tokens.size());
        for (size_t t = 0; t < greedy.tokens.size(); ++t) {
          QCOMPARE(beam.front().tokens[t].id, greedy.tokens[t].id);
          QVERIFY(std::abs(beam.front().tokens[t].log_prob - greedy.tokens[t].log_prob) < 1e-5);
          QCOMPARE(beam.front().tokens[t].attention.size(), greedy.tokens[t].attention.size());
        }
      }
    }
  }

  // A word is not said again where it was said: with the model's attention on one cell, "a" comes
  // once, then "b" once, then END; with the attention spread over the grid nothing changes. The
  // log-probabilities reported stay the model's own; the penalty paid is kept beside them.
  void a_word_said_again_at_the_same_place_pays_the_revisit_penalty() {
    std::vector<float> focused(64, 0.0f), spread(64, 1.0f / 64);
    focused[5] = 1.0f;
    for (DecodeMode mode : {DecodeMode::Greedy, DecodeMode::Beam}) {
      DecodeOptions o;
      o.mode = mode;
      o.max_len = 4;
      LookingModel looking(focused);
      const auto once = decode(looking, fake_vocab(), torch::zeros({1, 4}), o).front();
      // Greedy says "a", then "b"; for beam search "b a" scores the same as "a b".
      const QString text = QString::fromStdString(once.text());
      QVERIFY2(text == QStringLiteral("a b") || (mode == DecodeMode::Beam && text == QStringLiteral("b a")), qPrintable(text));
      QVERIFY(once.finished);
      QVERIFY(std::abs(once.log_prob - std::log(0.6 * 0.25 * 0.1)) < 1e-4);
      QCOMPARE(once.penalty, 0.0);  // neither chosen word had been said before
      // Its words averaged log(0.015) / 3 = -1.4: flagged unsure.
      QVERIFY(once.unsure() && once.mean_log_prob() < kUnsureBelow);

      LookingModel unfocused(spread);
      QCOMPARE(QString::fromStdString(decode(unfocused, fake_vocab(), torch::zeros({1, 4}), o).front().text()),
               QStringLiteral("a a a a"));
      o.revisit_penalty = 0;  // off: the model's own choice
      QCOMPARE(QString::fromStdString(decode(looking, fake_vocab(), torch::zeros({1, 4}), o).front().text()),
               QStringLiteral("a a a a"));
      // A small penalty is paid when the repeat is still the better choice, and kept.
      o.revisit_penalty = 0.5;
      const auto paid = decode(looking, fake_vocab(), torch::zeros({1, 4}), o).front();
      QCOMPARE(QString::fromStdString(paid.text()), QStringLiteral("a a a a"));
      QVERIFY(std::abs(paid.penalty - 1.5) < 1e-5);
    }
    DecodeOptions bad;
    bad.revisit_penalty = -1;
    LookingModel looking(focused);
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, decode(looking, fake_vocab(), torch::zeros({1, 4}), bad));
  }

  // Several images decoded as one batch get the captions each gets alone.
  void greedy_batch_equals_each_image_alone() {
    const auto vocab = ten_words();
    for (const std::string kind : {"lstm", "attention"}) {
      const auto model = random_model(kind, vocab.size(), 5);
      std::vector<torch::Tensor> images;
      // Strong inputs, so that the images get different captions from a random model.
      for (uint64_t image = 0; image < 12; ++image) images.push_back(image_for(kind, 200 + image) * 8);
      DecodeOptions o;
      o.max_len = 9;
      const auto batch = decode_greedy_batch(*model, vocab, torch::cat(images), o);
      QCOMPARE(batch.size(), images.size());
      std::set<std::string> distinct;
      for (size_t i = 0; i < images.size(); ++i) {
        const auto alone = decode(*model, vocab, images[i], o).front();
        QCOMPARE(batch[i].text(), alone.text());
        QCOMPARE(batch[i].finished, alone.finished);
        QVERIFY(std::abs(batch[i].log_prob - alone.log_prob) < 1e-4);
        QCOMPARE(batch[i].tokens.front().attention.size(), alone.tokens.front().attention.size());
        distinct.insert(alone.text());
      }
      QVERIFY2(distinct.size() > 1, (kind + ": the images should get different captions, or the test shows nothing").c_str());
    }
  }

  // top_alternatives: each word lists the k words the model found likeliest there, likeliest
  // first, never START, PAD or UNK; greedy's word is the first of them; the batch agrees.
  void each_word_lists_the_likeliest_alternatives() {
    const auto vocab = ten_words();
    const auto model = random_model("attention", vocab.size(), 5);
    for (DecodeMode mode : {DecodeMode::Greedy, DecodeMode::Sample, DecodeMode::Beam}) {
      DecodeOptions o;
      o.mode = mode;
      o.max_len = 6;
      o.top_alternatives = 4;
      o.samples = 2;
      for (const auto& caption : decode(*model, vocab, image_for("attention", 3), o))
        for (const auto& token : caption.tokens) {
          QCOMPARE(token.alternatives.size(), size_t{4});
          float total = 0;
          for (size_t i = 0; i < token.alternatives.size(); ++i) {
            const auto& a = token.alternatives[i];
            QVERIFY(a.word != vocab.word(Vocabulary::kStart) && a.word != vocab.word(Vocabulary::kPad) &&
                    a.word != vocab.word(Vocabulary::kUnk));
            if (i > 0) QVERIFY(a.log_prob <= token.alternatives[i - 1].log_prob);
            total += std::exp(a.log_prob);
          }
          QVERIFY(total <= 1.0f + 1e-5f);
          if (mode == DecodeMode::Greedy) {
            QCOMPARE(token.alternatives.front().word, token.word);
            QVERIFY(std::abs(token.alternatives.front().log_prob - token.log_prob) < 1e-6);
          }
          // The chosen word, when among them, carries the same log-probability.
          for (const auto& a : token.alternatives)
            if (a.word == token.word) QVERIFY(std::abs(a.log_prob - token.log_prob) < 1e-6);
        }
    }
    // More than the vocabulary offers: every possible word, no more.
    DecodeOptions all;
    all.max_len = 3;
    all.top_alternatives = 20;
    const auto caption = decode(*model, vocab, image_for("attention", 3), all).front();
    QCOMPARE(caption.tokens.front().alternatives.size(), static_cast<size_t>(vocab.size() - 3));
    // Off by default.
    DecodeOptions none;
    QVERIFY(decode(*model, vocab, image_for("attention", 3), none).front().tokens.front().alternatives.empty());
    // The server's batch gives each image the same alternatives as alone.
    DecodeOptions alone;
    alone.max_len = 6;
    alone.top_alternatives = 4;
    const auto batch =
        decode_greedy_batch(*model, vocab, torch::cat({image_for("attention", 3), image_for("attention", 4)}), alone);
    const auto single = decode(*model, vocab, image_for("attention", 4), alone).front();
    QCOMPARE(batch[1].tokens.size(), single.tokens.size());
    for (size_t t = 0; t < single.tokens.size(); ++t)
      for (size_t i = 0; i < 4; ++i) QCOMPARE(batch[1].tokens[t].alternatives[i].word, single.tokens[t].alternatives[i].word);
  }

  void wider_beams_score_at_least_greedy_on_average() {
    const auto vocab = ten_words();
    for (const std::string kind : {"lstm", "attention"}) {
      const auto model = random_model(kind, vocab.size(), 6);
      double greedy_total = 0, beam_total = 0;
      for (uint64_t image = 0; image < 30; ++image) {
        DecodeOptions o;
        o.max_len = 10;
        const auto features = image_for(kind, 100 + image);
        greedy_total += decode(*model, vocab, features, o).front().mean_log_prob();
        o.mode = DecodeMode::Beam;
        o.beam_width = 3;
        beam_total += decode(*model, vocab, features, o).front().mean_log_prob();
      }
      // Where beam and greedy find the same caption their sums may differ in the last float bits
      // (beams are scored in a batch), hence the small tolerance.
      QVERIFY2(beam_total >= greedy_total - 1e-4,
               (kind + ": " + std::to_string(beam_total) + " < " + std::to_string(greedy_total)).c_str());
    }
  }

  // Each hypothesis' maps and log-probabilities must be those of its own history, whatever the
  // reordering of beams on the way: replaying the tokens through the model gives them back.
  void beam_maps_follow_their_hypotheses() {
    const auto vocab = ten_words();
    const auto model = random_model("attention", vocab.size(), 7);
    DecodeOptions o;
    o.mode = DecodeMode::Beam;
    o.beam_width = 4;
    o.max_len = 8;
    const auto features = image_for("attention", 3);
    const auto beams = decode(*model, vocab, features, o);
    QVERIFY(beams.size() >= 2);
    torch::NoGradGuard no_grad;
    for (const auto& hypothesis : beams) {
      DecoderState state = model->start(features);
      auto previous = torch::full({1}, Vocabulary::kStart, torch::kInt64);
      for (const auto& token : hypothesis.tokens) {
        const auto lp = torch::log_softmax(model->step(previous, state), -1);
        QVERIFY(std::abs(lp[0][token.id].item<float>() - token.log_prob) < 1e-5);
        if (token.id == Vocabulary::kEnd) {
          QVERIFY(token.attention.empty());  // no map for END
        } else {
          QCOMPARE(token.attention.size(), size_t(9));
          for (size_t c = 0; c < 9; ++c)
            QVERIFY(std::abs(token.attention[c] - state.attention[0][static_cast<int64_t>(c)].item<float>()) < 1e-6);
        }
        previous = torch::full({1}, token.id, torch::kInt64);
      }
    }
  }

  void top_k_sampling_keeps_the_k_likeliest() {
    FakeModel model;
    DecodeOptions o;
    o.mode = DecodeMode::Sample;
    o.top_k = 2;
    o.samples = 4000;
    o.max_len = 1;
    o.seed = 4;
    const auto captions = decode(model, fake_vocab(), torch::zeros({4}), o);
    int a = 0;
    for (const auto& c : captions) {
      const auto id = c.tokens.at(0).id;
      QVERIFY(id == 4 || id == 5);  // p = 0.6 and 0.2; END (0.1) and c (0.1) are cut
      a += id == 4;
    }
    QVERIFY(std::abs(a / 4000.0 - 0.75) < 0.03);  // renormalised: 0.6 / 0.8
  }

  void modes_parse_by_name() {
    QVERIFY(parse_mode("beam") == DecodeMode::Beam);
    QCOMPARE(std::string(mode_name(DecodeMode::Sample)), std::string("sample"));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, parse_mode("nucleus"));
  }
};

QTEST_APPLESS_MAIN(TestDecoding)
#include "test_decoding.moc"
