#include "core/model/projection.h"

#include <torch/torch.h>

#include <QtTest/QtTest>

using namespace captioner;

class TestProjection : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void matches_linear_in_value_and_gradients() {
    torch::manual_seed(4);
    for (const auto& [n, h, v] : {std::tuple<int64_t, int64_t, int64_t>{37, 16, 101}, {1, 3, 5}, {300, 64, 1000}}) {
      auto x1 = torch::randn({n, h}, torch::requires_grad());
      auto w1 = torch::randn({v, h}, torch::requires_grad());
      auto b1 = torch::randn({v}, torch::requires_grad());
      auto x2 = x1.detach().clone().requires_grad_(true);
      auto w2 = w1.detach().clone().requires_grad_(true);
      auto b2 = b1.detach().clone().requires_grad_(true);
      const auto g = torch::randn({n, v});
      const auto y1 = fast_linear(x1, w1, b1);
      const auto y2 = torch::nn::functional::linear(x2, w2, b2);
      QVERIFY(torch::allclose(y1, y2, 1e-4, 1e-4));
      (y1 * g).sum().backward();
      (y2 * g).sum().backward();
      QVERIFY(torch::allclose(x1.grad(), x2.grad(), 1e-4, 1e-3));
      QVERIFY(torch::allclose(w1.grad(), w2.grad(), 1e-4, 1e-3));
      QVERIFY(torch::allclose(b1.grad(), b2.grad(), 1e-4, 1e-3));
    }
  }
  void fused_cross_entropy_matches_the_composition() {
    torch::manual_seed(6);
    for (const auto& [n, h, v] : {std::tuple<int64_t, int64_t, int64_t>{45, 16, 211}, {1, 4, 9}}) {
      auto x1 = torch::randn({n, h}, torch::requires_grad());
      auto w1 = (3 * torch::randn({v, h})).requires_grad_(true);
      auto b1 = torch::randn({v}, torch::requires_grad());
      auto x2 = x1.detach().clone().requires_grad_(true);
      auto w2 = w1.detach().clone().requires_grad_(true);
      auto b2 = b1.detach().clone().requires_grad_(true);
      const auto targets = torch::randint(0, v, {n}, torch::kInt64);
      const auto l1 = projected_cross_entropy(x1, w1, b1, targets);
      const auto l2 = torch::nn::functional::cross_entropy(torch::nn::functional::linear(x2, w2, b2), targets);
      QVERIFY(torch::allclose(l1, l2, 1e-5, 1e-5));
      (2.5 * l1).backward();  // a non-unit incoming gradient
      (2.5 * l2).backward();
      QVERIFY(torch::allclose(x1.grad(), x2.grad(), 1e-5, 1e-5));
      QVERIFY(torch::allclose(w1.grad(), w2.grad(), 1e-5, 1e-5));
      QVERIFY(torch::allclose(b1.grad(), b2.grad(), 1e-5, 1e-5));
    }
  }
  void never_writes_into_the_bias() {
    // With one row the broadcast bias is already contiguous: the output must still be a copy.
    torch::manual_seed(7);
    const auto x = torch::randn({1, 6});
    const auto w = torch::randn({9, 6});
    const auto b = torch::randn({9});
    const auto before = b.clone();
    fast_linear(x, w, b);
    projected_cross_entropy(x, w, b, torch::tensor({3}, torch::kInt64));
    QVERIFY(torch::equal(b, before));
  }
  void accepts_non_contiguous_hidden_states() {
    torch::manual_seed(5);
    const auto x = torch::randn({8, 20}).t();  // [20, 8], transposed view
    const auto w = torch::randn({30, 8});
    const auto b = torch::randn({30});
    QVERIFY(torch::allclose(fast_linear(x, w, b), torch::nn::functional::linear(x, w, b), 1e-4, 1e-4));
  }
  void reports_whether_the_fast_path_is_used() {
    qInfo("oneDNN projection %s", fast_projection_available(torch::zeros({2, 2})) ? "on" : "off (torch::linear)");
    QVERIFY(!fast_projection_available(torch::zeros({2, 2}, torch::kFloat64)));
  }
#ifdef CAPTIONER_EXPECT_DNNL
  // The build found oneDNN: the projection and the fused loss must really run on it, not fall
  // back to torch::linear (their autograd nodes are then the custom functions, not AddmmBackward).
  void a_build_with_onednn_uses_it() {
    QVERIFY(fast_projection_available(torch::zeros({2, 2})));
    const auto x = torch::randn({4, 6}, torch::requires_grad());
    const auto w = torch::randn({9, 6}, torch::requires_grad());
    const auto b = torch::randn({9}, torch::requires_grad());
    const auto logits = fast_linear(x, w, b);
    const auto loss = projected_cross_entropy(x, w, b, torch::tensor({1, 2, 3, 4}, torch::kInt64));
    QVERIFY2(logits.grad_fn()->name().find("Projection") != std::string::npos, logits.grad_fn()->name().c_str());
    QVERIFY2(loss.grad_fn()->name().find("ProjectedCrossEntropy") != std::string::npos, loss.grad_fn()->name().c_str());
  }
#endif
};

QTEST_APPLESS_MAIN(TestProjection)
#include "test_projection.moc"
