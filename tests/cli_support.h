#pragma once
// Running the `captioner` executable from a test: exit code and output.
#include <QProcess>
#include <QStringList>

#include <string>

namespace captioner::test {

struct Run {
  int code = -1;  // -2: crashed; -1: timed out
  std::string out, err;
};

inline Run run(const QStringList& args, int timeout_ms = 300000) {
  QProcess p;
  p.start(QStringLiteral(CAPTIONER_EXE), args);
  Run r;
  if (!p.waitForFinished(timeout_ms)) {
    p.kill();
    p.waitForFinished();
    r.err = "timed out";
    return r;
  }
  r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
  r.out = p.readAllStandardOutput().toStdString();
  r.err = p.readAllStandardError().toStdString();
  return r;
}

// A small attention model (mixed5 grid) trained on `count` Shapes scenes in `dir`: the run
// folder, or an empty string with the failure in `error`.
inline QString train_small_shapes_model(const QString& dir, std::string* error, int count = 24) {
  const QString data = dir + "/shapes";
  const Run made = run({"shapes", "--out", data, "--count", QString::number(count), "--seed", "3", "--val-fraction", "0.2",
                        "--test-fraction", "0.2"});
  if (made.code != 0) return *error = made.err, QString();
  const QString model = dir + "/run";
  const Run trained = run({"train", "--data", data, "--out", model, "--model", "attention", "--layer", "mixed5", "--steps", "30",
                           "--batch-size", "8", "--val-every", "30"});
  if (trained.code != 0) return *error = trained.err, QString();
  return model;
}

}  // namespace captioner::test
