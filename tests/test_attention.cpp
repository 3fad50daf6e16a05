// The soft-attention decoder: teacher forcing agrees with step-by-step decoding, the weights
// and the doubly stochastic penalty are what they claim, checkpoints round-trip, and trained on
// data where only one cell tells the word, it learns to look at that cell.
#include "core/model/attention_net.h"
#include "core/model/caption_net.h"
#include "core/model/config_json.h"
#include "core/model/decoding.h"
#include "core/model/loss.h"
#include "core/run/checkpoint.h"

#include <algorithm>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "test_support.h"

using namespace captioner;
using captioner::test::expect_error;

namespace {

const Vocabulary& vocab() {
  static const Vocabulary v =
      Vocabulary::from_words({"#PAD#", "#UNK#", "#START#", "#END#", "a", "red", "green", "blue", "yellow", "thing"});
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

// 16 cells (4x4) of 8 features: each cell one colour (one-hot in 0..3, drawn independently) and
// one flag: feature 4 on the marked cell, feature 5 on the others. The caption, "a <colour> thing",
// names the marked cell's colour. Every cell has the same layer-normalised statistics, and the
// colour counts barely depend on the answer, so neither h0 (the mean grid) nor a look at all the
// other cells tells it (with exactly four cells per colour, attending to the fifteen unmarked
// cells and finding the colour seen three times did): the model must attend to the marked cell.
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
    const auto colours = torch::randint(0, 4, {16}, torch::kInt64);
    for (int64_t k = 0; k < 16; ++k) d.grids[i][k][colours[k].item<int64_t>()] = 1;
    d.grids[i].select(1, 5).fill_(1);
    const int64_t m = torch::randint(0, 16, {1}).item<int64_t>();
    const int64_t colour = colours[m].item<int64_t>();
    d.grids[i][m][5] = 0;
    d.grids[i][m][4] = 1;
    d.marked.push_back(m);
    d.tokens[i] = torch::tensor({int64_t{Vocabulary::kStart}, int64_t{4}, 5 + colour, int64_t{9}, int64_t{Vocabulary::kEnd}});
  }
  return d;
}

}  // namespace

class TestAttention : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void teacher_forcing_matches_step_decoding_data() {
    QTest::addColumn<bool>("word_in_query");
    QTest::addColumn<bool>("context_to_output");
    QTest::addColumn<bool>("coverage");
    QTest::newRow("default: word in query") << true << false << false;
    QTest::newRow("both") << true << true << false;
    QTest::newRow("context to output") << false << true << false;
    QTest::newRow("neither") << false << false << false;
    QTest::newRow("coverage") << true << false << true;
    QTest::newRow("coverage, context to output") << true << true << true;
  }
  void teacher_forcing_matches_step_decoding() {
    QFETCH(bool, word_in_query);
    QFETCH(bool, context_to_output);
    QFETCH(bool, coverage);
    torch::manual_seed(1);
    ModelConfig config = small_config();
    config.word_in_query = word_in_query;
    config.context_to_output = context_to_output;
    config.coverage = coverage;
    AttentionNet net(config, vocab().size(), Vocabulary::kPad);
    net->eval();
    torch::NoGradGuard no_grad;
    const auto grid = torch::randn({3, 16, 8});
    // Different lengths in an order that is not sorted: the batch shrinks internally.
    const auto tokens = torch::tensor({{2, 4, 5, 3, 0, 0}, {2, 4, 6, 9, 7, 3}, {2, 8, 3, 0, 0, 0}}, torch::kInt64);
    const auto tf = net->teacher_forcing(grid, tokens, Vocabulary::kPad, {});
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
    for (int64_t i = 0; i < tf.targets.size(0); ++i)
      got.insert(std::lround(tf_logits[i][tf.targets[i].item<int64_t>()].item<double>() * 1e4));
    QVERIFY(expected == got);
  }

  // With the LSTM silenced (h stays 0 at every step), the word distribution can only depend on
  // the image through the context: it does with context_to_output, and does not without it.
  void context_reaches_the_output_only_when_asked() {
    for (const bool on : {true, false}) {
      torch::manual_seed(5);
      ModelConfig config = small_config();
      config.context_to_output = on;
      AttentionNet net(config, vocab().size(), Vocabulary::kPad);
      QCOMPARE(net->named_parameters().contains("context_out.weight"), on);
      torch::NoGradGuard no_grad;
      for (auto* silenced : {&net->init_h, &net->init_c, &net->gates}) {
        (*silenced)->weight.zero_();
        (*silenced)->bias.zero_();
      }
      net->eval();
      auto logits = [&](const torch::Tensor& grid) {
        DecoderState state = net->start(grid);
        return net->step(torch::tensor({int64_t{Vocabulary::kStart}}), state);
      };
      const auto a = logits(torch::randn({1, 16, 8})), b = logits(torch::randn({1, 16, 8}));
      QCOMPARE(torch::allclose(a, b), !on);
    }
  }

  // From the same state, the first step's map depends on the word read only when the query
  // includes it.
  void the_word_read_steers_the_map_only_when_asked() {
    for (const bool on : {true, false}) {
      torch::manual_seed(6);
      ModelConfig config = small_config();
      config.word_in_query = on;
      AttentionNet net(config, vocab().size(), Vocabulary::kPad);
      QCOMPARE(net->named_parameters().contains("word_key.weight"), on);
      net->eval();
      torch::NoGradGuard no_grad;
      const auto grid = torch::randn({1, 16, 8});
      auto map_after = [&](int64_t word) {
        DecoderState state = net->start(grid);
        net->step(torch::tensor({word}), state);
        return state.attention;
      };
      QCOMPARE(torch::allclose(map_after(5), map_after(6)), !on);
    }
  }

  // With coverage the state keeps each cell's weight summed over the steps taken (each step's
  // weights sum to 1, so the total is the step count), and that sum changes the next map: from
  // the same h, c and word, a state whose coverage is cleared looks elsewhere. Without coverage
  // the state has no such tensor and the model no such weight.
  void coverage_sums_the_maps_and_steers_the_next_one() {
    for (const bool on : {true, false}) {
      torch::manual_seed(8);
      ModelConfig config = small_config();
      config.coverage = on;
      AttentionNet net(config, vocab().size(), Vocabulary::kPad);
      QCOMPARE(net->named_parameters().contains("coverage_key.weight"), on);
      net->eval();
      torch::NoGradGuard no_grad;
      DecoderState state = net->start(torch::randn({1, 16, 8}));
      QCOMPARE(state.tensors.size(), size_t{on ? 5u : 4u});
      auto maps = torch::zeros({1, 16});
      for (const int64_t word : {int64_t{Vocabulary::kStart}, int64_t{4}, int64_t{5}}) {
        net->step(torch::tensor({word}), state);
        maps += state.attention;
      }
      if (!on) continue;
      QVERIFY(torch::allclose(state.tensors[4].first, maps, 1e-5, 1e-6));
      QVERIFY(std::abs(state.tensors[4].first.sum().item<double>() - 3) < 1e-4);
      DecoderState cleared = state;
      cleared.tensors[4].first = torch::zeros_like(state.tensors[4].first);
      net->step(torch::tensor({int64_t{9}}), state);
      net->step(torch::tensor({int64_t{9}}), cleared);
      QVERIFY(!torch::allclose(state.attention, cleared.attention));
    }
  }

  // Checkpoints written before these options existed have none of these layers: their config
  // reads false.
  void configs_without_the_options_read_as_the_first_model() {
    ModelConfig all = small_config();
    QCOMPARE(all.word_in_query, true);  // the default
    all.context_to_output = true;
    all.coverage = true;
    nlohmann::json j = all;
    QCOMPARE(j.at("word_in_query").get<bool>(), true);
    QCOMPARE(j.at("context_to_output").get<bool>(), true);
    QCOMPARE(j.at("coverage").get<bool>(), true);
    QCOMPARE(j.get<ModelConfig>().coverage, true);
    j.erase("word_in_query");
    j.erase("context_to_output");
    j.erase("coverage");
    const auto config = j.get<ModelConfig>();
    QCOMPARE(config.word_in_query, false);
    QCOMPARE(config.context_to_output, false);
    QCOMPARE(config.coverage, false);
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
    const auto tf = net->teacher_forcing(grid, tokens, Vocabulary::kPad, {});
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
    // One training run: how many of 100 test captions name the right colour, and how often the
    // map peaks on the marked cell.
    auto train_and_test = [&](uint64_t seed) {
      torch::manual_seed(seed);
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
        const auto loss =
            caption_loss(*net, train.grids.index_select(0, index), train.tokens.index_select(0, index), Vocabulary::kPad);
        loss.loss.backward();
        adam.step();
      }
      net->eval();
      const auto test = marked_grids(100, 12);
      int right_word = 0, read = 0;
      for (int64_t i = 0; i < 100; ++i) {
        DecodeOptions o;
        o.max_len = 5;
        const auto caption = decode(*net, vocab(), test.grids[i].unsqueeze(0), o).front();
        if (caption.tokens.size() < 2) continue;
        right_word += caption.tokens[1].id == test.tokens[i][2].item<int64_t>();
        auto on_marked = [&](const DecodedToken& token) {
          const auto argmax = std::max_element(token.attention.begin(), token.attention.end()) - token.attention.begin();
          return argmax == test.marked[static_cast<size_t>(i)];
        };
        read += on_marked(caption.tokens[0]) || on_marked(caption.tokens[1]);
      }
      qInfo("seed %d: colour right %d/100, attention peaked on the marked cell before or at the colour %d/100",
            static_cast<int>(seed), right_word, read);
      return std::make_pair(right_word, read);
    };
    // The median of three runs: over seeds 4..13, two runs in ten ended at 76-78 right colours,
    // with the per-step code as with the per-batch one; one seed alone tests the seed.
    std::vector<int> right, read;
    for (uint64_t seed : {4, 5, 6}) {
      const auto [r, m] = train_and_test(seed);
      right.push_back(r);
      read.push_back(m);
    }
    std::sort(right.begin(), right.end());
    std::sort(read.begin(), read.end());
    // Soft attention need not peak where a word's evidence is at the very step that says it: the
    // colour can be read one step early (while "a" is said) and carried in the LSTM state. Over
    // seeds 4..13 both happened (44 to 100 images read); so this asks that the map peak on the
    // marked cell at one of the two steps, far above chance (about 12 of 100).
    QVERIFY(right[1] >= 90);
    QVERIFY(read[1] >= 40);
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
