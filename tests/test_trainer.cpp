#include "core/data/dataset.h"
#include "core/data/synthetic.h"
#include "core/model/config_json.h"
#include "core/run/checkpoint.h"
#include "core/run/run_folder.h"
#include "core/run/run_summary.h"
#include "core/train/recipe.h"
#include "core/train/shard_threads.h"
#include "core/train/trainer.h"
#include "core/util/atomic_file.h"
#include "core/util/errors.h"

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <thread>

#include "test_support.h"

using namespace captioner;

namespace {

TrainConfig small_config() {
  TrainConfig c;
  c.steps = 40;
  c.batch_size = 16;
  c.val_every = 10;
  c.val_batches = 2;
  c.checkpoint_every = 15;
  c.model.hidden = 32;
  c.model.embed = 16;
  c.model.dropout = 0.2;  // exercises the saved generator state
  c.lr_decay = 0.5;
  c.lr_decay_every = 25;
  c.seed = 11;
  c.threads = 2;  // each step in two shares, on any machine
  return c;
}

// Requests a stop once `stop_at` is reached, like a user pressing Stop.
class StopAt : public TrainObserver {
 public:
  StopAt(TrainControl& control, int64_t stop_at) : control_(control), stop_at_(stop_at) {}
  void on_progress(const TrainProgress& p) override {
    if (p.step == stop_at_) control_.request_stop();
  }

 private:
  TrainControl& control_;
  int64_t stop_at_;
};

class Recorder : public TrainObserver {
 public:
  std::atomic<int64_t> step{0};
  std::atomic<int> paused{0};
  void on_progress(const TrainProgress& p) override { step = p.step; }
  void on_state(TrainerState s) override {
    if (s == TrainerState::Paused) ++paused;
  }
};

// Runs a trainer on its own thread. However the test leaves the scope (a failed check returns
// early), the destructor asks the trainer to stop and joins, so the failure is reported instead
// of std::terminate on a joinable thread.
class TrainerThread {
 public:
  TrainerThread(Trainer& trainer, TrainObserver* observer)
      : trainer_(trainer), thread_([this, observer] { result_ = trainer_.run(observer); }) {}
  TrainerThread(const TrainerThread&) = delete;
  TrainerThread& operator=(const TrainerThread&) = delete;
  ~TrainerThread() { join(); }
  // Waits for the run to end and returns its result.
  const TrainResult& join() {
    if (thread_.joinable()) {
      trainer_.control().request_stop();  // no-op when the run already ended
      thread_.join();
    }
    return result_;
  }

 private:
  Trainer& trainer_;
  TrainResult result_;
  std::thread thread_;
};

bool wait_for(const std::function<bool()>& condition, int ms = 20000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// A synthetic handout of `images` images with `feature_dim`-wide vectors in `dir`; returns `dir`.
std::string synthetic_data(const std::string& dir, int64_t images, int64_t feature_dim, uint64_t seed = 1) {
  SyntheticOptions o;
  o.images = images;
  o.feature_dim = feature_dim;
  o.seed = seed;
  write_synthetic_handout(dir, o);
  return dir;
}

}  // namespace

class TestTrainer : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  std::string data_;
  std::string path(const std::string& name) { return dir_.path().toStdString() + "/" + name; }

 private Q_SLOTS:
  void initTestCase() {
    data_ = path("data");
    synthetic_data(data_, 120, 24);
  }

  void validation_loss_falls_and_history_is_kept() {
    auto config = small_config();
    config.steps = 120;
    config.lr = 5e-3;
    config.lr_decay = 1.0;
    Trainer trainer(config, read_dataset(data_), path("learn"));
    const auto result = trainer.run();
    QCOMPARE(result.state, TrainerState::Finished);
    QCOMPARE(result.step, int64_t{120});
    std::vector<double> vals;
    for (const auto& r : trainer.history().rows)
      if (!std::isnan(r.val_loss)) vals.push_back(r.val_loss);
    QCOMPARE(vals.size(), size_t{12});
    QVERIFY2(vals.back() < 0.5 * vals.front(), (std::to_string(vals.front()) + " -> " + std::to_string(vals.back())).c_str());
    const std::string csv = read_file(path("learn/history.csv"));
    QVERIFY(csv.rfind("step,train_loss,val_loss,captions_per_s", 0) == 0);
    QCOMPARE(std::count(csv.begin(), csv.end(), '\n'), 121L);
    QCOMPARE(load_checkpoint(RunFolder(path("learn")).checkpoint()).state.step, int64_t{120});
    // history.csv reads back as the history the trainer kept, wall-clock times included.
    const History read = History::from_csv(csv, "history.csv");
    QCOMPARE(read.rows.size(), trainer.history().rows.size());
    for (size_t i = 0; i < read.rows.size(); ++i) {
      const HistoryRow& a = read.rows[i];
      const HistoryRow& b = trainer.history().rows[i];
      QCOMPARE(a.step, b.step);
      QVERIFY(std::abs(a.train_loss - b.train_loss) < 1e-6);
      QVERIFY(std::abs(a.wall_time - b.wall_time) < 1e-3 && b.wall_time > 1.7e9);
      QVERIFY(i == 0 || b.wall_time >= trainer.history().rows[i - 1].wall_time);
    }
    // The run's summary: its settings, where it ended, its best validation.
    const RunSummary summary = read_run_summary(path("learn"));
    QCOMPARE(summary.state, std::string("finished"));
    QCOMPARE(summary.step, int64_t{120});
    QCOMPARE(summary.config.steps, int64_t{120});
    QCOMPARE(summary.best_val_loss, trainer.history().best_val_loss());
    QVERIFY(summary.started_at > 1.7e9 && summary.started_at <= trainer.history().rows.front().wall_time);
    QVERIFY(summary.dataset.find("data") != std::string::npos);
    const RunListing listing = list_runs(path(""));
    QVERIFY(std::any_of(listing.runs.begin(), listing.runs.end(), [&](const RunSummary& r) { return r.dir == summary.dir; }));
  }

  // A history file that is not one is refused with the file and line named; a run history
  // written before wall-clock times were kept still reads.
  void history_csv_is_read_strictly() {
    const History old =
        History::from_csv("step,train_loss,val_loss,captions_per_s,lr,elapsed_s\n1,2.5,,100.0,0.001,0.5\n", "old.csv");
    QCOMPARE(old.rows.size(), size_t{1});
    QCOMPARE(old.rows[0].wall_time, 0.0);
    QVERIFY(std::isnan(old.rows[0].val_loss));
    for (const char* bad : {"", "a,b,c\n", "step,train_loss,val_loss,captions_per_s,lr,elapsed_s\n1,2.5,,100.0\n",
                            "step,train_loss,val_loss,captions_per_s,lr,elapsed_s\n1,nan,,1,1,1\n",
                            "step,train_loss,val_loss,captions_per_s,lr,elapsed_s\n1,2x,,1,1,1\n"}) {
      try {
        History::from_csv(bad, "bad.csv");
        QFAIL(bad);
      } catch (const DataError& e) {
        QVERIFY2(std::string(e.what()).rfind("bad.csv", 0) == 0, e.what());
      }
    }
  }

  // The desktop app and `captioner train` start from one recipe; presets change its length only.
  void presets_share_one_recipe() {
    const TrainConfig d = recommended_config();
    QCOMPARE(d.model.kind, std::string("attention"));
    d.validate();
    for (const auto& p : train_presets()) {
      const TrainConfig c = recommended_config(p.name);
      c.validate();
      QCOMPARE(c.steps, p.steps);
      QCOMPARE(c.batch_size, p.batch_size);
      QCOMPARE(c.model.kind, d.model.kind);
      QCOMPARE(nlohmann::json(c.model), nlohmann::json(d.model));
      QCOMPARE(c.lr, d.lr);
      QVERIFY(c.lr_decay_every < c.steps);  // the schedule scales with the run
    }
    QVERIFY(find_train_preset("quick").steps < find_train_preset("default").steps);
    QVERIFY(find_train_preset("default").steps < find_train_preset("thorough").steps);
    QVERIFY_THROWS_EXCEPTION(ConfigError, find_train_preset("slow"));
  }

  // bf16 mixed precision learns what fp32 learns: the same run in both precisions ends within a
  // few percent of the same training loss, and run.json says which precision was used.
  void bf16_training_reaches_the_fp32_loss() {
    const std::string data = synthetic_data(path("bf16_data"), 200, 512);
    auto run = [&](const std::string& precision) {
      auto config = small_config();
      config.steps = 100;
      config.batch_size = 64;  // ~600 tokens x hidden 256: the projection runs in bf16
      config.model.hidden = 256;
      config.model.embed = 64;
      config.lr = 3e-3;
      config.precision = precision;
      config.val_every = 50;
      Trainer trainer(config, read_dataset(data), path("bf16_" + precision));
      const auto result = trainer.run();
      if (result.state != TrainerState::Finished) throw std::runtime_error(result.error);
      const auto& rows = trainer.history().rows;
      double last = 0;
      for (size_t i = rows.size() - 10; i < rows.size(); ++i) last += rows[i].train_loss / 10;
      return std::make_pair(rows.front().train_loss, last);
    };
    const auto fp32 = run("fp32");
    std::pair<double, double> bf16;
    try {
      bf16 = run("bf16");
    } catch (const std::exception& e) {
      QSKIP(e.what());  // a CPU on which oneDNN has no bf16 products at all
    }
    qInfo("training loss, first step -> mean of the last 10: fp32 %.4f -> %.4f, bf16 %.4f -> %.4f", fp32.first, fp32.second,
          bf16.first, bf16.second);
    QVERIFY(fp32.second < 0.5 * fp32.first);
    QVERIFY2(std::abs(bf16.second - fp32.second) <= 0.05 * fp32.second + 0.02, "bf16 ended elsewhere than fp32");
    QCOMPARE(read_run_summary(path("bf16_bf16")).precision, std::string("bf16"));
    QCOMPARE(read_run_summary(path("bf16_fp32")).precision, std::string("fp32"));
  }

  // One trainer writes a run folder at a time: a second is refused at once, naming the folder.
  void a_run_folder_has_one_writer() {
    auto config = small_config();
    config.steps = 2;
    Trainer first(config, read_dataset(data_), path("locked"));
    test::expect_error([&] { Trainer second(config, read_dataset(data_), path("locked")); },
                       {path("locked"), "another process is training into this folder"});
    QCOMPARE(first.run().state, TrainerState::Finished);
    Trainer::resume(path("locked"), read_dataset(data_), 4);  // once its run is over, the folder is free
  }

  // Checkpoints and the schedule follow the run's own length, whatever the preset planned.
  void cadence_follows_the_number_of_steps() {
    for (int64_t steps : {1, 2, 7, 50, 200, 999, 5000, 50000}) {
      const int64_t every = derive_checkpoint_every(steps);
      QVERIFY2(every >= 1 && (steps == 1 || every < steps), qPrintable(QString::number(steps)));  // one before the end
      QVERIFY(every <= std::max<int64_t>(100, steps / 10));
      TrainConfig c = recommended_config();
      c.steps = steps;
      derive_lr_decay(c);
      QVERIFY(steps / c.lr_decay_every <= 2);  // halved at most twice
    }
    QCOMPARE(derive_checkpoint_every(200), int64_t{100});
    QCOMPARE(derive_checkpoint_every(50000), int64_t{5000});
  }

  void interrupted_then_resumed_matches_uninterrupted() {
    Trainer straight(small_config(), read_dataset(data_), path("straight"));
    QCOMPARE(straight.run().state, TrainerState::Finished);

    {
      Trainer first(small_config(), read_dataset(data_), path("interrupted"));
      StopAt stop(first.control(), 23);
      const auto r = first.run(&stop);
      QCOMPARE(r.state, TrainerState::Stopped);
      QCOMPARE(r.step, int64_t{23});
    }
    QCOMPARE(load_checkpoint(RunFolder(path("interrupted")).checkpoint()).state.step, int64_t{23});
    auto resumed = Trainer::resume(path("interrupted"), read_dataset(data_));
    QCOMPARE(resumed->step(), int64_t{23});
    QCOMPARE(resumed->run().state, TrainerState::Finished);

    const auto a = straight.model()->named_parameters();
    const auto b = resumed->model()->named_parameters();
    for (const auto& item : a) QVERIFY2(torch::equal(item.value(), b[item.key()]), item.key().c_str());
    const auto& ha = straight.history().rows;
    const auto& hb = resumed->history().rows;
    QCOMPARE(hb.size(), ha.size());
    for (size_t i = 0; i < ha.size(); ++i) {
      QCOMPARE(hb[i].step, ha[i].step);
      QCOMPARE(hb[i].train_loss, ha[i].train_loss);
      QCOMPARE(std::isnan(hb[i].val_loss), std::isnan(ha[i].val_loss));
      if (!std::isnan(ha[i].val_loss)) QCOMPARE(hb[i].val_loss, ha[i].val_loss);
      QCOMPARE(hb[i].lr, ha[i].lr);
    }
    QCOMPARE(ha.back().lr, 0.5e-3);  // decayed after step 25
  }

  // Other threads (the GUI, decoding) may draw from LibTorch's process-wide generator at any
  // moment: a run must neither depend on it nor be disturbed by those draws.
  void runs_use_their_own_generator() {
    class DrawsFromSharedGenerator : public TrainObserver {
     public:
      void on_progress(const TrainProgress&) override { (void)torch::rand({7}); }
    };
    auto config = small_config();
    config.steps = 12;
    config.model.kind = "lstm";
    config.model.layers = 2;  // dropout inside the LSTM stack, too
    config.model.dropout = 0.3;
    torch::manual_seed(1);
    Trainer quiet(config, read_dataset(data_), path("own-generator-a"));
    quiet.run();
    torch::manual_seed(999);
    Trainer disturbed(config, read_dataset(data_), path("own-generator-b"));
    DrawsFromSharedGenerator draws;
    disturbed.run(&draws);
    const auto a = quiet.model()->named_parameters();
    const auto b = disturbed.model()->named_parameters();
    for (const auto& item : a) QVERIFY2(torch::equal(item.value(), b[item.key()]), item.key().c_str());
    QCOMPARE(disturbed.history().rows.back().train_loss, quiet.history().rows.back().train_loss);
  }

  // Two threads, each on half of the batch, compute the gradient of the whole batch: without
  // dropout the weights after a few steps are those of one thread, up to rounding.
  void shares_of_a_step_sum_to_the_whole_batch() {
    auto run = [&](int64_t threads) {
      auto config = small_config();
      config.steps = 8;
      config.model.dropout = 0;
      config.threads = threads;
      auto trainer = std::make_unique<Trainer>(config, read_dataset(data_), path("shares-" + std::to_string(threads)));
      const auto result = trainer->run();
      if (result.state != TrainerState::Finished) throw std::runtime_error(result.error);
      return trainer;
    };
    const auto one = run(1), two = run(2);
    const auto a = one->model()->named_parameters();
    const auto b = two->model()->named_parameters();
    for (const auto& item : a) {
      const double gap = (item.value() - b[item.key()]).abs().max().item<double>();
      QVERIFY2(gap < 1e-4, (item.key() + ": " + std::to_string(gap)).c_str());
    }
    for (size_t i = 0; i < one->history().rows.size(); ++i)
      QVERIFY(std::abs(one->history().rows[i].train_loss - two->history().rows[i].train_loss) < 1e-4);
    // And the shares did differ from one thread in the last bits: two computations, not one.
    bool any_difference = false;
    for (const auto& item : a) any_difference = any_difference || !torch::equal(item.value(), b[item.key()]);
    QVERIFY(any_difference);
  }

  void shard_threads_run_every_share_and_report_the_first_failure() {
    ShardThreads threads(3);
    QCOMPARE(threads.size(), size_t{3});
    for (size_t n = 0; n <= 3; ++n) {
      std::array<std::atomic<int>, 3> runs{};
      threads.run(n, [&](size_t k) { ++runs[k]; });
      for (size_t k = 0; k < 3; ++k) QCOMPARE(runs[k].load(), k < n ? 1 : 0);
    }
    std::atomic<int> finished{0};
    try {
      threads.run(3, [&](size_t k) {
        if (k >= 1) throw std::runtime_error("share " + std::to_string(k));
        ++finished;
      });
      QFAIL("a share's failure was not reported");
    } catch (const std::runtime_error& e) {
      QCOMPARE(std::string(e.what()), std::string("share 1"));
    }
    QCOMPARE(finished.load(), 1);
    int after = 0;
    threads.run(2, [&](size_t k) {
      if (k == 0) ++after;
    });  // still usable after a failure
    QCOMPARE(after, 1);
    QVERIFY_THROWS_EXCEPTION(std::logic_error, threads.run(4, [](size_t) {}));
  }

  void resume_can_extend_the_run() {
    auto config = small_config();
    config.steps = 10;
    Trainer(config, read_dataset(data_), path("extend")).run();
    auto more = Trainer::resume(path("extend"), read_dataset(data_), 15);
    QCOMPARE(more->run().step, int64_t{15});
    QCOMPARE(more->history().rows.size(), size_t{15});
  }

  void pause_resume_and_stop_are_honoured() {
    auto config = small_config();
    config.steps = 100000;
    config.checkpoint_every = 100000;
    Trainer trainer(config, read_dataset(data_), path("control"));
    Recorder recorder;
    TrainerThread worker(trainer, &recorder);
    QVERIFY(wait_for([&] { return recorder.step >= 3; }));
    trainer.control().request_pause();
    QVERIFY(wait_for([&] { return recorder.paused == 1; }));
    const int64_t paused_at = recorder.step;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    QCOMPARE(recorder.step.load(), paused_at);  // no step while paused
    trainer.control().request_unpause();
    QVERIFY(wait_for([&] { return recorder.step > paused_at + 2; }));
    trainer.control().request_stop();
    const TrainResult result = worker.join();
    QCOMPARE(result.state, TrainerState::Stopped);
    QVERIFY(result.step <= recorder.step + 1);
    QCOMPARE(load_checkpoint(RunFolder(path("control")).checkpoint()).state.step, result.step);

    // A stop while paused ends the run too.
    auto config2 = config;
    Trainer second(config2, read_dataset(data_), path("control2"));
    Recorder r2;
    TrainerThread w2(second, &r2);
    QVERIFY(wait_for([&] { return r2.step >= 1; }));
    second.control().request_pause();
    QVERIFY(wait_for([&] { return r2.paused == 1; }));
    second.control().request_stop();
    QCOMPARE(w2.join().state, TrainerState::Stopped);
  }

  void nan_loss_fails_and_keeps_the_last_checkpoint() {
    const std::string data = path("nan_data");
    synthetic_data(data, 60, 24);
    auto config = small_config();
    config.steps = 5;
    Trainer(config, read_dataset(data), path("nan")).run();
    // Same captions, poisoned features.
    std::vector<float> nan(60 * 24, std::nanf(""));
    write_npy_f32(data + "/image_codes.npy", nan.data(), {60, 24});
    auto resumed = Trainer::resume(path("nan"), read_dataset(data), 10);
    const auto r = resumed->run();
    QCOMPARE(r.state, TrainerState::Failed);
    QVERIFY2(r.error.find("loss") != std::string::npos && r.error.find("step 6") != std::string::npos, r.error.c_str());
    const auto kept = load_checkpoint(RunFolder(path("nan")).checkpoint());
    QCOMPARE(kept.state.step, int64_t{5});
    for (const auto& p : kept.model->parameters()) QVERIFY(torch::isfinite(p).all().item<bool>());
  }

  // A non-finite gradient skips that update (counted and said), so NaN never reaches the weights
  // or a checkpoint; the run goes on.
  void non_finite_gradients_skip_the_update() {
    auto config = small_config();
    config.steps = 12;
    config.checkpoint_every = 100;
    config.threads = 1;  // the whole batch's backward(), which runs the parameter hook below
    Trainer trainer(config, read_dataset(data_), path("nonfinite"));
    struct Messages : TrainObserver {
      std::vector<std::string> lines;
      int64_t skipped = 0;
      void on_message(const std::string& text) override { lines.push_back(text); }
      void on_progress(const TrainProgress& p) override { skipped = p.skipped_updates; }
    } observer;
    int64_t backward_calls = 0;
    auto weight = trainer.model()->parameters().front();
    weight.register_hook([&](torch::Tensor grad) {  // poisons the gradients of steps 4 and 9
      ++backward_calls;
      return backward_calls == 4 || backward_calls == 9 ? grad * std::numeric_limits<float>::quiet_NaN() : grad;
    });
    const auto r = trainer.run(&observer);
    QCOMPARE(r.state, TrainerState::Finished);
    QCOMPARE(observer.skipped, int64_t{2});
    QVERIFY(std::any_of(observer.lines.begin(), observer.lines.end(),
                        [](const std::string& l) { return l.find("step 4: the gradient is not finite") != std::string::npos; }));
    for (const auto& p : load_checkpoint(RunFolder(path("nonfinite")).checkpoint()).model->parameters())
      QVERIFY(torch::isfinite(p).all().item<bool>());
  }

  void resume_refuses_other_data_and_bad_settings() {
    auto config = small_config();
    config.steps = 2;
    Trainer(config, read_dataset(data_), path("refuse")).run();
    const std::string other = path("other_data");
    synthetic_data(other, 50, 24, 99);
    test::expect_error([&] { Trainer::resume(path("refuse"), read_dataset(other)); }, {other, "not the dataset"});
    test::expect_error([&] { Trainer::resume(path("missing_run"), read_dataset(data_)); }, {"checkpoint.pt", "cannot open"});
    auto bad = small_config();
    bad.batch_size = 0;
    QVERIFY_THROWS_EXCEPTION(ConfigError, Trainer(bad, read_dataset(data_), path("bad")));
    bad = small_config();
    bad.device = "tpu";
    QVERIFY_THROWS_EXCEPTION(ConfigError, Trainer(bad, read_dataset(data_), path("bad")));
  }
};

QTEST_GUILESS_MAIN(TestTrainer)
#include "test_trainer.moc"
