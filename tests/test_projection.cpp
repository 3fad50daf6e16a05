#include "core/model/projection.h"

#include "core/util/errors.h"
#include "core/util/precision.h"

#include <torch/torch.h>

#include <thread>
#include <vector>

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

  // bf16 mixed precision: one step's loss and gradients against fp32 on the same inputs, at the
  // projection's real proportions (a few hundred tokens, vocabulary in the thousands). bf16 keeps
  // 8 bits of mantissa (relative rounding 2^-9 = 0.2 %) and the sums are fp32, so the loss must be
  // within 0.5 % and every gradient within 2 % of its largest entry.
  void bf16_step_is_within_tolerance_of_fp32() {
    torch::manual_seed(11);
    const int64_t n = 301, h = 128, v = 3001;  // 301 tokens: padded rows on the way
    const auto x = torch::randn({n, h});
    const auto w = 0.2 * torch::randn({v, h});
    const auto b = 0.1 * torch::randn({v});
    const auto targets = torch::randint(0, v, {n}, torch::kInt64);
    struct Step {
      double loss;
      torch::Tensor gx, gw, gb;   // of the loss
      torch::Tensor y, ygx, ygw;  // the layer alone: its output, and the gradients of sum(y^2)
    };
    auto step = [&](MatmulPrecision precision) {
      const MatmulPrecisionScope scope(precision);
      auto x1 = x.clone().requires_grad_(true), w1 = w.clone().requires_grad_(true), b1 = b.clone().requires_grad_(true);
      auto loss = projected_cross_entropy(x1, w1, b1, targets);
      loss.backward();
      auto x2 = x.clone().requires_grad_(true), w2 = w.clone().requires_grad_(true), b2 = b.clone().requires_grad_(true);
      auto y = fast_linear(x2, w2, b2);
      (y * y).sum().backward();  // the layer's own backward too
      return Step{loss.item<double>(), x1.grad(), w1.grad(), b1.grad(), y.detach(), x2.grad(), w2.grad()};
    };
    const Step fp32 = step(MatmulPrecision::Fp32);
    Step bf16;
    try {
      bf16 = step(MatmulPrecision::Bf16);
    } catch (const ConfigError& e) {
      QSKIP(e.what());  // a CPU on which oneDNN has no bf16 products at all
    }
    auto relative = [](const torch::Tensor& a, const torch::Tensor& b) {
      return ((a - b).abs().max() / b.abs().max()).item<double>();
    };
    qInfo(
        "bf16 against fp32: loss %.6f vs %.6f; loss gradients %.4f %.4f %.4f; layer %.4f, its gradients %.4f %.4f "
        "(native bf16: %s)",
        bf16.loss, fp32.loss, relative(bf16.gx, fp32.gx), relative(bf16.gw, fp32.gw), relative(bf16.gb, fp32.gb),
        relative(bf16.y, fp32.y), relative(bf16.ygx, fp32.ygx), relative(bf16.ygw, fp32.ygw),
        cpu_has_native_bf16() ? "yes" : "no");
    QVERIFY(std::abs(bf16.loss - fp32.loss) <= 5e-3 * std::abs(fp32.loss));
    QVERIFY(relative(bf16.gx, fp32.gx) <= 2e-2);
    QVERIFY(relative(bf16.gw, fp32.gw) <= 2e-2);
    QVERIFY(relative(bf16.gb, fp32.gb) <= 2e-2);
    QVERIFY(relative(bf16.y, fp32.y) <= 2e-2);
    QVERIFY(relative(bf16.ygx, fp32.ygx) <= 2e-2);
    QVERIFY(relative(bf16.ygw, fp32.ygw) <= 2e-2);
    // And it really is another computation: bf16 rounding shows in the last bits.
    QVERIFY(!torch::equal(bf16.y, fp32.y));
  }
#endif

  // The rule behind --precision auto, with the ISA given rather than read from this CPU.
  // A training step's shares run the same bf16 products on several threads at once: each call
  // must bring its own oneDNN scratchpad, or the threads overwrite each other's partial sums.
  void bf16_products_run_on_several_threads_at_once() {
    torch::manual_seed(5);
    const int64_t n = 40, h = 448, v = 1024;  // a step's gate product: bf16, with padded rows
    std::vector<torch::Tensor> xs;
    for (int k = 0; k < 4; ++k) xs.push_back(torch::randn({n + k, h}));
    const auto w = 0.1 * torch::randn({v, h}), b = torch::randn({v});
    const MatmulPrecisionScope scope(MatmulPrecision::Bf16);
    std::vector<torch::Tensor> alone;
    try {
      for (const auto& x : xs) alone.push_back(fast_linear(x, w, b));
    } catch (const ConfigError& e) {
      QSKIP(e.what());  // a CPU on which oneDNN has no bf16 products at all
    }
    std::vector<std::vector<torch::Tensor>> together(xs.size());
    std::vector<std::thread> threads;
    for (size_t k = 0; k < xs.size(); ++k)
      threads.emplace_back([&, k] {
        const MatmulPrecisionScope mine(MatmulPrecision::Bf16);
        for (int r = 0; r < 50; ++r) together[k].push_back(fast_linear(xs[k], w, b));
      });
    for (auto& t : threads) t.join();
    // Tight, not exact: the thread count inside oneDNN may differ between the threads.
    for (size_t k = 0; k < xs.size(); ++k)
      for (const auto& y : together[k])
        QVERIFY((y - alone[k]).abs().max().item<double>() <= 1e-5 * alone[k].abs().max().item<double>());
  }

  void auto_precision_follows_the_cpu() {
#ifdef CAPTIONER_EXPECT_DNNL
    QCOMPARE(choose_precision("auto", true, true), MatmulPrecision::Bf16);
    QCOMPARE(choose_precision("bf16", true, false), MatmulPrecision::Bf16);  // asked for: honoured
#else
    QCOMPARE(choose_precision("auto", true, true), MatmulPrecision::Fp32);  // no oneDNN, no bf16 path
#endif
    QCOMPARE(choose_precision("auto", true, false), MatmulPrecision::Fp32);
    QCOMPARE(choose_precision("auto", false, true), MatmulPrecision::Fp32);  // CUDA: fp32
    QCOMPARE(choose_precision("fp32", true, true), MatmulPrecision::Fp32);
    QVERIFY_THROWS_EXCEPTION(ConfigError, choose_precision("bf16", false, true));
    QVERIFY_THROWS_EXCEPTION(ConfigError, choose_precision("fp16", true, true));
    // Outside a scope the products are fp32; scopes nest.
    QCOMPARE(current_matmul_precision(), MatmulPrecision::Fp32);
    {
      const MatmulPrecisionScope outer(MatmulPrecision::Bf16);
      {
        const MatmulPrecisionScope inner(MatmulPrecision::Fp32);
        QCOMPARE(current_matmul_precision(), MatmulPrecision::Fp32);
      }
      QCOMPARE(current_matmul_precision(), MatmulPrecision::Bf16);
    }
    QCOMPARE(current_matmul_precision(), MatmulPrecision::Fp32);
  }
};

QTEST_APPLESS_MAIN(TestProjection)
#include "test_projection.moc"
