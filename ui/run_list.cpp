#include "ui/run_list.h"

#include <QBrush>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QScrollBar>
#include <QSet>
#include <QSplitter>
#include <QTableWidget>
#include <QTimer>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include "core/run/run_folder.h"
#include "core/util/atomic_file.h"
#include "core/vision/grid_layer.h"
#include "ui/background.h"

namespace captioner::ui {

namespace {

enum Column { Name, Model, Layer, Steps, BestVal, Cider, Content, Pointing, Status, Batch, LearningRate, ColumnCount };

QString layer_of(const RunSummary& r) {
  if (r.config.encoder_id.empty()) return QStringLiteral("–");  // features of the dataset's own
  try {
    return QString::fromLatin1(grid_layer_name(grid_layer_of(r.config.encoder_id)));
  } catch (const std::exception&) {
    return QStringLiteral("?");
  }
}

QString score(const RunSummary& r, const char* key) {
  const auto it = r.evaluation.find(key);
  return it == r.evaluation.end() || std::isnan(it->second) ? QString() : QString::number(it->second, 'f', 3);
}

// The settings the comparison table shows, each as text.
std::vector<std::pair<QString, QString>> settings_of(const RunSummary& r) {
  const TrainConfig& c = r.config;
  const ModelConfig& m = c.model;
  return {{QObject::tr("model"), QString::fromStdString(m.kind)},
          {QObject::tr("layer"), layer_of(r)},
          {QObject::tr("hidden"), QString::number(m.hidden)},
          {QObject::tr("embedding"), QString::number(m.embed)},
          {QObject::tr("LSTM layers"), QString::number(m.layers)},
          {QObject::tr("dropout"), QString::number(m.dropout)},
          {QObject::tr("attention width"), m.kind == "attention" ? QString::number(m.attention_dim) : QString()},
          {QObject::tr("coverage"), m.kind == "attention" ? (m.coverage ? QObject::tr("yes") : QObject::tr("no")) : QString()},
          {QObject::tr("steps"), QString::number(c.steps)},
          {QObject::tr("batch"), QString::number(c.batch_size)},
          {QObject::tr("learning rate"), QString::number(c.lr, 'g', 4)},
          {QObject::tr("lr decay"),
           c.lr_decay == 1.0 ? QObject::tr("none") : QObject::tr("×%1 every %2").arg(c.lr_decay).arg(c.lr_decay_every)},
          {QObject::tr("max length"), QString::number(c.max_len)},
          {QObject::tr("min count"), QString::number(c.min_count)},
          {QObject::tr("validate every"), QString::number(c.val_every)},
          {QObject::tr("seed"), QString::number(c.seed)},
          {QObject::tr("threads"), c.threads == 0 ? QObject::tr("all") : QString::number(c.threads)}};
}

struct HistoryRead {
  History history;
  QString error;
};

}  // namespace

RunList::RunList(QWidget* parent) : QWidget(parent) {
  qRegisterMetaType<History>();
  tree_ = new QTreeWidget(this);
  tree_->setObjectName(QStringLiteral("runList"));
  tree_->setColumnCount(ColumnCount);
  tree_->setHeaderLabels({tr("Run"), tr("Model"), tr("Layer"), tr("Steps"), tr("Best val"), tr("CIDEr-D"), tr("Content"),
                          tr("Pointing"), tr("Status"), tr("Batch"), tr("LR")});
  tree_->setRootIsDecorated(false);
  tree_->setUniformRowHeights(true);
  tree_->setAlternatingRowColors(true);
  tree_->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
  tree_->setToolTip(tr("Check runs to draw their curves beside the live run"));
  connect(tree_, &QTreeWidget::itemChanged, this, &RunList::onItemChanged);
  connect(tree_, &QTreeWidget::itemSelectionChanged, this, &RunList::updateButtons);

  compare_ = new QTableWidget(this);
  compare_->setObjectName(QStringLiteral("runComparison"));
  compare_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  compare_->setToolTip(tr("The checked runs' settings; rows where they differ are highlighted"));
  compare_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);

  note_ = new QLabel(this);
  note_->setWordWrap(true);
  auto* refresh_button = new QPushButton(tr("Refresh"), this);
  connect(refresh_button, &QPushButton::clicked, this, &RunList::refresh);
  evaluate_ = new QPushButton(tr("Evaluate"), this);
  evaluate_->setObjectName(QStringLiteral("evaluateRun"));
  evaluate_->setToolTip(
      tr("Caption the dataset's test split with the selected run and score it "
         "(the same code as captioner eval)"));
  connect(evaluate_, &QPushButton::clicked, this, [this] { Q_EMIT evaluateRequested(selectedRun()); });
  report_ = new QPushButton(tr("Report…"), this);
  report_->setToolTip(tr("The selected run's latest evaluation, with its worst-captioned images"));
  connect(report_, &QPushButton::clicked, this, [this] { Q_EMIT reportRequested(selectedRun()); });
  continue_ = new QPushButton(tr("Continue training"), this);
  continue_->setToolTip(
      tr("Train the selected run further with its own settings: a stopped run to its planned "
         "steps, a finished one for as many more steps as the form's Steps"));
  connect(continue_, &QPushButton::clicked, this, [this] { Q_EMIT continueRequested(selectedRun()); });
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(refresh_button);
  buttons->addStretch(1);
  buttons->addWidget(evaluate_);
  buttons->addWidget(report_);
  buttons->addWidget(continue_);

  split_ = new QSplitter(Qt::Horizontal, this);
  split_->addWidget(tree_);
  split_->addWidget(compare_);
  split_->setStretchFactor(0, 1);
  split_->setStretchFactor(1, 0);
  split_->setChildrenCollapsible(false);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(buttons);
  layout->addWidget(note_);
  layout->addWidget(split_, 1);
  updateButtons();
}

QString RunList::label(const RunSummary& run) {
  return QStringLiteral("%1 · %2").arg(QFileInfo(QString::fromStdString(run.dir)).fileName(),
                                       QString::fromStdString(run.config.model.kind));
}

void RunList::setRunsDir(const QString& dir) {
  runs_dir_ = dir;
  refresh();
}

void RunList::refresh() {
  const int generation = ++generation_;
  run_off_gui_thread(
      this, [dir = runs_dir_.toStdString()] { return list_runs(dir); },
      [this, generation](const RunListing& listing) {
        if (generation == generation_) show(listing);
      });
}

void RunList::show(const RunListing& listing) {
  const QStringList checked = checkedRuns();
  const QString selected = selectedRun();
  runs_ = listing.runs;
  filling_ = true;
  tree_->clear();
  for (const auto& r : runs_) {
    auto* item = new QTreeWidgetItem(tree_);
    const QString dir = QString::fromStdString(r.dir);
    item->setData(Name, Qt::UserRole, dir);
    item->setText(Name, QFileInfo(dir).fileName());
    item->setToolTip(Name, QDir::toNativeSeparators(dir));
    item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
    item->setCheckState(Name, checked.contains(dir) ? Qt::Checked : Qt::Unchecked);
    item->setText(Model, QString::fromStdString(r.config.model.kind));
    item->setText(Layer, layer_of(r));
    item->setText(Steps, QStringLiteral("%1 / %2").arg(r.step).arg(r.config.steps));
    item->setText(Batch, QString::number(r.config.batch_size));
    item->setText(LearningRate, QString::number(r.config.lr, 'g', 3));
    item->setText(BestVal, std::isnan(r.best_val_loss) ? QStringLiteral("–") : QString::number(r.best_val_loss, 'f', 4));
    // A run that says "running" but is not the live one was interrupted (the app or machine quit).
    const bool live = dir == busy_run_;
    item->setText(Status, r.state == "running" && !live ? tr("interrupted") : QString::fromStdString(r.state));
    item->setText(Cider, score(r, "CIDEr"));
    item->setText(Content, score(r, "content_accuracy"));
    item->setText(Pointing, score(r, "pointing"));
    if (!r.evaluation.empty())
      for (int c : {Cider, Content, Pointing})
        item->setToolTip(c, tr("%1 split, %2 decoding")
                                .arg(QString::fromStdString(r.evaluation_split), QString::fromStdString(r.evaluation_decoding)));
    if (dir == selected) item->setSelected(true);
  }
  filling_ = false;
  note_->setText(listing.problems.empty()
                     ? QString()
                     : tr("Left out: %1").arg(QString::fromStdString(listing.problems.front())) +
                           (listing.problems.size() > 1 ? tr(" (and %1 more)").arg(listing.problems.size() - 1) : QString()));
  note_->setVisible(!listing.problems.empty());
  // Runs that were checked and are gone (deleted folders) leave the plot.
  for (const QString& dir : checked)
    if (!summary(dir)) Q_EMIT runHidden(dir);
  updateComparison();
  updateButtons();
  Q_EMIT listed(static_cast<int>(runs_.size()));
}

int RunList::runCount() const { return tree_->topLevelItemCount(); }

QString RunList::runDir(int row) const {
  const auto* item = tree_->topLevelItem(row);
  return item ? item->data(Name, Qt::UserRole).toString() : QString();
}

const RunSummary* RunList::summary(const QString& dir) const {
  for (const auto& r : runs_)
    if (QString::fromStdString(r.dir) == dir) return &r;
  return nullptr;
}

void RunList::setChecked(const QString& dir, bool checked) {
  for (int i = 0; i < tree_->topLevelItemCount(); ++i)
    if (runDir(i) == dir) tree_->topLevelItem(i)->setCheckState(Name, checked ? Qt::Checked : Qt::Unchecked);
}

QStringList RunList::checkedRuns() const {
  QStringList out;
  for (int i = 0; i < tree_->topLevelItemCount(); ++i)
    if (tree_->topLevelItem(i)->checkState(Name) == Qt::Checked) out << runDir(i);
  return out;
}

void RunList::select(const QString& dir) {
  for (int i = 0; i < tree_->topLevelItemCount(); ++i) tree_->topLevelItem(i)->setSelected(runDir(i) == dir);
}

QString RunList::selectedRun() const {
  const auto items = tree_->selectedItems();
  return items.isEmpty() ? QString() : items.front()->data(Name, Qt::UserRole).toString();
}

void RunList::setRunColor(const QString& dir, const QColor& color) {
  for (int i = 0; i < tree_->topLevelItemCount(); ++i)
    if (runDir(i) == dir) tree_->topLevelItem(i)->setForeground(Name, color.isValid() ? QBrush(color) : QBrush());
}

void RunList::setBusyRun(const QString& dir) {
  busy_run_ = dir;
  updateButtons();
}

void RunList::onItemChanged(QTreeWidgetItem* item, int column) {
  if (filling_ || column != Name) return;
  const QString dir = item->data(Name, Qt::UserRole).toString();
  if (item->checkState(Name) != Qt::Checked) {
    Q_EMIT runHidden(dir);
    updateComparison();
    return;
  }
  const RunSummary* run = summary(dir);
  const QString run_label = run ? label(*run) : QFileInfo(dir).fileName();
  run_off_gui_thread(
      this,
      [dir] {
        HistoryRead read;
        try {
          const std::string path = RunFolder(dir.toStdString()).history();
          read.history = History::from_csv(read_file(path), path);
        } catch (const std::exception& e) {
          read.error = QString::fromStdString(e.what());
        }
        return read;
      },
      [this, dir, run_label](const HistoryRead& read) {
        if (!checkedRuns().contains(dir)) return;  // unchecked while it was read
        if (!read.error.isEmpty()) {
          setChecked(dir, false);
          Q_EMIT errorOccurred(read.error);
          return;
        }
        Q_EMIT runShown(dir, run_label, read.history);
      });
  updateComparison();
}

void RunList::updateComparison() {
  std::vector<const RunSummary*> shown;
  for (const QString& dir : checkedRuns())
    if (const RunSummary* r = summary(dir)) shown.push_back(r);
  compare_->clear();
  compare_->setVisible(!shown.empty());
  if (shown.empty()) return;
  const auto names = settings_of(*shown.front());
  compare_->setRowCount(static_cast<int>(names.size()));
  compare_->setColumnCount(static_cast<int>(shown.size()));
  QStringList rows, columns;
  for (const auto& [name, value] : names) rows << name;
  for (const RunSummary* r : shown) columns << QFileInfo(QString::fromStdString(r->dir)).fileName();
  compare_->setVerticalHeaderLabels(rows);
  compare_->setHorizontalHeaderLabels(columns);
  std::vector<std::vector<std::pair<QString, QString>>> values;
  values.reserve(static_cast<size_t>(shown.size()));
  for (const RunSummary* r : shown) values.push_back(settings_of(*r));
  for (int row = 0; row < static_cast<int>(names.size()); ++row) {
    QSet<QString> distinct;
    for (const auto& v : values) distinct.insert(v[static_cast<size_t>(row)].second);
    const bool differs = distinct.size() > 1;
    for (int col = 0; col < static_cast<int>(values.size()); ++col) {
      auto* cell = new QTableWidgetItem(values[static_cast<size_t>(col)][static_cast<size_t>(row)].second);
      if (differs) {
        QFont bold = cell->font();
        bold.setBold(true);
        cell->setFont(bold);
        cell->setBackground(QColor(255, 236, 179));
        cell->setData(Qt::UserRole, true);  // "differs", for tests and accessibility
      }
      compare_->setItem(row, col, cell);
    }
  }
  // After the layout has settled: the table's and the splitter's widths are known only then.
  QTimer::singleShot(0, this, &RunList::fitComparison);
}

void RunList::showEvent(QShowEvent* event) {
  QWidget::showEvent(event);
  QTimer::singleShot(0, this, &RunList::fitComparison);
}

void RunList::fitComparison() {
  if (!compare_->isVisible()) return;
  compare_->resizeColumnsToContents();
  int needed = compare_->verticalHeader()->sizeHint().width() + 2 * compare_->frameWidth();
  for (int col = 0; col < compare_->columnCount(); ++col) needed += compare_->columnWidth(col);
  if (compare_->verticalScrollBar()->isVisible() ||
      compare_->rowCount() * compare_->rowHeight(0) > compare_->viewport()->height())
    needed += compare_->verticalScrollBar()->sizeHint().width();
  const int total = split_->width() - split_->handleWidth();
  if (total <= 0) return;
  const int wanted = std::min(needed, total * 3 / 5);
  split_->setSizes({total - wanted, wanted});
}

void RunList::updateButtons() {
  const QString dir = selectedRun();
  const RunSummary* run = summary(dir);
  const bool idle = !dir.isEmpty() && dir != busy_run_;
  evaluate_->setEnabled(run && idle && RunFolder(dir.toStdString()).has_checkpoint());
  report_->setEnabled(run && !run->evaluation.empty());
  continue_->setEnabled(run && idle && busy_run_.isEmpty() && run->state != "failed" &&
                        RunFolder(dir.toStdString()).has_checkpoint());
}

}  // namespace captioner::ui
