#pragma once
// Fixtures shared by the GUI tests: a tiny Shapes dataset with its features, and small trained
// models of both kinds. Include after core headers and before nothing else that is Qt-sensitive.
#include "core/data/dataset.h"
#include "core/data/shapes.h"
#include "core/train/trainer.h"
#include "core/vision/encoder.h"
#include "core/vision/feature_cache.h"

#include <QObject>
#include <QSettings>
#include <QString>
#include <QTimer>

#include <algorithm>
#include <fstream>
#include <string>

namespace captioner::test {

// DIR/shapes (count images, features extracted into DIR/shapes/features).
inline std::string make_shapes_with_features(const std::string& dir, int count) {
  ShapesOptions o;
  o.count = count;
  o.seed = 4;
  o.val_fraction = 0.25;
  o.test_fraction = 0;
  // The classic style: the GUI tests' 40-step models must already be fairly sure of their
  // captions (a cold temperature collapses their samples), which they are not on natural scenes.
  o.style = "classic";
  const std::string root = dir + "/shapes";
  write_shapes_dataset(root, o);
  Encoder encoder = load_encoder(find_default_encoder());
  const CaptionDataset ds = read_dataset(root);
  std::vector<std::string> files;
  for (const auto& image : ds.images) files.push_back(ds.image_root + "/" + image.file);
  extract_features(encoder, files, root + "/features", {});
  return root;
}

// Trains a small model of `kind` on the dataset and returns its run folder.
inline std::string train_small_model(const std::string& dataset, const std::string& run_dir, const std::string& kind,
                                     int steps = 40) {
  TrainConfig c;
  c.model.kind = kind;
  c.model.hidden = 32;
  c.model.embed = 16;
  c.model.attention_dim = 16;
  c.steps = steps;
  c.batch_size = 8;
  c.lr = 5e-3;
  c.min_count = 1;
  c.max_len = 22;
  c.val_every = 20;
  c.val_batches = 1;
  c.features_path = dataset + "/features/pooled.npy";
  Trainer trainer(c, read_dataset(dataset), run_dir);
  trainer.run();
  return run_dir;
}

// Stores small, fast Training-tab settings; the tab reads them with loadSettings().
inline void store_small_training_settings(int hidden, int embed, int batch, int val_every, int steps) {
  QSettings s;
  s.beginGroup(QStringLiteral("training"));
  s.setValue(QStringLiteral("hidden"), hidden);
  s.setValue(QStringLiteral("embed"), embed);
  s.setValue(QStringLiteral("batch"), batch);
  s.setValue(QStringLiteral("val_every"), val_every);
  s.setValue(QStringLiteral("steps"), steps);
  s.setValue(QStringLiteral("min_count"), 1);
  s.setValue(QStringLiteral("layer"), 2);  // mixed10, whose features make_shapes_with_features extracted
  s.endGroup();
}

// The most GUI-thread CPU time at a stretch that a tested flow may take: past about 50 ms a user
// starts to see the window stutter.
constexpr qint64 kMaxStallMs = 50;

// How long the GUI thread stops answering because it is busy: the most CPU time the thread spent
// between two ticks of a 5 ms timer on the event loop, from construction on. Work done on the GUI
// thread (decoding a model, reading a history, drawing) is CPU time and shows here; waiting for a
// core or for the disk, which a busy machine adds to any thread, does not, so the figure does not
// depend on what else runs (/proc/thread-self/schedstat: the thread's own running time).
class StallMeter : public QObject {
 public:
  StallMeter() {
    last_ = running_ms();
    timer_.setInterval(5);
    QObject::connect(&timer_, &QTimer::timeout, this, [this] {
      const qint64 now = running_ms();
      worst_ = std::max(worst_, now - last_);
      last_ = now;
    });
    timer_.start();
  }
  qint64 worst() const { return std::max(worst_, running_ms() - last_); }

 private:
  // Milliseconds this thread has spent running; 0 where the kernel does not say.
  static qint64 running_ms() {
    std::ifstream stat("/proc/thread-self/schedstat");
    long long running_ns = 0;
    if (!(stat >> running_ns)) return 0;
    return static_cast<qint64>(running_ns / 1000000);
  }

  QTimer timer_;
  qint64 last_ = 0;
  qint64 worst_ = 0;
};

}  // namespace captioner::test
