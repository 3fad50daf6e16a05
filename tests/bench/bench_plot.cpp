// How long the Training tab's loss plot takes to draw N points (default 100,000), offscreen:
// appending them in the batches the training thread sends, then full redraws (median of 7).
//   QT_QPA_PLATFORM=offscreen build/tests/bench/bench_plot [points]
#include <QApplication>
#include <QElapsedTimer>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "ui/loss_plot.h"
#include "ui/train_worker.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  const int points = argc > 1 ? std::atoi(argv[1]) : 100000;
  captioner::ui::LossPlot plot;
  plot.resize(1000, 600);
  plot.show();
  QElapsedTimer clock;
  clock.start();
  QVector<captioner::ui::TrainPoint> batch;
  for (int i = 1; i <= points; ++i) {
    const double loss = 4.0 * std::exp(-i / 20000.0) + 0.5 + 0.3 * std::sin(i * 0.37);
    batch.push_back({i, i * 0.01, loss, i % 100 == 0 ? loss - 0.1 : std::nan("")});
    if (batch.size() == 64) {
      plot.append(batch);
      batch.clear();
    }
  }
  if (!batch.isEmpty()) plot.append(batch);
  const double append_ms = static_cast<double>(clock.nsecsElapsed()) / 1e6;
  std::vector<double> redraws;
  for (int r = 0; r < 7; ++r) redraws.push_back(plot.redrawNow());
  std::sort(redraws.begin(), redraws.end());
  std::printf("points %d  append (batches of 64) %.1f ms total  full redraw median %.1f ms (min %.1f, max %.1f)\n", points,
              append_ms, redraws[3], redraws.front(), redraws.back());
  return 0;
}
