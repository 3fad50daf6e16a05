// The Inception-v3 encoder: parity with nsfwjs itself (reference outputs produced by TensorFlow.js,
// see tests/reference), BN folding, weight import errors.
#include "core/util/atomic_file.h"
#include "core/util/base64.h"
#include "core/util/errors.h"
#include "core/vision/encoder.h"
#include "core/vision/image_io.h"
#include "core/vision/tfjs_import.h"

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "test_support.h"

using namespace captioner;

class TestEncoder : public QObject {
  Q_OBJECT
  Encoder encoder_;

 private Q_SLOTS:
  void initTestCase() {
    // CI builds the encoder file from the npm package (packaging/quickstart.sh); its absence is a failure.
    encoder_ = load_encoder(find_default_encoder(), torch::kCPU, "fp32");  // parity with nsfwjs is fp32's
    QVERIFY(encoder_.id.rfind("keras:", 0) == 0);
    QVERIFY(!encoder_.net->bf16());
  }

  // bf16 is used for the encoder only if its features stay within cosine 0.999 of fp32's, per
  // image, on real photos, for the pooled vector and both grids the product reads.
  void bf16_features_stay_within_cosine_0999_of_fp32() {
    Encoder bf16 = load_encoder(find_default_encoder(), torch::kCPU, "bf16");
    QVERIFY(bf16.net->bf16());
    torch::NoGradGuard no_grad;
    for (const char* name : {"astronaut.png", "cat.png", "coffee.png", "rocket.png"}) {
      const auto x = inception_input(load_image_rgb(std::string(CAPTIONER_TEST_DATA) + "/images/" + name)).unsqueeze(0);
      for (const GridLayer layer : {GridLayer::Mixed10, GridLayer::Mixed5}) {
        encoder_.net->set_grid_layer(layer);
        bf16.net->set_grid_layer(layer);
        const auto a = encoder_.net->forward(x), b = bf16.net->forward(x);
        QCOMPARE(b.grid.scalar_type(), torch::kFloat32);
        const double pooled = torch::cosine_similarity(a.pooled.flatten(), b.pooled.flatten(), 0).item<double>();
        const double grid = torch::cosine_similarity(a.grid.flatten(), b.grid.flatten(), 0).item<double>();
        const double worst_cell =
            torch::cosine_similarity(a.grid.flatten(2), b.grid.flatten(2), 1).min().item<double>();  // per grid cell
        qInfo("%s %s: cosine pooled %.6f, grid %.6f, worst cell %.6f", name, grid_layer_name(layer), pooled, grid, worst_cell);
        QVERIFY2(pooled >= 0.999 && grid >= 0.999, name);
      }
    }
    encoder_.net->set_grid_layer(GridLayer::Mixed10);
  }

  void matches_nsfwjs_on_real_photos() {
    const auto ref = nlohmann::json::parse(read_file(std::string(CAPTIONER_TEST_DATA) + "/nsfwjs_reference.json"));
    QCOMPARE(ref.at("images").size(), size_t{4});
    torch::NoGradGuard no_grad;
    for (const auto& image : ref["images"]) {
      const std::string name = image.at("image").get<std::string>();
      const auto x = inception_input(load_image_rgb(std::string(CAPTIONER_TEST_DATA) + "/images/" + name)).unsqueeze(0);
      const auto out = encoder_.net->forward(x);
      QCOMPARE(out.grid.sizes(), (torch::IntArrayRef{1, 2048, 8, 8}));
      const auto pooled = out.pooled[0];
      const auto expected_pooled = torch::tensor(image.at("pooled").get<std::vector<float>>());
      const double cosine = torch::cosine_similarity(pooled, expected_pooled, 0).item<double>();
      const auto probs = encoder_.net->classify(out.pooled)[0];
      const auto expected_probs = torch::tensor(image.at("probs").get<std::vector<float>>());
      const double max_diff = (probs - expected_probs).abs().max().item<double>();
      qInfo("%s: cosine %.7f, max |dp| %.2e, p(Neutral) %.4f", name.c_str(), cosine, max_diff, probs[2].item<double>());
      QVERIFY2(cosine >= 0.9999, name.c_str());
      QVERIFY2(max_diff <= 1e-4, name.c_str());
    }
  }

  void matches_torchvision_with_formula_weights() {
    // Same formula as tests/reference/torchvision_reference.py, over torchvision's full key list
    // (AuxLogits and fc included, which the import must skip).
    const auto ref = nlohmann::json::parse(read_file(std::string(CAPTIONER_TEST_DATA) + "/torchvision_reference.json"));
    c10::impl::GenericDict dict(c10::StringType::get(), c10::TensorType::get());
    int64_t k = 0;
    for (const auto& entry : ref.at("keys")) {
      const std::string name = entry[0].get<std::string>();
      const auto shape = entry[1].get<std::vector<int64_t>>();
      torch::Tensor t;
      if (!entry[2].get<bool>()) {
        t = torch::zeros(shape, torch::kInt64);
      } else if (name.size() > 12 && name.compare(name.size() - 12, 12, "running_mean") == 0) {
        t = torch::zeros(shape);
      } else if (name.find("running_var") != std::string::npos || name.find("bn.weight") != std::string::npos) {
        t = torch::ones(shape);
      } else {
        int64_t numel = 1;
        for (auto d : shape) numel *= d;
        auto f =
            torch::sin(torch::arange(numel, torch::kFloat64) * 12.9898 + static_cast<double>(k) * 78.233).to(torch::kFloat32);
        const bool bn_bias = name.find("bn.bias") != std::string::npos;
        const double scale = bn_bias ? 0.01 : std::sqrt(6.0 / static_cast<double>(shape.size() > 1 ? numel / shape[0] : 1));
        t = (f * scale).view(shape);
      }
      dict.insert(name, t);
      ++k;
    }
    QTemporaryDir dir;
    const std::string file = dir.path().toStdString() + "/state_dict.pt";
    const auto bytes = torch::pickle_save(c10::IValue(dict));
    test::write_text(file, std::string(bytes.begin(), bytes.end()));
    const auto x = (torch::sin(torch::arange(3 * 299 * 299, torch::kFloat64) * 0.001) * 0.5 + 0.5)
                       .to(torch::kFloat32)
                       .view({1, 3, 299, 299});
    torch::NoGradGuard no_grad;
    for (const auto& c : ref.at("cases")) {
      auto net = inception_from_torchvision(file, c.at("transform_input").get<bool>());
      const auto pooled = net->forward(x).pooled[0];
      const auto expected = torch::tensor(c.at("pooled").get<std::vector<float>>());
      const double diff = (pooled - expected).abs().max().item<double>();
      qInfo("transform_input=%d: max |d pooled| %.2e", c["transform_input"].get<bool>(), diff);
      QVERIFY(diff <= 1e-4);
    }
    // Refusals name the tensor.
    QCOMPARE(dict.erase("Mixed_7c.branch_pool.conv.weight"), size_t{1});
    const auto missing = torch::pickle_save(c10::IValue(dict));
    test::write_text(file, std::string(missing.begin(), missing.end()));
    test::expect_error([&] { inception_from_torchvision(file, false); }, {file, "Mixed_7c.branch_pool.conv.weight is missing"});
    dict.insert("Mixed_7c.branch_pool.conv.weight", torch::zeros({3, 3}));
    const auto wrong = torch::pickle_save(c10::IValue(dict));
    test::write_text(file, std::string(wrong.begin(), wrong.end()));
    test::expect_error([&] { inception_from_torchvision(file, false); }, {"Mixed_7c.branch_pool.conv.weight", "shape"});
  }

  void folding_batchnorm_keeps_outputs() {
    torch::manual_seed(0);
    InceptionV3 net;
    for (auto& u : net->units()) {  // non-trivial statistics
      u->bn->running_mean.uniform_(-0.2, 0.2);
      u->bn->running_var.uniform_(0.5, 2.0);
      u->bn->weight.detach().uniform_(0.5, 1.5);
      u->bn->bias.detach().uniform_(-0.1, 0.1);
    }
    net->eval();
    torch::NoGradGuard no_grad;
    const auto x = torch::rand({1, 3, 299, 299});
    const auto before = net->forward(x).pooled;
    net->fold_batchnorm();
    const auto after = net->forward(x).pooled;
    QVERIFY(torch::allclose(before, after, 1e-4, 1e-4));
  }

  void mixed5_grid_stops_before_the_finetuned_blocks() {
    torch::manual_seed(0);
    InceptionV3 net;
    net->eval();
    torch::NoGradGuard no_grad;
    const auto x = torch::rand({2, 3, 299, 299});
    net->set_grid_layer(GridLayer::Mixed5);
    const auto early = net->forward(x);
    QCOMPARE(early.grid.sizes(), (torch::IntArrayRef{2, 768, 8, 8}));
    QCOMPARE(grid_channels(GridLayer::Mixed5), int64_t{768});
    QVERIFY(torch::allclose(early.pooled, early.grid.mean({2, 3}), 1e-6, 1e-6));
    net->set_grid_layer(GridLayer::Mixed10);
    const auto late = net->forward(x);
    QCOMPARE(late.grid.sizes(), (torch::IntArrayRef{2, 2048, 8, 8}));

    // Changing a block after mixed5 moves mixed10 only; changing mixed5 itself moves both.
    auto perturb = [&](const std::string& prefix) {
      for (auto& p : net->named_parameters())
        if (p.key().rfind(prefix, 0) == 0) p.value().add_(0.5);
    };
    perturb("Mixed_7b.");
    QVERIFY(!torch::allclose(net->forward(x).grid, late.grid, 1e-4, 1e-4));
    net->set_grid_layer(GridLayer::Mixed5);
    QVERIFY(torch::equal(net->forward(x).grid, early.grid));
    perturb("Mixed_6c.");
    QVERIFY(!torch::allclose(net->forward(x).grid, early.grid, 1e-4, 1e-4));
  }

  void the_encoder_id_names_its_layer() {
    Encoder encoder = encoder_;  // shares the network: put its layer back at the end
    const std::string standard = encoder.id;
    QCOMPARE(grid_layer_of(standard), GridLayer::Mixed10);
    use_grid_layer(encoder, GridLayer::Mixed5);
    QCOMPARE(encoder.id, standard + "/mixed5-cells");
    QCOMPARE(grid_layer_of(encoder.id), GridLayer::Mixed5);
    QCOMPARE(encoder.net->grid_layer(), GridLayer::Mixed5);
    use_grid_layer(encoder, GridLayer::Mixed10);
    QCOMPARE(encoder.id, standard);
    QCOMPARE(encoder.net->grid_layer(), GridLayer::Mixed10);
    QCOMPARE(feature_cache_name(GridLayer::Mixed10), std::string("features"));
    QCOMPARE(feature_cache_name(GridLayer::Mixed5), std::string("features-mixed5"));
    test::expect_error([] { parse_grid_layer("mixed7"); }, {"mixed7", "mixed10", "mixed5"});
    test::expect_error([&] { grid_layer_of(standard + "/pool3"); }, {"pool3"});
    test::expect_error([&] { grid_layer_of(standard + "/mixed7-cells"); }, {"mixed7"});
    // Features of the earlier mixed5 grid (equal pooling windows) are refused, with what to do.
    test::expect_error([&] { grid_layer_of(standard + "/mixed5"); }, {standard + "/mixed5", "earlier", "extract"});
  }

  // A small red square on grey, centred on one of the image's 8x8 cells, moves the mixed5 grid
  // most at that cell, at the edges as well as inside. (Equal 3x3 pooling windows of the 17x17
  // map, which cover pixels 21..277 only, put the answer one cell inwards for the cells next to
  // the edges; mixed10 itself is such a grid.)
  void mixed5_cells_sit_over_the_image_cells() {
    Encoder encoder = encoder_;
    use_grid_layer(encoder, GridLayer::Mixed5);
    torch::NoGradGuard no_grad;
    const auto blank = torch::zeros({1, 3, 299, 299});  // mid-grey in the network's [-1, 1] input
    const auto base = encoder.net->forward(blank).grid;
    const double cell = 299.0 / 8;
    int right = 0, total = 0;
    for (const auto& [row, col] :
         std::vector<std::pair<int, int>>{{0, 0}, {1, 6}, {6, 1}, {7, 7}, {1, 1}, {6, 6}, {3, 4}, {0, 5}, {7, 2}}) {
      auto x = blank.clone();
      const int cy = static_cast<int>((row + 0.5) * cell), cx = static_cast<int>((col + 0.5) * cell);
      using torch::indexing::Slice;
      auto patch = x.index({0, Slice(), Slice(cy - 12, cy + 12), Slice(cx - 12, cx + 12)});
      patch[0] = 1;
      patch[1] = -1;
      patch[2] = -1;
      const auto moved = (encoder.net->forward(x).grid - base).abs().sum(1)[0];  // [8, 8]
      const auto best = moved.argmax().item<int64_t>();
      qInfo("square on cell (%d, %d): largest change at (%lld, %lld)", row, col, static_cast<long long>(best / 8),
            static_cast<long long>(best % 8));
      right += best == row * 8 + col;
      ++total;
    }
    use_grid_layer(encoder, GridLayer::Mixed10);
    QCOMPARE(right, total);
  }

  void import_errors_name_the_file() {
    QTemporaryDir dir;
    const std::string d = dir.path().toStdString();
    test::expect_error([&] { read_tfjs_weights(d); }, {d + "/model.min.js", "cannot open"});
    test::write_text(d + "/model.min.js", "module.exports={weightsManifest:[{paths:[\"group1-shard1of1\"],weights:[]}]}");
    test::expect_error([&] { read_tfjs_weights(d); }, {d + "/group1-shard1of1.min.js", "cannot open"});
    test::write_text(d + "/group1-shard1of1.min.js", "module.exports=\"short\"");
    test::expect_error([&] { read_tfjs_weights(d); }, {"group1-shard1of1.min.js", "no base64"});
    // A valid shard of 4 bytes but a manifest that needs more (conv2d_1/kernel = 864 bytes).
    test::write_text(d + "/group1-shard1of1.min.js", "x=\"" + std::string(1400, 'A') + "\"");
    test::write_text(d + "/model.min.js",
                     "{weightsManifest:[{paths:[\"group1-shard1of1\"],weights:[{name:\"conv2d_1/kernel\",shape:[3,3,3,"
                     "32],dtype:\"float32\",quantization:{min:-1,scale:.5,dtype:\"uint8\"}}]}]}");
    // 1400 base64 characters are 1050 bytes; the manifest accounts for 864 of them.
    test::expect_error([&] { read_tfjs_weights(d); }, {d, "covers 864 bytes", "1050"});
    test::write_text(d + "/group1-shard1of1.min.js", "x=\"" + std::string(1152, 'A') + "\"");  // exactly 864 bytes
    const auto weights = read_tfjs_weights(d);
    QCOMPARE(weights.size(), size_t{1});
    QCOMPARE(weights[0].value.sizes(), (torch::IntArrayRef{3, 3, 3, 32}));
    QCOMPARE(weights[0].value[0][0][0][0].item<float>(), -1.0f);  // min + scale * 0
  }

  void a_missing_encoder_named_by_the_environment_is_an_error() {
    const QByteArray saved = qgetenv("CAPTIONER_ENCODER");
    QTemporaryDir dir;
    const std::string missing = dir.path().toStdString() + "/no-such-encoder.pt";
    qputenv("CAPTIONER_ENCODER", QByteArray::fromStdString(missing));
    // Restored even when a check fails, so later tests find the real encoder.
    const auto restore = qScopeGuard([&] { qputenv("CAPTIONER_ENCODER", saved); });
    test::expect_error([] { find_default_encoder(); }, {missing, "CAPTIONER_ENCODER", "does not exist"});
  }

  void base64_decodes_rfc4648() {
    QCOMPARE(decode_base64("TWFu"), std::string("Man"));
    QCOMPARE(decode_base64("TWE="), std::string("Ma"));
    QCOMPARE(decode_base64("TQ=="), std::string("M"));
    QCOMPARE(decode_base64(""), std::string());
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, decode_base64("TW!u"));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, decode_base64("TQ==TQ"));
  }

  void wrong_weight_shapes_are_refused() {
    std::vector<NamedTensor> weights = {{"conv2d_1/kernel", torch::zeros({3, 3, 3, 16})}};
    test::expect_error([&] { inception_from_tfjs(weights, "src"); }, {"src", "conv2d_1/kernel", "shape"});
    test::expect_error([&] { inception_from_tfjs({}, "src"); }, {"src", "conv2d_1/kernel is missing"});
    test::expect_error([&] { load_encoder("/nonexistent/encoder.pt"); }, {"/nonexistent/encoder.pt"});
  }
};

QTEST_GUILESS_MAIN(TestEncoder)
#include "test_encoder.moc"
