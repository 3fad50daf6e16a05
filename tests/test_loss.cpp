#include "core/data/vocabulary.h"
#include "core/model/caption_net.h"
#include "core/model/loss.h"

#include <torch/torch.h>

#include <QtTest/QtTest>

#include <cmath>

#include "model_reference.h"

using namespace captioner;

class TestLoss : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void matches_hand_computed_value() {
    // Two positions with uniform logits over 4 words and one PAD position.
    const auto logits = torch::zeros({1, 3, 4});
    const auto targets = torch::tensor({{1, 2, 0}}, torch::kInt64);
    QVERIFY(std::abs(test::masked_cross_entropy(logits, targets, 0).item<double>() - std::log(4.0)) < 1e-6);
    // One confident position: logits (ln 3, 0, 0, 0) -> p(target 0) = 3/6.
    auto l2 = torch::zeros({1, 1, 4});
    l2[0][0][1] = std::log(3.0);
    QVERIFY(std::abs(test::masked_cross_entropy(l2, torch::tensor({{1}}, torch::kInt64), 0).item<double>() - std::log(2.0)) <
            1e-6);
    // No real tokens: zero, not NaN.
    QCOMPARE(test::masked_cross_entropy(logits, torch::zeros({1, 3}, torch::kInt64), 0).item<double>(), 0.0);
  }
  void is_unchanged_when_logits_at_pad_positions_change() {
    torch::manual_seed(0);
    auto logits = torch::randn({4, 7, 11});
    auto targets = torch::randint(1, 11, {4, 7}, torch::kInt64);
    targets.index_put_({0, torch::indexing::Slice(3, torch::indexing::None)}, Vocabulary::kPad);
    targets.index_put_({2, torch::indexing::Slice(5, torch::indexing::None)}, Vocabulary::kPad);
    const double before = test::masked_cross_entropy(logits, targets, Vocabulary::kPad).item<double>();
    auto changed = logits.clone();
    const auto pad = targets.eq(Vocabulary::kPad).unsqueeze(-1).expand_as(changed);
    changed.masked_fill_(pad, 1e4);  // wild values at PAD positions only
    QCOMPARE(test::masked_cross_entropy(changed, targets, Vocabulary::kPad).item<double>(), before);
    // ... while changing a real position does change it.
    changed[1][0] += torch::randn({11});
    QVERIFY(test::masked_cross_entropy(changed, targets, Vocabulary::kPad).item<double>() != before);
    // And PAD positions get no gradient.
    auto leaf = logits.clone().requires_grad_(true);
    test::masked_cross_entropy(leaf, targets, Vocabulary::kPad).backward();
    QCOMPARE(leaf.grad().masked_select(pad).abs().sum().item<double>(), 0.0);
  }
  void model_loss_equals_masked_loss_over_all_logits() {
    torch::manual_seed(1);
    ModelConfig config;
    config.feature_dim = 6;
    config.embed = 5;
    config.hidden = 8;
    config.layers = 2;
    CaptionNet net(config, 13, Vocabulary::kPad);
    net->eval();
    const auto features = torch::randn({3, 6});
    auto tokens = torch::randint(4, 13, {3, 6}, torch::kInt64);
    tokens.index_put_({torch::indexing::Slice(), 0}, Vocabulary::kStart);
    tokens[0][3] = Vocabulary::kEnd;
    tokens.index_put_({0, torch::indexing::Slice(4, torch::indexing::None)}, Vocabulary::kPad);
    tokens[1][5] = Vocabulary::kEnd;
    using torch::indexing::Slice;
    const auto inputs = tokens.index({Slice(), Slice(0, -1)});
    const auto targets = tokens.index({Slice(), Slice(1, torch::indexing::None)});
    const auto full =
        test::masked_cross_entropy(test::logits(*net, test::hidden_states(*net, features, inputs)), targets, Vocabulary::kPad);
    const auto fast = caption_loss(*net, features, tokens, Vocabulary::kPad);
    QCOMPARE(fast.tokens, int64_t{3 + 5 + 5});
    QVERIFY(torch::allclose(fast.loss, full, 1e-6, 1e-6));
  }
};

QTEST_APPLESS_MAIN(TestLoss)
#include "test_loss.moc"
