// Distributed training on c10d/Gloo: N ranks train the model one process trains, rank 0 alone
// writes, a resume may change the world size, and faults (a dead or hung rank, a bad rendezvous,
// a port in use, ranks that disagree) end in a clear error within the timeout, never a hang.
#include "core/data/dataset.h"
#include "core/data/synthetic.h"
#include "core/run/checkpoint.h"
#include "core/run/run_folder.h"
#include "core/train/process_group.h"
#include "core/train/trainer.h"
#include "core/util/errors.h"
#include "core/util/npy.h"

#include <torch/torch.h>

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <thread>

#include <csignal>

#include "cli_support.h"
#include "test_support.h"

using namespace captioner;

namespace {

TrainConfig small_config(const std::string& kind) {
  TrainConfig c;
  c.model.kind = kind;
  c.model.hidden = 32;
  c.model.embed = 16;
  c.model.attention_dim = 16;
  c.steps = 8;
  c.batch_size = 20;  // 10 images per rank
  c.val_every = 4;
  c.val_batches = 3;  // sharded 2 + 1
  c.checkpoint_every = 4;
  c.lr = 5e-3;
  c.seed = 7;
  c.threads = 1;
  return c;
}

std::vector<torch::Tensor> weights_of(const CaptionModel& model) {
  std::vector<torch::Tensor> out;
  for (const auto& p : model->parameters()) out.push_back(p.detach().clone());
  return out;
}

double max_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>());
  return worst;
}

// A TCP port on loopback that this process listens on while the object lives.
class ListeningPort {
 public:
  ListeningPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 4) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &size) != 0)
      throw std::runtime_error("cannot listen on loopback");
    port_ = ntohs(a.sin_port);
  }
  ~ListeningPort() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

struct RankRun {
  std::vector<torch::Tensor> weights;
  History history;
  TrainResult result;
};

// `world` ranks of one run, each on its own thread with its own process group.
std::vector<RankRun> train_ranks(int world, const TrainConfig& config, const std::string& data, const std::string& run_dir,
                                 const std::string& rendezvous, bool resume = false) {
  std::vector<std::future<RankRun>> ranks;
  for (int r = 0; r < world; ++r)
    ranks.push_back(std::async(std::launch::async, [=] {
      DistributedOptions o;
      o.world_size = world;
      o.rank = r;
      o.rendezvous = rendezvous;
      o.timeout = std::chrono::seconds(60);
      auto group = connect_process_group(o);
      // A fresh run's ranks other than 0 get a folder of their own, which they must not create.
      const std::string dir = resume || r == 0 ? run_dir : run_dir + "_rank" + std::to_string(r);
      auto trainer = resume ? Trainer::resume(dir, read_dataset(data), config.steps, group.get())
                            : std::make_unique<Trainer>(config, read_dataset(data), dir, group.get());
      RankRun out;
      out.result = trainer->run();
      out.weights = weights_of(trainer->model());
      out.history = trainer->history();
      return out;
    }));
  std::vector<RankRun> out;
  for (auto& r : ranks) out.push_back(r.get());
  return out;
}

}  // namespace

class TestDistributed : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  std::string data_;
  std::string path(const std::string& name) { return dir_.path().toStdString() + "/" + name; }
  std::string rendezvous(const std::string& name) { return "file://" + path(name + ".rendezvous"); }

 private Q_SLOTS:
  void initTestCase() {
    if (!distributed_available()) QSKIP("this build has no c10d/Gloo");
    data_ = path("data");
    SyntheticOptions o;
    o.images = 120;
    o.feature_dim = 24;
    write_synthetic_handout(data_, o);
    // A grid for the attention model: 16 cells per image, each the image's vector plus noise,
    // in a cache folder (pooled.npy with grid.npy beside it).
    const NpyArray codes = NpyArray::open(data_ + "/image_codes.npy");
    std::vector<float> pooled(static_cast<size_t>(codes.rows() * 24)), grid;
    for (int64_t i = 0; i < codes.rows(); ++i) codes.read_row(i, pooled.data() + i * 24);
    torch::manual_seed(3);
    const auto g = torch::from_blob(pooled.data(), {codes.rows(), 1, 24}).expand({codes.rows(), 16, 24}) +
                   0.3 * torch::randn({codes.rows(), 16, 24});
    QDir().mkpath(QString::fromStdString(path("grid")));
    write_npy_f32(path("grid/pooled.npy"), pooled.data(), {codes.rows(), 24});
    const auto contiguous = g.contiguous();
    write_npy_f32(path("grid/grid.npy"), contiguous.data_ptr<float>(), {codes.rows(), 16, 24});
  }

  // The same seed and global batch on 2 ranks and on 1 process give the same weights and the
  // same losses. Not bit for bit: each rank sums its half of the batch, and the halves are then
  // added, so float additions happen in another order (relative error ~1e-7 per step), which
  // Adam's division by the running gradient norm can enlarge on near-zero gradients. 8 steps at
  // lr 5e-3 move a weight by up to about 8 x 5e-3 (Adam's steps are about lr in size); they must
  // agree within 1e-5 (seen: 1.5e-7 for the LSTM, 2.8e-6 for attention), the losses within 1e-4.
  void two_ranks_train_the_one_process_model_data() {
    QTest::addColumn<QString>("kind");
    QTest::newRow("lstm") << "lstm";
    QTest::newRow("attention") << "attention";
  }
  void two_ranks_train_the_one_process_model() {
    QFETCH(QString, kind);
    auto config = small_config(kind.toStdString());
    if (kind == "attention") config.features_path = path("grid/pooled.npy");
    const std::string name = "same_" + kind.toStdString();
    Trainer one(config, read_dataset(data_), path(name + "_one"));
    QCOMPARE(one.run().state, TrainerState::Finished);
    const auto ranks = train_ranks(2, config, data_, path(name + "_two"), rendezvous(name));
    for (const auto& r : ranks) QCOMPARE(r.result.state, TrainerState::Finished);
    const auto reference = weights_of(one.model());
    const double moved =
        max_difference(reference, weights_of(load_checkpoint(RunFolder(path(name + "_one")).checkpoint()).model));
    QCOMPARE(moved, 0.0);  // the checkpoint holds the final weights
    // score.bias is added to every cell's score alike, so the softmax ignores it: its true
    // gradient is 0 and what it gets is rounding noise, which Adam scales up to ~lr-sized steps
    // whose sign depends on the order of the additions. It changes no output; it is left out.
    const auto names = one.model()->named_parameters().keys();
    double apart = 0;
    for (size_t i = 0; i < reference.size(); ++i)
      if (names[i] != "score.bias") apart = std::max(apart, (reference[i] - ranks[0].weights[i]).abs().max().item<double>());
    qInfo("%s: largest weight difference, 2 ranks vs 1 process: %.3g", kind.toUtf8().constData(), apart);
    QVERIFY2(apart < 1e-5, std::to_string(apart).c_str());
    QCOMPARE(max_difference(ranks[0].weights, ranks[1].weights), 0.0);  // the ranks never diverge
    QCOMPARE(ranks[0].history.rows.size(), one.history().rows.size());
    for (size_t i = 0; i < one.history().rows.size(); ++i) {
      const auto& a = one.history().rows[i];
      const auto& b = ranks[0].history.rows[i];
      QVERIFY2(std::abs(a.train_loss - b.train_loss) < 1e-4,
               (std::to_string(a.train_loss) + " vs " + std::to_string(b.train_loss)).c_str());
      QCOMPARE(std::isnan(a.val_loss), std::isnan(b.val_loss));
      if (!std::isnan(a.val_loss)) QVERIFY(std::abs(a.val_loss - b.val_loss) < 1e-4);
    }
    // Rank 0 wrote the run; rank 1 wrote nothing, not even its folder.
    QVERIFY(QFile::exists(QString::fromStdString(path(name + "_two/checkpoint.pt"))));
    QVERIFY(QFile::exists(QString::fromStdString(path(name + "_two/history.csv"))));
    QVERIFY(!QFileInfo::exists(QString::fromStdString(path(name + "_two_rank1"))));
  }

  // A run saved by one process continues on 2 ranks, and ends where the one-process run ends.
  void resume_with_another_world_size() {
    auto config = small_config("lstm");
    Trainer whole(config, read_dataset(data_), path("whole"));
    whole.run();
    config.steps = 4;
    Trainer half(config, read_dataset(data_), path("halves"));
    QCOMPARE(half.run().state, TrainerState::Finished);
    auto rest = small_config("lstm");
    // Over TCP on loopback this time: rank 0 listens on a port that was free a moment ago.
    ListeningPort free_port;
    free_port.close();
    const auto ranks = train_ranks(2, rest, data_, path("halves"), "tcp://127.0.0.1:" + std::to_string(free_port.port()), true);
    QCOMPARE(ranks[0].result.step, int64_t{8});
    const double apart = max_difference(weights_of(whole.model()), ranks[0].weights);
    QVERIFY2(apart < 1e-4, std::to_string(apart).c_str());
    QCOMPARE(load_checkpoint(RunFolder(path("halves")).checkpoint()).state.step, int64_t{8});
  }

  // Ranks that would train different runs refuse to start, every one of them, saying what differs.
  void ranks_that_disagree_refuse_to_start() {
    std::vector<std::future<std::string>> ranks;
    for (int r = 0; r < 2; ++r)
      ranks.push_back(std::async(std::launch::async, [=] {
        auto config = small_config("lstm");
        if (r == 1) config.model.hidden = 48;
        DistributedOptions o;
        o.world_size = 2;
        o.rank = r;
        o.rendezvous = rendezvous("disagree");
        auto group = connect_process_group(o);
        try {
          Trainer t(config, read_dataset(data_), path("disagree" + std::to_string(r)), group.get());
        } catch (const ConfigError& e) {
          return std::string(e.what());
        }
        return std::string("started");
      }));
    for (auto& r : ranks) {
      const std::string error = r.get();
      QVERIFY2(error.find("rank 1's model differs from rank 0's (hidden 32 vs 48)") != std::string::npos, error.c_str());
    }
  }

  // `train --nproc 2` starts two ranks of itself and ends with the one-process run's model.
  void nproc_runs_local_ranks_end_to_end() {
    const QStringList common = {"train",   "--data",      QString::fromStdString(data_),
                                "--model", "lstm",        "--hidden",
                                "32",      "--embed",     "16",
                                "--steps", "6",           "--batch-size",
                                "20",      "--val-every", "3",
                                "--lr",    "5e-3",        "--seed",
                                "7",       "--dropout",   "0"};  // dropout masks are drawn per rank
    const auto one = test::run(common + QStringList{"--out", QString::fromStdString(path("cli_one")), "--threads", "1"});
    QVERIFY2(one.code == 0, one.err.c_str());
    const auto two = test::run(common + QStringList{"--out", QString::fromStdString(path("cli_two")), "--nproc", "2"});
    QVERIFY2(two.code == 0, two.err.c_str());
    QVERIFY2(two.err.find("2 ranks joined") != std::string::npos, two.err.c_str());
    const auto a = load_checkpoint(RunFolder(path("cli_one")).checkpoint()),
               b = load_checkpoint(RunFolder(path("cli_two")).checkpoint());
    QCOMPARE(b.state.step, int64_t{6});
    QCOMPARE(b.state.history.rows.size(), size_t{6});
    const double apart = max_difference(weights_of(a.model), weights_of(b.model));
    QVERIFY2(apart < 1e-5, std::to_string(apart).c_str());
    // A rank outside the world, or --nproc with --world-size, is refused before anything is written.
    const auto outside = test::run(common + QStringList{"--out", QString::fromStdString(path("cli_never")), "--rank", "3"});
    QCOMPARE(outside.code, 1);
    QVERIFY2(outside.err.find("rank 3 is outside the world of 1") != std::string::npos, outside.err.c_str());
    const auto both =
        test::run(common + QStringList{"--out", QString::fromStdString(path("cli_never")), "--nproc", "2", "--world-size", "2"});
    QCOMPARE(both.code, 1);
    QVERIFY2(both.err.find("give either --nproc or --world-size") != std::string::npos, both.err.c_str());
    QVERIFY(!QFileInfo::exists(QString::fromStdString(path("cli_never"))));
  }

  // A rank that dies, or hangs, makes the other stop within its timeout with an error naming it;
  // the last checkpoint stays loadable.
  void a_dead_or_hung_rank_stops_the_others_data() {
    QTest::addColumn<int>("signal");
    QTest::newRow("killed") << int(SIGKILL);
    QTest::newRow("hung") << int(SIGSTOP);
  }
  void a_dead_or_hung_rank_stops_the_others() {
    QFETCH(int, signal);
    const std::string run = path("fault" + std::to_string(signal));
    const QString rendezvous_at = QString::fromStdString(rendezvous("fault" + std::to_string(signal)));
    std::vector<std::unique_ptr<QProcess>> ranks;
    for (int r = 0; r < 2; ++r) {
      ranks.push_back(std::make_unique<QProcess>());
      ranks.back()->start(QStringLiteral(CAPTIONER_EXE), {"train",
                                                          "--data",
                                                          QString::fromStdString(data_),
                                                          "--out",
                                                          QString::fromStdString(run),
                                                          "--model",
                                                          "lstm",
                                                          "--hidden",
                                                          "32",
                                                          "--steps",
                                                          "1000000",
                                                          "--batch-size",
                                                          "20",
                                                          "--checkpoint-every",
                                                          "2",
                                                          "--log-every",
                                                          "1",
                                                          "--threads",
                                                          "1",
                                                          "--world-size",
                                                          "2",
                                                          "--rank",
                                                          QString::number(r),
                                                          "--rendezvous",
                                                          rendezvous_at,
                                                          "--dist-timeout",
                                                          "5"});
      QVERIFY(ranks.back()->waitForStarted());
    }
    // Rank 0 reports each step on stderr: wait for the third (and so a checkpoint), then strike rank 1.
    QByteArray seen;
    ranks[0]->setReadChannel(QProcess::StandardError);
    while (!seen.contains("step 3/") && ranks[0]->state() == QProcess::Running && ranks[0]->waitForReadyRead(120000))
      seen += ranks[0]->readAllStandardError();
    QVERIFY2(seen.contains("step 3/"), seen.constData());
    QCOMPARE(::kill(static_cast<pid_t>(ranks[1]->processId()), signal), 0);
    // The timeout is 5 s; 60 s allows for a loaded machine without hiding a hang.
    QVERIFY2(ranks[0]->waitForFinished(60000), "rank 0 did not stop");
    const QByteArray error = ranks[0]->readAllStandardError();
    QCOMPARE(ranks[0]->exitCode(), 1);
    QVERIFY2(error.contains("training failed: rank 0: ") &&
                 // "rank 1 (last seen at step N) died", or without the step when it died mid-step
                 error.contains("failed at step") && error.contains(": rank 1 ") && error.contains("died or stopped answering"),
             error.constData());
    ::kill(static_cast<pid_t>(ranks[1]->processId()), SIGKILL);
    ranks[1]->waitForFinished(60000);
    const auto saved = load_checkpoint(RunFolder(run).checkpoint());
    QVERIFY(saved.state.step >= 2);
  }

  void bad_rendezvous_is_refused() {
    DistributedOptions o;
    o.world_size = 2;
    o.rank = 1;
    o.timeout = std::chrono::seconds(2);
    for (const char* address : {"http://127.0.0.1:80", "tcp://127.0.0.1", "tcp://127.0.0.1:99999", "file://relative"}) {
      o.rendezvous = address;
      test::expect_error([&] { connect_process_group(o); }, {address});
    }
    // Nobody listens there: rank 1 gives up after the timeout, naming the address.
    ListeningPort probe;
    const int port = probe.port();
    probe.close();
    o.rendezvous = "tcp://127.0.0.1:" + std::to_string(port);
    test::expect_error([&] { connect_process_group(o); }, {o.rendezvous, "rank 1 could not join within 2 s"});
    o.rank = 5;
    test::expect_error([&] { connect_process_group(o); }, {"rank 5 is outside the world of 2"});
  }

  void a_port_in_use_is_refused() {
    ListeningPort taken;
    DistributedOptions o;
    o.world_size = 2;
    o.rank = 0;
    o.timeout = std::chrono::seconds(2);
    o.rendezvous = "tcp://127.0.0.1:" + std::to_string(taken.port());
    test::expect_error([&] { connect_process_group(o); }, {o.rendezvous, "rank 0 cannot listen there", "in use"});
  }
};

QTEST_GUILESS_MAIN(TestDistributed)
#include "test_distributed.moc"
