// The `captioner` executable, driven as a user would: exit codes, output files, error messages.
#include "core/data/synthetic.h"
#include "core/run/run_summary.h"
#include "core/util/atomic_file.h"
#include "core/util/npy.h"
#include "core/vision/background_photos.h"
#include "core/vision/encoder.h"

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <QElapsedTimer>
#include <QProcess>
#include <QProcessEnvironment>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <cmath>
#include <csignal>
#include <sstream>

#include "cli_support.h"
#include "test_support.h"

using namespace captioner;

namespace {

using test::Run;
using test::run;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

class TestCli : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  QString data_;
  QString path(const QString& name) { return dir_.path() + "/" + name; }

 private Q_SLOTS:
  void initTestCase() {
    data_ = path("data");
    SyntheticOptions o;
    o.images = 200;
    o.feature_dim = 64;
    write_synthetic_handout(data_.toStdString(), o);
  }

  void version_and_help() {
    const auto v = run({"--version"});
    QCOMPARE(v.code, 0);
    QVERIFY(contains(v.out, "captioner "));
    for (const char* sub : {"train", "caption", "demo", "shapes", "eval", "score"}) {
      const auto h = run({sub, "--help"});
      QCOMPARE(h.code, 0);
      QVERIFY(contains(h.out, "--"));
    }
    // Without arguments captioner opens the desktop app (tested by the GUI tests); --help says so.
    const auto help = run({"--help"});
    QCOMPARE(help.code, 0);
    QVERIFY(contains(help.out, "opens the desktop app"));
  }

  // The command-line reference (docs/cli.md, and docs/service.md for serve) names every option
  // that a command's --help lists, so the pages cannot fall behind the commands.
  void the_reference_names_every_option() {
    QString docs;
    for (const char* page : {"cli.md", "service.md"}) {
      QFile f(QStringLiteral(CAPTIONER_TEST_DATA "/../../docs/") + page);
      QVERIFY2(f.open(QIODevice::ReadOnly), qPrintable(f.fileName()));
      docs += QString::fromUtf8(f.readAll());
    }
    const QRegularExpression option(QStringLiteral(R"((?:^|[\s,])(--[a-z][a-z0-9-]*))"));
    QStringList missing;
    for (const char* command : {"train", "caption", "extract", "shapes", "eval", "score", "import-weights", "serve", "demo"}) {
      const auto help = run({command, "--help"});
      QCOMPARE(help.code, 0);
      for (auto it = option.globalMatch(QString::fromStdString(help.out)); it.hasNext();) {
        const QString name = it.next().captured(1);
        if (!docs.contains(QRegularExpression(QRegularExpression::escape(name) + QStringLiteral("(?![a-z0-9-])"))))
          missing << QStringLiteral("%1 %2").arg(QLatin1String(command), name);
      }
    }
    missing.removeDuplicates();
    QVERIFY2(missing.isEmpty(), qPrintable(QStringLiteral("not in docs/cli.md or docs/service.md: ") + missing.join(", ")));
  }

  // Exit status as shells expect: 2 for a usage error, 1 for a runtime error; results alone on stdout.
  // On a terminal (script(1) gives the command one) progress is one line redrawn in place and
  // kept at the end; in a pipe or a log it is plain lines at the command's pace.
  void progress_is_redrawn_on_a_terminal_and_plain_elsewhere() {
    QProcess terminal;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("TERM", "xterm");
    terminal.setProcessEnvironment(env);
    terminal.start("script", {"-qec", QString(CAPTIONER_EXE) + " shapes --out " + path("tty_shapes") + " --count 600 --seed 2",
                              "/dev/null"});
    QVERIFY(terminal.waitForFinished(120000));
    QCOMPARE(terminal.exitCode(), 0);
    const QByteArray screen = terminal.readAllStandardOutput();
    QVERIFY2(screen.contains("\rshapes: 600/600 images\x1b[K\r\n"), screen.right(300).constData());
    QVERIFY(!screen.contains("shapes: 500/600 images\r\n"));  // not a line of its own
    QVERIFY(screen.contains("\r\nwrote "));                   // what follows starts on a line of its own
    const auto piped = run({"shapes", "--out", path("piped_shapes"), "--count", "600", "--seed", "2"});
    QCOMPARE(piped.code, 0);
    QVERIFY2(piped.err.find("shapes: 500/600 images\nshapes: 600/600 images\nwrote ") != std::string::npos, piped.err.c_str());
    QVERIFY(piped.err.find('\r') == std::string::npos);
  }

  void usage_errors_exit_2_and_runtime_errors_1() {
    const auto bogus = run({"train", "--data", data_, "--out", path("r0"), "--bogus"});
    QCOMPARE(bogus.code, 2);
    QVERIFY2(contains(bogus.err, "--bogus"), bogus.err.c_str());
    const auto no_data = run({"train", "--out", path("r0")});
    QCOMPARE(no_data.code, 2);
    QVERIFY2(contains(no_data.err, "--data"), no_data.err.c_str());
    const auto unknown = run({"frobnicate"});
    QCOMPARE(unknown.code, 2);
    QVERIFY2(contains(unknown.err, "unknown command 'frobnicate'"), unknown.err.c_str());
    QCOMPARE(run({"caption", "--mode", "sideways"}).code, 2);
    // --quiet: no progress lines, the result (a run) the same.
    const auto quiet = run({"train", "--data", data_, "--out", path("quiet"), "--steps", "3", "--batch-size", "8", "--hidden",
                            "16", "--embed", "8", "--log-every", "1", "--quiet"});
    QCOMPARE(quiet.code, 0);
    QVERIFY2(!contains(quiet.err, "step 1/3") && contains(quiet.err, "finished at step 3"), quiet.err.c_str());
    const auto missing = run({"train", "--data", path("missing"), "--out", path("r0")});
    QCOMPARE(missing.code, 1);
    QVERIFY(missing.out.empty());
  }

  // Without a display, `captioner` alone prints its help and a hint instead of aborting in Qt.
  void no_display_prints_help_and_exits_2() {
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const char* name : {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"}) env.remove(QString::fromLatin1(name));
    p.setProcessEnvironment(env);
    p.start(QStringLiteral(CAPTIONER_EXE), {});
    QVERIFY(p.waitForFinished(60000));
    QCOMPARE(p.exitStatus(), QProcess::NormalExit);
    QCOMPARE(p.exitCode(), 2);
    const std::string err = p.readAllStandardError().toStdString();
    QVERIFY2(contains(err, "no display: the desktop app needs one") && contains(err, "train"), err.c_str());
  }

  void train_learns_and_caption_returns_a_caption() {
    const QString out = path("run");
    const auto t = run({"train", "--data", data_, "--out", out, "--steps", "150", "--batch-size", "32", "--val-every", "25",
                        "--hidden", "64", "--embed", "32", "--threads", "2", "--log-every", "25"});
    QVERIFY2(t.code == 0, t.err.c_str());
    // The recipe's attention model needs a grid; the notebook's image vectors train the LSTM, said so.
    QVERIFY2(contains(t.err, "so the LSTM model is trained"), t.err.c_str());
    QCOMPARE(captioner::read_run_summary(out.toStdString()).config.model.kind, std::string("lstm"));
    QVERIFY(contains(t.err, "step 150/150"));
    QVERIFY(QFile::exists(out + "/checkpoint.pt"));

    std::istringstream csv(read_file((out + "/history.csv").toStdString()));
    std::string header;
    std::getline(csv, header);
    QVERIFY2(header.rfind("step,train_loss,val_loss,captions_per_s", 0) == 0, header.c_str());
    std::vector<double> vals;
    for (std::string line; std::getline(csv, line);) {
      const auto a = line.find(','), b = line.find(',', a + 1), c = line.find(',', b + 1);
      if (c > b + 1) vals.push_back(std::stod(line.substr(b + 1, c - b - 1)));
    }
    QCOMPARE(vals.size(), size_t{6});
    QVERIFY2(vals.back() < 0.5 * vals.front(), (std::to_string(vals.front()) + " -> " + std::to_string(vals.back())).c_str());

    const auto c = run({"caption", "--model", out, "--features", data_ + "/image_codes.npy", "--index", "3"});
    QVERIFY2(c.code == 0, c.err.c_str());
    QVERIFY(c.out.size() > 5);

    const auto j = run({"caption", "--model", out, "--features", data_ + "/image_codes.npy", "--index", "3", "--mode", "sample",
                        "--temperature", "0.7", "--samples", "4", "--json"});
    QVERIFY2(j.code == 0, j.err.c_str());
    const auto doc = nlohmann::json::parse(j.out);
    QCOMPARE(doc.at("captions").size(), size_t{4});
    QVERIFY(!doc["captions"][0].at("tokens").empty());
    QVERIFY(doc["captions"][0]["tokens"][0].at("log_prob").get<double>() <= 0.0);

    // Resume extends the same run; starting over in it is refused.
    const auto again = run({"train", "--data", data_, "--out", out, "--steps", "10"});
    QVERIFY(again.code != 0);
    QVERIFY(contains(again.err, "--resume"));
    // --resume refuses what would change the run, naming it, rather than ignoring it.
    const auto changed = run({"train", "--data", data_, "--out", out, "--resume", "--hidden", "32", "--lr", "0.1"});
    QCOMPARE(changed.code, 1);
    QVERIFY2(contains(changed.err, "--lr, --hidden would change it"), changed.err.c_str());
    const auto resumed = run({"train", "--data", data_, "--out", out, "--resume", "--steps", "160", "--log-every", "5"});
    QVERIFY2(resumed.code == 0, resumed.err.c_str());
    QVERIFY(contains(resumed.err, "at step 150"));
    QVERIFY(contains(resumed.err, "step 160/160"));
  }

  void bad_inputs_fail_cleanly_naming_the_file() {
    auto expect = [](const Run& r, const std::vector<std::string>& parts) {
      QVERIFY2(r.code > 0, ("exit code " + std::to_string(r.code) + " " + r.err).c_str());
      QVERIFY2(contains(r.err, "error"), r.err.c_str());
      for (const auto& p : parts) QVERIFY2(contains(r.err, p), (r.err + " lacks " + p).c_str());
    };
    const std::string missing = path("missing").toStdString();
    expect(run({"train", "--data", path("missing"), "--out", path("r1")}), {missing, "cannot open"});

    QDir().mkpath(path("badjson"));
    QFile::copy(data_ + "/image_codes.npy", path("badjson/image_codes.npy"));
    write_file_atomically(path("badjson/captions_tokenized.json").toStdString(), "[[\"a\"");
    expect(run({"train", "--data", path("badjson"), "--out", path("r2")}), {"captions_tokenized.json", "malformed JSON"});

    expect(run({"train", "--data", data_, "--out", path("r3"), "--resume"}), {"checkpoint.pt", "no checkpoint"});
    expect(run({"caption", "--model", path("nomodel"), "--features", data_ + "/image_codes.npy", "--index", "0"}),
           {path("nomodel").toStdString()});
    write_file_atomically(path("junk.pt").toStdString(), "junk");
    expect(run({"caption", "--model", path("junk.pt"), "--features", data_ + "/image_codes.npy", "--index", "0"}),
           {"junk.pt", "checkpoint"});
    const auto bad_device = run({"train", "--data", data_, "--out", path("r4"), "--device", "tpu"});
    QVERIFY(bad_device.code != 0);
    const auto bad_steps = run({"train", "--data", data_, "--out", path("r5"), "--steps", "0"});
    QVERIFY(bad_steps.code > 0);
    QVERIFY(contains(bad_steps.err, "steps"));
  }

  void extract_lists_bad_images_and_resumes() {
    const QString images = path("photos");
    QDir().mkpath(images);
    QFile::copy(QStringLiteral(CAPTIONER_TEST_DATA "/images/cat.png"), images + "/cat.png");
    QFile::copy(QStringLiteral(CAPTIONER_TEST_DATA "/images/rocket.png"), images + "/rocket.png");
    write_file_atomically((images + "/broken.jpg").toStdString(), "no jpeg here");
    const auto first = run({"extract", "--images", images, "--out", path("codes.npy"), "--pooled-only"});
    QVERIFY2(first.code == 0, first.err.c_str());
    QVERIFY(contains(first.err, "encoded 2, already cached 0, bad 1 of 3"));
    QVERIFY(contains(first.err, "broken.jpg: not a readable image"));
    const auto again = run({"extract", "--images", images, "--out", path("codes.npy"), "--pooled-only"});
    QVERIFY(contains(again.err, "encoded 0, already cached 3"));
    const auto grid = run({"extract", "--images", images, "--out", path("codes2.npy")});
    QVERIFY(grid.code > 0);
    QVERIFY(contains(grid.err, "--pooled-only"));
  }

  // --precision reaches the encoder: the same photo's features in fp32 and in bf16 differ (how
  // close they must be is test_encoder's to check); a precision that does not exist is a usage error.
  void the_encoders_precision_is_chosen_on_the_command_line() {
    const QString images = path("precision");
    QDir().mkpath(images);
    QFile::copy(QStringLiteral(CAPTIONER_TEST_DATA "/images/cat.png"), images + "/cat.png");
    std::vector<std::vector<float>> features;
    for (const char* precision : {"fp32", "bf16"}) {
      const QString out = path(QStringLiteral("codes-%1.npy").arg(QLatin1String(precision)));
      const auto r = run({"extract", "--images", images, "--out", out, "--pooled-only", "--precision", precision});
      QVERIFY2(r.code == 0, r.err.c_str());
      const NpyArray array = NpyArray::open(out.toStdString());
      features.emplace_back(static_cast<size_t>(array.row_size()));
      array.read_row(0, features.back().data());
    }
    double dot = 0, a2 = 0, b2 = 0;
    for (size_t i = 0; i < features[0].size(); ++i) {
      dot += double(features[0][i]) * features[1][i];
      a2 += double(features[0][i]) * features[0][i];
      b2 += double(features[1][i]) * features[1][i];
    }
    QVERIFY(features[0] != features[1]);
    qInfo("extract --precision bf16 against fp32, pooled features of cat.png: cosine %.6f", dot / std::sqrt(a2 * b2));
    const auto bad =
        run({"caption", QStringLiteral(CAPTIONER_TEST_DATA "/images/cat.png"), "--model", path("none"), "--precision", "half"});
    QCOMPARE(bad.code, 2);
    QVERIFY(contains(bad.err, "--precision"));
  }

  // kill -9 between two writes, made deterministic by a kill point (core/kill_point.h): after the
  // second batch is logged, and after a batch's rows are synced but before they are logged.
  void extract_killed_midway_completes_on_the_next_run() {
    const QString images = path("many");
    QDir().mkpath(images);
    const QStringList names = {"astronaut", "cat", "coffee", "rocket"};
    for (int i = 0; i < 12; ++i)
      QFile::copy(QStringLiteral(CAPTIONER_TEST_DATA "/images/") + names[i % 4] + ".png",
                  images + QString("/img%1.png").arg(i, 2, 10, QChar('0')));
    auto done_lines = [](const QString& cache) {
      QFile log(cache + "/progress.log");
      if (!log.open(QIODevice::ReadOnly)) return -1;
      return static_cast<int>(log.readAll().count(" ok "));  // "INDEX ok SIZE MTIME"
    };
    auto killed_at = [&](const QString& cache, const QString& point) {
      QProcess p;
      auto env = QProcessEnvironment::systemEnvironment();
      env.insert("CAPTIONER_KILL_AT", point);
      p.setProcessEnvironment(env);
      p.start(QStringLiteral(CAPTIONER_EXE), {"extract", "--images", images, "--out", cache, "--batch-size", "2"});
      if (!p.waitForFinished(300000)) p.kill(), p.waitForFinished();
      return p.exitStatus() == QProcess::CrashExit;
    };
    const QStringList extract_again = {"extract", "--images", images, "--out", "", "--batch-size", "2"};
    for (const auto& [point, logged] : {std::pair<QString, int>{"extract-logged:2", 4}, {"extract-synced:2", 2}}) {
      const QString cache = path("killed_cache_" + QString(point).replace(':', '_'));
      QVERIFY2(killed_at(cache, point), qPrintable(point));
      QCOMPARE(done_lines(cache), logged);  // the second batch is listed only when it was logged
      auto args = extract_again;
      args[4] = cache;
      const auto again = run(args);
      QVERIFY2(again.code == 0, again.err.c_str());
      QVERIFY2(contains(again.err, "already cached " + std::to_string(logged)), again.err.c_str());
      QVERIFY2(contains(again.err, "encoded " + std::to_string(12 - logged)), again.err.c_str());
      QCOMPARE(done_lines(cache), 12);
    }
  }

  // Ctrl-C, a scheduler's SIGTERM and a lost terminal's SIGHUP all save the run and exit 128 + the
  // signal, so scripts can tell an interrupted run from a finished one. Progress goes to stderr.
  void a_stop_signal_saves_a_checkpoint_and_exits_128_plus_it_data() {
    QTest::addColumn<int>("signal");
    QTest::newRow("SIGINT") << int(SIGINT);
    QTest::newRow("SIGTERM") << int(SIGTERM);
    QTest::newRow("SIGHUP") << int(SIGHUP);
  }
  void a_stop_signal_saves_a_checkpoint_and_exits_128_plus_it() {
    QFETCH(int, signal);
    const QString out = path(QStringLiteral("interrupted-%1").arg(signal));
    QProcess p;
    p.start(QStringLiteral(CAPTIONER_EXE), {"train", "--data", data_, "--out", out, "--steps", "100000", "--batch-size", "8",
                                            "--hidden", "16", "--embed", "8", "--threads", "1", "--log-every", "1"});
    QVERIFY(p.waitForStarted());
    p.setReadChannel(QProcess::StandardError);  // what waitForReadyRead waits for
    QByteArray seen;
    while (!seen.contains("step 3/") && p.state() == QProcess::Running && p.waitForReadyRead(120000))
      seen += p.readAllStandardError();
    QVERIFY2(seen.contains("step 3/"), seen.constData());
    QCOMPARE(::kill(static_cast<pid_t>(p.processId()), signal), 0);
    QVERIFY(p.waitForFinished(120000));
    seen += p.readAllStandardError();
    QCOMPARE(p.exitStatus(), QProcess::NormalExit);
    QCOMPARE(p.exitCode(), 128 + signal);
    QVERIFY2(seen.contains("stopped at step") && seen.contains("continue with --resume"), seen.constData());
    QVERIFY(p.readAllStandardOutput().isEmpty());
    const auto summary = captioner::read_run_summary(out.toStdString());
    QCOMPARE(summary.state, std::string("stopped"));
    QVERIFY(summary.step >= 3);
    QVERIFY(QFile::exists(out + "/checkpoint.pt"));
  }

  // A run that cannot start is refused before any feature is extracted (which can take hours).
  void resume_without_a_run_is_refused_before_extraction() {
    const QString shapes = path("resume_shapes");
    const auto made = run({"shapes", "--out", shapes, "--count", "12", "--seed", "3"});
    QVERIFY2(made.code == 0, made.err.c_str());
    const auto r = run({"train", "--data", shapes, "--out", path("no_run_here"), "--resume"});
    QCOMPARE(r.code, 1);
    QVERIFY2(contains(r.err, "no_run_here/checkpoint.pt: no checkpoint to resume from"), r.err.c_str());
    QVERIFY(!QFileInfo::exists(shapes + "/features"));
    // And `shapes` never overwrites a dataset.
    const auto again = run({"shapes", "--out", shapes, "--count", "12", "--seed", "4"});
    QCOMPARE(again.code, 1);
    QVERIFY2(contains(again.err, "already holds a dataset"), again.err.c_str());
  }

  // Photos for backgrounds: a file that is not an image is named and left out, the rest is used
  // and recorded; a folder with no readable image, or the classic style, is refused.
  void shapes_draws_on_the_users_photos() {
    const QString photos = path("background_photos");
    QDir().mkpath(photos);
    QVERIFY(cv::imwrite((photos + "/street.png").toStdString(), cv::Mat(200, 320, CV_8UC3, cv::Scalar(40, 120, 200))));
    test::write_text((photos + "/broken.jpg").toStdString(), "not a jpeg");
    const auto r = run({"shapes", "--out", path("on_photos"), "--count", "16", "--backgrounds", photos});
    QVERIFY2(r.code == 0, r.err.c_str());
    QVERIFY2(contains(r.err, "broken.jpg") && contains(r.err, "left out of the backgrounds"), r.err.c_str());
    const auto doc = nlohmann::json::parse(read_file((path("on_photos") + "/dataset.json").toStdString()));
    QCOMPARE(doc["style"].get<std::string>(), std::string("natural"));
    QVERIFY2(doc["background_photos"] == nlohmann::json::array({"street.png"}), doc["background_photos"].dump().c_str());

    const QString none = path("no_background_photos");
    QDir().mkpath(none);
    test::write_text((none + "/broken.jpg").toStdString(), "not a jpeg");
    const auto refused = run({"shapes", "--out", path("never"), "--count", "4", "--backgrounds", none});
    QCOMPARE(refused.code, 1);
    QVERIFY2(contains(refused.err, "no readable image to use as a background"), refused.err.c_str());
    const auto classic = run({"shapes", "--out", path("never"), "--count", "4", "--style", "classic", "--backgrounds", photos});
    QCOMPARE(classic.code, 1);
    QVERIFY2(contains(classic.err, "--backgrounds needs --style natural"), classic.err.c_str());
    QVERIFY(!QFileInfo::exists(path("never") + "/dataset.json"));
  }

  // Without --backgrounds the natural scenes lie on the photos of Debian's wallpaper packages, as
  // many as are installed (the set-up installs them; without them the scenes have none and the
  // command says what that costs); `--backgrounds none` and the classic style use none.
  void shapes_draw_on_the_packaged_photos_by_default() {
    std::vector<std::string> installed;
    for (const auto& file : packaged_background_photos())
      if (QFileInfo(QString::fromStdString(file)).isFile()) installed.push_back(file);
    const auto r = run({"shapes", "--out", path("packaged"), "--count", "8", "--photo-share", "1"});
    QVERIFY2(r.code == 0, r.err.c_str());
    const auto doc = nlohmann::json::parse(read_file((path("packaged") + "/dataset.json").toStdString()));
    if (installed.empty()) {
      QVERIFY2(contains(r.err, "no background photos") && !doc.contains("background_photos"), r.err.c_str());
    } else {
      QVERIFY2(doc["background_photos"] == nlohmann::json(installed), doc["background_photos"].dump().c_str());
      for (const auto& image : doc["images"]) QCOMPARE(image["background"].get<std::string>(), std::string("photo"));
    }
    for (const auto& args : {QStringList{"--backgrounds", "none"}, QStringList{"--style", "classic"}}) {
      const QString out = path("without_photos_" + args.last());
      const auto plain = run(QStringList{"shapes", "--out", out, "--count", "8", "--photo-share", "1"} + args);
      QVERIFY2(plain.code == 0, plain.err.c_str());
      const auto plain_doc = nlohmann::json::parse(read_file((out + "/dataset.json").toStdString()));
      QVERIFY2(!plain_doc.contains("background_photos"), plain.err.c_str());
      for (const auto& image : plain_doc["images"]) QVERIFY(image["background"].get<std::string>() != "photo");
    }
  }

  void a_model_trained_on_extracted_features_captions_image_files() {
    const QString data = path("photo_data");
    QDir().mkpath(data + "/images");
    const QStringList names = {"astronaut", "cat", "coffee", "rocket"};
    for (const auto& n : names)
      QFile::copy(QStringLiteral(CAPTIONER_TEST_DATA "/images/") + n + ".png", data + "/images/" + n + ".png");
    const auto x = run({"extract", "--images", data + "/images", "--out", data + "/image_codes.npy", "--pooled-only"});
    QVERIFY2(x.code == 0, x.err.c_str());
    // Captions in the extraction order (sorted file names), one distinct caption per photo.
    write_file_atomically((data + "/captions_tokenized.json").toStdString(),
                          R"([["a person in a space suit"], ["a cat lying on a sofa"], ["a cup of coffee on a plate"],
                              ["a rocket on a launch pad"]])");
    const QString model = path("photo_run");
    const auto t = run({"train", "--data", data, "--out", model, "--steps", "150", "--batch-size", "4", "--min-count", "1",
                        "--val-fraction", "0", "--lr", "0.01", "--hidden", "64", "--embed", "32"});
    QVERIFY2(t.code == 0, t.err.c_str());
    const auto c = run({"caption", data + "/images/cat.png", data + "/images/rocket.png", "--model", model});
    QVERIFY2(c.code == 0, c.err.c_str());
    QVERIFY2(contains(c.out, "a cat lying on a sofa"), c.out.c_str());
    QVERIFY2(contains(c.out, "a rocket on a launch pad"), c.out.c_str());
    // A bad image among good ones is reported and the rest still captioned.
    write_file_atomically(path("bad.png").toStdString(), "nope");
    const auto mixed = run({"caption", path("bad.png"), data + "/images/coffee.png", "--model", model});
    QCOMPARE(mixed.code, 1);
    QVERIFY(contains(mixed.err, "bad.png"));
    QVERIFY(contains(mixed.out, "a cup of coffee on a plate"));
    // Another encoder (here: random weights) is refused by name.
    captioner::InceptionV3 other;
    save_encoder(path("other_encoder.pt").toStdString(), other, "random weights");
    const auto mismatch = run({"caption", data + "/images/cat.png", "--model", model, "--encoder", path("other_encoder.pt")});
    QVERIFY(mismatch.code > 0);
    QVERIFY2(contains(mismatch.err, "was trained on features of encoder keras:"), mismatch.err.c_str());
    // A model trained on features of an unknown encoder refuses image files.
    QCOMPARE(run({"train", "--data", data_, "--out", path("synthetic_run"), "--steps", "1"}).code, 0);
    const auto refused = run({"caption", data + "/images/cat.png", "--model", path("synthetic_run")});
    QVERIFY(refused.code > 0);
    QVERIFY(contains(refused.err, "unknown encoder"));
    // And so does eval on a dataset whose images it would have to encode (it once accepted it).
    const QString karpathy = path("unknown_encoder_data");
    QDir().mkpath(karpathy + "/images");
    QFile::copy(data + "/images/cat.png", karpathy + "/images/cat.png");
    write_file_atomically((karpathy + "/dataset.json").toStdString(),
                          R"({"images": [{"filename": "cat.png", "split": "test", "sentences": [{"raw": "A cat."}]}]})");
    const auto eval = run({"eval", "--model", path("synthetic_run"), "--data", karpathy + "/dataset.json", "--images",
                           karpathy + "/images", "--split", "test"});
    QVERIFY(eval.code > 0);
    QVERIFY2(contains(eval.err, "unknown encoder"), eval.err.c_str());
  }

  void training_on_a_karpathy_dataset_extracts_features_first() {
    const QString root = path("karpathy");
    QDir().mkpath(root + "/images");
    for (const char* n : {"cat", "rocket"})
      QFile::copy(QStringLiteral(CAPTIONER_TEST_DATA "/images/") + n + ".png", root + "/images/" + n + ".png");
    write_file_atomically((root + "/dataset.json").toStdString(), R"({"images": [
      {"filename": "cat.png", "split": "train", "sentences": [{"raw": "A cat asleep on the couch."}]},
      {"filename": "ghost.jpg", "split": "train", "sentences": [{"raw": "An image that is not there."}]},
      {"filename": "rocket.png", "split": "train", "sentences": [{"raw": "A rocket ready for launch."}]}]})");
    const QString run_dir = path("karpathy_run");
    const auto t = run({"train", "--data", root + "/dataset.json", "--images", root + "/images", "--out", run_dir, "--steps",
                        "120", "--batch-size", "2", "--min-count", "1", "--lr", "0.01", "--hidden", "64", "--embed", "32"});
    QVERIFY2(t.code == 0, t.err.c_str());
    QVERIFY(contains(t.err, "ghost.jpg"));
    // The default layer for the bundled nsfwjs weights is mixed5, cached under its own name.
    QVERIFY(QFile::exists(run_dir + "/features-mixed5/pooled.npy"));
    QVERIFY(QFile::exists(run_dir + "/features-mixed5/grid.npy"));
    const auto c = run({"caption", root + "/images/rocket.png", "--model", run_dir});
    QVERIFY2(c.code == 0, c.err.c_str());
    QVERIFY2(contains(c.out, "a rocket ready for launch ."), c.out.c_str());
  }

  void caption_checks_its_inputs() {
    const QString out = path("small");
    QCOMPARE(run({"train", "--data", data_, "--out", out, "--steps", "2", "--hidden", "16", "--embed", "8"}).code, 0);
    const auto range = run({"caption", "--model", out, "--features", data_ + "/image_codes.npy", "--index", "999"});
    QVERIFY(range.code > 0);
    QVERIFY(contains(range.err, "no row 999"));
    std::vector<float> narrow(10, 0.f);
    write_npy_f32(path("narrow.npy").toStdString(), narrow.data(), {2, 5});
    const auto width = run({"caption", "--model", out, "--features", path("narrow.npy"), "--index", "0"});
    QVERIFY(width.code > 0);
    QVERIFY(contains(width.err, "narrow.npy"));
    QVERIFY(contains(width.err, "expects 64"));
  }
  // shapes -> train (attention, features extracted into the dataset's cache) -> caption with
  // maps as JSON and as PNG strips -> eval with the Shapes measures -> score its results.
  void shapes_attention_end_to_end() {
    const QString data = path("shapes");
    const auto g =
        run({"shapes", "--out", data, "--count", "40", "--seed", "3", "--val-fraction", "0.2", "--test-fraction", "0.2"});
    QVERIFY2(g.code == 0, g.err.c_str());
    const QString model = path("shapes_run");
    const auto t = run({"train", "--data",       data, "--out",       model, "--model",   "attention", "--steps",
                        "30",    "--batch-size", "8",  "--hidden",    "32",  "--embed",   "16",        "--attention-dim",
                        "16",    "--min-count",  "1",  "--val-every", "10",  "--max-len", "22"});
    QVERIFY2(t.code == 0, t.err.c_str());
    QVERIFY(QFile::exists(data + "/features-mixed5/grid.npy"));  // --layer auto: mixed5 for these weights

    const auto c = run({"caption", data + "/images/000001.png", "--model", model, "--mode", "beam", "--beam", "2", "--json",
                        "--attention-png", path("strips")});
    QVERIFY2(c.code == 0, c.err.c_str());
    const auto j = nlohmann::json::parse(c.out);
    QVERIFY(j.at("captions").size() >= 1 && j.at("captions").size() <= 2);
    const auto& tokens = j["captions"][0]["tokens"];
    QVERIFY(!tokens.empty());
    for (const auto& token : tokens) {
      if (token["word"] == "#END#") {
        QVERIFY(!token.contains("attention"));
        continue;
      }
      QCOMPARE(token.at("attention").size(), size_t(64));
      double sum = 0;
      for (double w : token["attention"]) sum += w;
      QVERIFY(std::abs(sum - 1) < 1e-3);
    }
    QVERIFY(QFileInfo(path("strips/000001.attention.png")).size() > 1000);

    // Several images with --json: JSON Lines, one object per image, in the order given.
    const auto lines = run({"caption", data + "/images/000001.png", data + "/images/000002.png", "--model", model, "--json"});
    QVERIFY2(lines.code == 0, lines.err.c_str());
    std::istringstream stream(lines.out);
    std::vector<std::string> images;
    for (std::string line; std::getline(stream, line);)
      images.push_back(nlohmann::json::parse(line).at("image").get<std::string>());
    QCOMPARE(images.size(), size_t{2});
    QVERIFY(contains(images[0], "000001.png") && contains(images[1], "000002.png"));

    const auto e = run({"eval", "--model", model, "--data", data, "--split", "test", "--beam", "2", "--json", "--max-len", "22",
                        "--results", path("results.json")});
    QVERIFY2(e.code == 0, e.err.c_str());
    const auto report = nlohmann::json::parse(e.out);
    for (const char* key : {"Bleu_1", "Bleu_4", "ROUGE_L", "CIDEr", "content_accuracy", "pointing_centre_baseline", "images",
                            "chair_i", "chair_s", "object_recall", "count_accuracy", "counting_captions", "repetition_rate"})
      QVERIFY2(report.contains(key), key);
    QVERIFY(report["images"].get<int>() > 0);
    QVERIFY(report["object_recall"].is_number());  // every test scene has objects

    const auto s = run({"score", "--references", data + "/dataset.json", "--results", path("results.json"), "--json"});
    QVERIFY2(s.code == 0, s.err.c_str());
    const auto scores = nlohmann::json::parse(s.out);
    for (const char* key : {"Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr"})
      QVERIFY(std::abs(scores.at(key).get<double>() - report.at(key).get<double>()) < 1e-9);

    // An LSTM model has no maps; results naming an unknown image are refused with the file's name.
    write_file_atomically(path("bad_results.json").toStdString(), R"([{"image_id": 99999, "caption": "a red circle"}])");
    const auto bad = run({"score", "--references", data + "/dataset.json", "--results", path("bad_results.json")});
    QVERIFY(bad.code > 0);
    QVERIFY2(contains(bad.err, "bad_results.json") && contains(bad.err, "99999"), bad.err.c_str());
  }

  // --layer mixed5: its own cache folder; caption, eval and --resume take the layer from the run.
  void a_mixed5_run_keeps_its_layer() {
    const QString data = path("shapes5");
    QCOMPARE(
        run({"shapes", "--out", data, "--count", "12", "--seed", "4", "--val-fraction", "0.25", "--test-fraction", "0.25"}).code,
        0);
    const QString model = path("shapes5_run");
    const QStringList common = {"--model",         "attention", "--batch-size", "4", "--hidden",    "16", "--embed",   "8",
                                "--attention-dim", "8",         "--min-count",  "1", "--val-every", "5",  "--max-len", "22"};
    const auto t = run(QStringList{"train", "--data", data, "--out", model, "--layer", "mixed5", "--steps", "5"} + common);
    QVERIFY2(t.code == 0, t.err.c_str());
    QCOMPARE(NpyArray::open((data + "/features-mixed5/grid.npy").toStdString()).shape(), (std::vector<int64_t>{12, 64, 768}));
    QVERIFY(!QFile::exists(data + "/features"));

    const auto c = run({"caption", data + "/images/000002.png", "--model", model, "--json"});
    QVERIFY2(c.code == 0, c.err.c_str());
    QCOMPARE(nlohmann::json::parse(c.out)["captions"][0]["tokens"][0]["attention"].size(), size_t(64));
    const auto e = run({"eval", "--model", model, "--data", data, "--split", "test", "--json", "--max-len", "22"});
    QVERIFY2(e.code == 0, e.err.c_str());

    const auto resumed = run({"train", "--data", data, "--out", model, "--resume", "--steps", "8"});
    QVERIFY2(resumed.code == 0, resumed.err.c_str());
    QVERIFY(!QFile::exists(data + "/features"));  // no mixed10 extraction for a mixed5 run
    const auto clash = run({"train", "--data", data, "--out", model, "--resume", "--steps", "9", "--layer", "mixed10"});
    QVERIFY(clash.code > 0);
    QVERIFY2(contains(clash.err, "--layer mixed10") && contains(clash.err, "mixed5"), clash.err.c_str());

    // Resuming on other data is refused before that data's features are extracted (which can
    // take hours), naming it.
    const QString other = path("shapes5_other");
    QCOMPARE(run({"shapes", "--out", other, "--count", "12", "--seed", "5"}).code, 0);
    const auto mismatch = run({"train", "--data", other, "--out", model, "--resume", "--steps", "10"});
    QCOMPARE(mismatch.code, 1);
    QVERIFY2(contains(mismatch.err, other.toStdString()) && contains(mismatch.err, "is not the dataset"), mismatch.err.c_str());
    QVERIFY(!QFile::exists(other + "/features-mixed5") && !QFile::exists(other + "/features"));
  }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
