// End-to-end learning check: a tiny dataset is memorised, so greedy decoding returns exactly the
// training captions.
#include "core/data/dataset.h"
#include "core/data/feature_table.h"
#include "core/model/decoding.h"
#include "core/train/trainer.h"

#include <torch/torch.h>

#include "test_support.h"

using namespace captioner;

class TestMemorise : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void greedy_decoding_returns_the_training_captions() {
    QTemporaryDir dir;
    const std::vector<std::string> adjectives = {"red", "small", "old", "happy"};
    const std::vector<std::string> nouns = {"dog", "car", "tree", "boat"};
    const std::vector<std::string> verbs = {"sleeps", "waits", "shines", "moves"};
    std::vector<std::vector<std::string>> lists;
    for (int i = 0; i < 16; ++i)
      lists.push_back({"the " + adjectives[static_cast<size_t>(i % 4)] + " " + nouns[static_cast<size_t>(i / 4)] + " " +
                       verbs[static_cast<size_t>((i + i / 4) % 4)] + " ."});
    torch::manual_seed(123);
    const auto features = torch::randn({16, 32});
    const std::string root = test::write_handout(
        dir, std::vector<float>(features.data_ptr<float>(), features.data_ptr<float>() + features.numel()), 32, lists);

    TrainConfig config;
    config.steps = 250;
    config.batch_size = 16;
    config.lr = 1e-2;
    config.min_count = 1;
    config.val_fraction = 0.0;
    config.checkpoint_every = 1000;
    config.model.hidden = 64;
    config.model.embed = 32;
    Trainer trainer(config, read_dataset(root), dir.path().toStdString() + "/run");
    QCOMPARE(trainer.split().train.size(), size_t{16});
    const auto result = trainer.run();
    QCOMPARE(result.state, TrainerState::Finished);

    auto model = trainer.model();
    model->eval();
    const auto table = FeatureTable::open(root + "/image_codes.npy");
    for (int64_t i = 0; i < 16; ++i) {
      const auto caption = decode(*model, trainer.vocabulary(), table.gather({i}), {}).front();
      QCOMPARE(caption.text(), lists[static_cast<size_t>(i)][0]);
      QVERIFY(caption.finished);
    }
    QVERIFY(trainer.history().rows.back().train_loss < 0.05);
  }
};

QTEST_GUILESS_MAIN(TestMemorise)
#include "test_memorise.moc"
