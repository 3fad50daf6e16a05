// The soft-attention decoder: teacher forcing agrees with step-by-step decoding, the weights
// and the doubly stochastic penalty are what they claim, checkpoints round-trip, and trained on
// data where only one cell tells the word, it learns to look at that cell.
#include "core/attention_net.h"
#include "core/caption_net.h"
#include "core/checkpoint.h"
#include "core/decoding.h"
#include "core/loss.h"

#include <torch/torch.h>

#include "test_support.h"

using namespace captioner;
using captioner::test::expect_error;

namespace {

const Vocabulary& vocab() {
  static const Vocabulary v = Vocabulary::from_words({"#PAD#", "#UNK#", "#START#", "#END#", "a", "red", "green", "blue", "yellow", "thing"});
  return v;
}

ModelConfig small_config() {
  ModelConfig c;
  c.kind = "attention";
  c.feature_dim = 8;
  c.embed = 8;
  c.hidden = 16;
  c.attention_dim = 12;
  return c;
}

// 16 cells (4x4) of 8 features: each cell one colour (one-hot in 0..3), every colour on exactly
// four cells, so the mean grid (h0) says nothing about the answer. One marked cell (feature 4 = 1)
// holds the colour the caption names, "a <colour> thing": only by attending to it can the model
// know which of the four colours to say.
struct MarkedGrids {
  torch::Tensor grids;          // [N, 16, 8]
  torch::Tensor tokens;         // [N, 5] START a colour thing END
  std::vector<int64_t> marked;  // the marked cell of each
};

MarkedGrids marked_grids(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  MarkedGrids d;
  d.grids = torch::zeros({n, 16, 8});
  d.tokens = torch::zeros({n, 5}, torch::kInt64);
  for (int64_t i = 0; i < n; ++i) {
    const auto order = torch::randperm(16, torch::kInt64);
    const auto* cell = order.data_ptr<int64_t>();
    for (int64_t k = 0; k < 16; ++k) d.grids[i][cell[k]][k / 4] = 1;  // colour k / 4 on four cells
    const int64_t m = cell[torch::randint(0, 16, {1}).item<int64_t>()];
    const int64_t colour = d.grids[i][m].argmax().item<int64_t>();
    d.grids[i][m][4] = 1;
    d.marked.push_back(m);
    d.tokens[i] = torch::tensor({int64_t{Vocabulary::kStart}, int64_t{4}, 5 + colour, int64_t{9}, int64_t{Vocabulary::kEnd}});
  }
  return d;
}

}  // namespace

class TestAttention : public QObject {
  Q_OBJECT
 private slots:
  void teacher_forcing_matches_step_decoding() {
    torch::manual_seed(1);
    AttentionNet net(small_config(), vocab().size(), Vocabulary::kPad);
    net->eval();
    torch::NoGradGuard no_grad;
    const auto grid = torch::randn({3, 16, 8});
    // Different lengths in an order that is not sorted: the batch shrinks internally.
    const auto tokens = torch::tensor({{2, 4, 5, 3, 0, 0}, {2, 4, 6, 9, 7, 3}, {2, 8, 3, 0, 0, 0}}, torch::kInt64);
    const auto tf = net->teacher_forcing(grid, tokens, Vocabulary::kPad);
    QCOMPARE(tf.targets.size(0), int64_t{3 + 5 + 2});
    const auto tf_logits = torch::log_softmax(net->output(tf.hidden), -1);
    // Step by step, per caption, and compare each target's log-probability (any order).
    std::multiset<long> expected, got;
    for (int64_t b = 0; b < 3; ++b) {
      DecoderState state = net->start(grid[b].unsqueeze(0));
      for (int64_t t = 0; t + 1 < tokens.size(1) && tokens[b][t + 1].item<int64_t>() != 0; ++t) {
        const auto lp = torch::log_softmax(net->step(tokens[b][t].unsqueeze(0), state), -1);
        expected.insert(std::lround(lp[0][tokens[b][t + 1].item<int64_t>()].item<double>() * 1e4));
        QCOMPARE(state.attention.sizes(), (torch::IntArrayRef{1, 16}));
        QVERIFY(std::abs(state.attention.sum().item<double>() - 1) < 1e-5);
      }
    }
    for (int64_t i = 0; i < tf.targets.size(0); ++i) got.insert(std::lround(tf_logits[i][tf.targets[i].item<int64_t>()].item<double>() * 1e4));
    QVERIFY(expected == got);
  }

  void penalty_is_mean_squared_coverage_gap() {
    torch::manual_seed(2);
    ModelConfig config = small_config();
    config.attention_penalty = 0.5;
    AttentionNet net(config, vocab().size(), Vocabulary::kPad);
    net->eval();
    torch::NoGradGuard no_grad;
    const auto grid = torch::randn({2, 16, 8});
    const auto tokens = torch::tensor({{2, 4, 5, 3}, {2, 6, 3, 0}}, torch::kInt64);
    const auto tf = net->teacher_forcing(grid, tokens, Vocabulary::kPad);
    auto coverage = torch::zeros({2, 16});
    for (int64_t b = 0; b < 2; ++b) {
      DecoderState state = net->start(grid[b].unsqueeze(0));
      for (int64_t t = 0; t < (b == 0 ? 3 : 2); ++t) {
        net->step(tokens[b][t].unsqueeze(0), state);
        coverage[b] += state.attention[0];
      }
    }
    const double expected = 0.5 * (1 - coverage).pow(2).mean().item<double>();
    QVERIFY2(std::abs(tf.penalty.item<double>() - expected) < 1e-5, std::to_string(tf.penalty.item<double>()).c_str());
  }

  void checkpoint_round_trip_keeps_outputs() {
    QTemporaryDir dir;
    torch::manual_seed(3);
    TrainConfig config;
    config.model = small_config();
    auto model = make_caption_model(config.model, vocab().size(), Vocabulary::kPad);
    TrainingState state;
    CheckpointContents contents;
    contents.config = &config;
    contents.vocab = &vocab();
    contents.model = model;
    contents.state = &state;
    const std::string path = dir.path().toStdString() + "/checkpoint.pt";
    save_checkpoint(path, contents);
    const auto loaded = load_checkpoint(path);
    QCOMPARE(loaded.config.model.kind, std::string("attention"));
    QVERIFY(loaded.model->input() == FeatureInput::Grid);
    model->eval();
    const auto grid = torch::randn({1, 16, 8});
    DecodeOptions o;
    o.max_len = 6;
    const auto a = decode(*model, vocab(), grid, o).front();
    const auto b = decode(*loaded.model, vocab(), grid, o).front();
    QCOMPARE(a.text(), b.text());
    QCOMPARE(a.tokens.front().attention, b.tokens.front().attention);
  }

  void learns_to_look_at_the_cell_that_names_the_word() {
    torch::manual_seed(4);
    ModelConfig config = small_config();
    config.hidden = 32;
    config.attention_dim = 16;
    config.attention_penalty = 0;  // the weights alone; the regulariser has its own test
    AttentionNet net(config, vocab().size(), Vocabulary::kPad);
    torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-2));
    const auto train = marked_grids(512, 11);
    for (int step = 0; step < 600; ++step) {
      const auto index = torch::randint(0, 512, {64}, torch::kInt64);
      adam.zero_grad();
      const auto loss = caption_loss(*net, train.grids.index_select(0, index), train.tokens.index_select(0, index), Vocabulary::kPad);
      loss.loss.backward();
      adam.step();
    }
    net->eval();
    const auto test = marked_grids(100, 12);
    int right_word = 0, pointed = 0;
    for (int64_t i = 0; i < 100; ++i) {
      DecodeOptions o;
      o.max_len = 5;
      const auto caption = decode(*net, vocab(), test.grids[i].unsqueeze(0), o).front();
      if (caption.tokens.size() < 2) continue;
      const auto& colour = caption.tokens[1];
      right_word += colour.id == test.tokens[i][2].item<int64_t>();
      const auto argmax = std::max_element(colour.attention.begin(), colour.attention.end()) - colour.attention.begin();
      pointed += argmax == test.marked[static_cast<size_t>(i)];
    }
    qInfo("colour right %d/100, attention on the marked cell %d/100", right_word, pointed);
    // Soft attention is not obliged to peak where a word's evidence is (the LSTM state can carry
    // it from an earlier step), so this asks for far above chance (1/16), not for every image.
    QVERIFY(right_word >= 90);
    QVERIFY(pointed >= 50);
  }

  void lstm_model_has_no_maps() {
    ModelConfig config;
    config.feature_dim = 8;
    config.hidden = 8;
    config.embed = 4;
    auto model = make_caption_model(config, vocab().size(), Vocabulary::kPad);
    model->eval();
    DecodeOptions o;
    o.max_len = 4;
    const auto captions = decode(*model, vocab(), torch::randn({1, 8}), o);
    QVERIFY(!captions.front().tokens.empty());
    for (const auto& t : captions.front().tokens) QVERIFY(t.attention.empty());
  }

  void attention_config_is_validated() {
    TrainConfig c;
    c.model.kind = "attention";
    c.model.layers = 2;
    expect_error([&] { c.validate(); }, {"one LSTM layer"});
    c.model.layers = 1;
    c.model.kind = "transformer";
    expect_error([&] { c.validate(); }, {"model kind"});
  }
};

QTEST_APPLESS_MAIN(TestAttention)
#include "test_attention.moc"
