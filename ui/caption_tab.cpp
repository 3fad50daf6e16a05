#include "ui/caption_tab.h"

#include <QApplication>
#include <QClipboard>
#include <QDateTime>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFile>
#include <QFileInfo>
#include <QKeyEvent>
#include <QLabel>
#include <QListWidget>
#include <QMimeData>
#include <QProgressBar>
#include <QSettings>
#include <QShortcut>
#include <QSplitter>
#include <QStandardPaths>
#include <QThread>
#include <QVBoxLayout>

#include <algorithm>

#include "core/data/tokenizer.h"
#include "core/infer/caption_service.h"
#include "ui/caption_worker.h"
#include "ui/decoding_controls.h"
#include "ui/heatmap_view.h"
#include "ui/image_list.h"
#include "ui/word_bar.h"

namespace captioner::ui {

CaptionTab::CaptionTab(QWidget* parent) : QWidget(parent), next_seed_(static_cast<quint64>(QDateTime::currentMSecsSinceEpoch())) {
  qRegisterMetaType<CaptionJob>();
  qRegisterMetaType<CaptionOutcome>();
  qRegisterMetaType<ModelOutcome>();
  setAcceptDrops(true);
  model_label_ = new QLabel(tr("No model yet: train one in the Training tab, or File ▸ Open model."), this);
  model_label_->setObjectName(QStringLiteral("modelLabel"));
  model_label_->setWordWrap(true);
  busy_ = new QProgressBar(this);
  busy_->setObjectName(QStringLiteral("captionBusy"));
  busy_->setRange(0, 0);  // an indeterminate "working" bar
  busy_->setMaximumHeight(busy_->fontMetrics().height());
  busy_->setTextVisible(false);
  busy_->setVisible(false);
  unfamiliar_ = new QLabel(this);
  unfamiliar_->setObjectName(QStringLiteral("unfamiliarNotice"));
  unfamiliar_->setWordWrap(true);
  unfamiliar_->setStyleSheet(QStringLiteral("QLabel { background: #fff4ce; color: #5c4400; padding: 4px; border-radius: 3px; }"));
  unfamiliar_->setVisible(false);
  images_ = new ImageList(this);
  decoding_ = new DecodingControls(this);
  captions_ = new QListWidget(this);
  captions_->setObjectName(QStringLiteral("captionList"));
  captions_->setWordWrap(true);  // long captions wrap instead of being cut
  captions_->setToolTip(tr("Captions, best first, with their log-probability"));
  words_ = new WordBar(this);
  heatmap_ = new HeatmapView(this);
  buildLayout();
  connect(images_, &ImageList::imageChosen, this, &CaptionTab::showImage);
  connect(images_, &ImageList::errorOccurred, this, &CaptionTab::errorOccurred);
  connect(decoding_, &DecodingControls::changed, this, &CaptionTab::recaption);
  connect(captions_, &QListWidget::currentRowChanged, this, [this](int row) {
    if (row < 0 || row >= static_cast<int>(results_.size())) return;
    caption_ = row;
    word_ = 0;
    showResults();
  });
  connect(words_, &WordBar::wordClicked, this, &CaptionTab::selectWord);
  connect(heatmap_, &HeatmapView::playStarted, this, [this] { selectWord(0); });
  connect(heatmap_, &HeatmapView::playStep, this, [this] {
    if (word_ + 1 >= wordCount())
      heatmap_->stopPlaying();
    else
      selectWord(word_ + 1);
  });
  setFocusPolicy(Qt::StrongFocus);
  // ← → step through the words whatever has focus in the tab (widgets that use the arrows
  // themselves, such as spin boxes, keep them).
  auto* next = new QShortcut(QKeySequence(Qt::Key_Right), this, [this] { selectWord(word_ + 1); });
  next->setContext(Qt::WidgetWithChildrenShortcut);
  auto* previous = new QShortcut(QKeySequence(Qt::Key_Left), this, [this] { selectWord(word_ - 1); });
  previous->setContext(Qt::WidgetWithChildrenShortcut);
  startWorker();
  showResults();
}

CaptionTab::~CaptionTab() {
  thread_->quit();
  thread_->wait();
}

void CaptionTab::startWorker() {
  thread_ = new QThread(this);
  thread_->setObjectName(QStringLiteral("captioning"));
  worker_ = new CaptionWorker;
  worker_->moveToThread(thread_);
  connect(thread_, &QThread::finished, worker_, &QObject::deleteLater);
  connect(this, &CaptionTab::requestModel, worker_, &CaptionWorker::loadModel, Qt::QueuedConnection);
  connect(this, &CaptionTab::requestCaption, worker_, &CaptionWorker::caption, Qt::QueuedConnection);
  connect(worker_, &CaptionWorker::modelLoaded, this, &CaptionTab::onModelLoaded, Qt::QueuedConnection);
  connect(worker_, &CaptionWorker::captioned, this, &CaptionTab::onCaptioned, Qt::QueuedConnection);
  thread_->start();
}

void CaptionTab::setBusy(int delta) {
  pending_ += delta;
  busy_->setVisible(pending_ > 0);
}

void CaptionTab::buildLayout() {
  auto* left_widget = new QWidget(this);
  auto* left = new QVBoxLayout(left_widget);
  left->addWidget(model_label_);
  left->addWidget(busy_);
  left->addWidget(unfamiliar_);
  left->addWidget(decoding_);
  left->addWidget(new QLabel(tr("Captions"), this));
  left->addWidget(captions_, 1);
  auto* right_widget = new QWidget(this);
  auto* right = new QVBoxLayout(right_widget);
  right->addWidget(words_);
  right->addWidget(heatmap_, 1);
  auto* split = new QSplitter(Qt::Horizontal, this);
  split->addWidget(left_widget);
  split->addWidget(right_widget);
  split->setStretchFactor(1, 1);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(images_);
  layout->addWidget(split, 1);
}

void CaptionTab::loadModel(const QString& path) {
  model_label_->setText(tr("Loading %1…").arg(QDir::toNativeSeparators(path)));
  setBusy(+1);
  Q_EMIT requestModel(path);
}

void CaptionTab::onModelLoaded(const ModelOutcome& outcome) {
  const ModelOutcome& m = outcome;
  setBusy(-1);
  if (!m.ok) {
    model_label_->setText(model_path_.isEmpty()
                              ? tr("No model yet: train one in the Training tab, or File ▸ Open model.")
                              : tr("Model: %1 (%2)").arg(QDir::toNativeSeparators(model_path_), model_summary_));
    Q_EMIT errorOccurred(tr("Cannot use this model: %1").arg(m.error));
    Q_EMIT modelLoaded(m.path, false);
    return;
  }
  model_path_ = m.path;
  model_summary_ = m.summary;
  has_model_ = true;
  attends_ = m.attends;
  model_label_->setText(tr("Model: %1 (%2)").arg(QDir::toNativeSeparators(m.path), m.summary));
  recaption();
  Q_EMIT modelLoaded(m.path, true);
}

int CaptionTab::addImages(const QStringList& paths) { return images_->addImages(paths); }

int CaptionTab::addMimeData(const QMimeData* mime) {
  if (mime == nullptr) return 0;
  if (mime->hasUrls()) {
    QStringList files;
    for (const QUrl& url : mime->urls())
      if (url.isLocalFile()) files << url.toLocalFile();
    if (!files.isEmpty()) return addImages(files);
  }
  if (mime->hasImage()) {
    const QImage image = qvariant_cast<QImage>(mime->imageData());
    if (image.isNull()) return 0;
    const QString dir = QStandardPaths::writableLocation(QStandardPaths::CacheLocation) + QStringLiteral("/pasted");
    QDir().mkpath(dir);
    const QString path = dir + QStringLiteral("/pasted-%1.png").arg(QDateTime::currentMSecsSinceEpoch());
    if (!image.save(path)) {
      Q_EMIT errorOccurred(tr("%1: cannot save the pasted image").arg(path));
      return 0;
    }
    return addImages({path});
  }
  return 0;
}

void CaptionTab::paste() { addMimeData(QApplication::clipboard()->mimeData()); }

void CaptionTab::dragEnterEvent(QDragEnterEvent* event) {
  if (event->mimeData()->hasUrls() || event->mimeData()->hasImage()) event->acceptProposedAction();
}

void CaptionTab::dropEvent(QDropEvent* event) {
  if (addMimeData(event->mimeData()) > 0) event->acceptProposedAction();
}

void CaptionTab::setMode(const QString& mode) { decoding_->setMode(mode); }
void CaptionTab::setTemperature(double t) { decoding_->setTemperature(t); }
double CaptionTab::temperature() const { return decoding_->temperature(); }

void CaptionTab::showImage(const QString& path) {
  image_path_ = path;
  recaption();
}

void CaptionTab::recaption() {
  if (image_path_.isEmpty()) {
    results_.clear();
    showResults();
    return;
  }
  CaptionJob job;
  job.generation = ++generation_;
  job.image_path = image_path_;
  job.decoding = decoding_->options();
  job.decoding.seed = next_seed_++;
  worker_->supersede(job.generation);
  if (!waiting_) setBusy(+1);
  waiting_ = true;
  Q_EMIT requestCaption(job);
}

void CaptionTab::onCaptioned(const CaptionOutcome& out) {
  if (out.generation != generation_) return;  // a newer request is on its way
  if (waiting_) setBusy(-1);
  waiting_ = false;
  image_ = out.image;
  results_ = out.results;
  // Best first: samples are drawn in no order, beams come sorted already.
  std::stable_sort(results_.begin(), results_.end(),
                   [](const CaptionResult& a, const CaptionResult& b) { return a.log_prob > b.log_prob; });
  // The word probabilities say how sure the model is of its words, not whether it has ever seen
  // anything like this image.
  const ImageFamiliarity& f = out.familiarity;
  unfamiliar_->setVisible(f.known && f.unlike_training);
  if (f.known && f.unlike_training)
    unfamiliar_->setText(tr("This image looks unlike the images the model was trained on (similarity %1 to the nearest "
                            "of them, where 99 % of training images have one at %2 or more), so its caption may be wrong "
                            "however sure the words look.")
                             .arg(f.nearest, 0, 'f', 2)
                             .arg(f.typical, 0, 'f', 2));
  caption_ = 0;
  word_ = 0;
  if (!out.error.isEmpty()) Q_EMIT errorOccurred(out.error);
  showResults();
  Q_EMIT captioned(captionTexts());
}

QString CaptionTab::unfamiliarNotice() const { return unfamiliar_->isVisibleTo(this) ? unfamiliar_->text() : QString(); }

QString CaptionTab::readable(const std::string& text) { return QString::fromStdString(readable_caption(text)); }

QStringList CaptionTab::captionTexts() const {
  QStringList out;
  for (const auto& r : results_) out << readable(r.text);
  return out;
}

std::vector<CaptionWord> CaptionTab::shownWords() const {
  return caption_ < static_cast<int>(results_.size()) ? results_[static_cast<size_t>(caption_)].words()
                                                      : std::vector<CaptionWord>{};
}

int CaptionTab::wordCount() const { return static_cast<int>(shownWords().size()); }

void CaptionTab::showResults() {
  {
    const QSignalBlocker block(captions_);
    captions_->clear();
    for (const auto& r : results_) {
      const QString score = QStringLiteral("log\u00a0p\u00a0%1").arg(r.log_prob, 0, 'f', 2);
      auto* item = new QListWidgetItem(r.unsure ? tr("%1   (%2, not sure)").arg(readable(r.text), score)
                                                : QStringLiteral("%1   (%2)").arg(readable(r.text), score),
                                       captions_);
      item->setToolTip(r.unsure ? tr("%1\nThe model gave these words %2 per word on average: less than it gives most "
                                     "right captions. Check the caption.")
                                      .arg(readable(r.text))
                                      .arg(r.mean_log_prob, 0, 'f', 2)
                                : readable(r.text));
    }
    if (!results_.empty()) captions_->setCurrentRow(caption_);
  }
  words_->setWords(shownWords());
  showWord();
}

void CaptionTab::selectWord(int index) {
  if (wordCount() == 0) return;
  word_ = std::clamp(index, 0, wordCount() - 1);
  showWord();
}

QString CaptionTab::note() const {
  if (!has_model_) return tr("No model loaded yet.");
  if (!attends_)
    return tr(
        "This is an LSTM model: it reads one vector for the whole image, so it has no attention "
        "map to show. Train an attention model to see where it looks.");
  const auto words = shownWords();
  if (words.empty()) return QString();
  return tr("Where the model looked for “%1” (← → to step through the words)")
      .arg(QString::fromStdString(words[static_cast<size_t>(word_)].word));
}

void CaptionTab::showWord() {
  words_->setSelected(word_);
  heatmap_->show(image_, shownWords(), word_, image_.isNull() ? QString() : note());
}

QImage CaptionTab::heatmapImage() const { return heatmap_->overlay(); }

bool CaptionTab::exportStrip(const QString& path) const { return heatmap_->exportStrip(path); }

bool CaptionTab::exportJson(const QString& path) const {
  QFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate)) return false;
  const std::string json = captions_to_json(results_, image_path_.toStdString());
  return file.write(json.data(), static_cast<qint64>(json.size())) == static_cast<qint64>(json.size());
}

void CaptionTab::saveSettings() const {
  QSettings s;
  s.beginGroup(QStringLiteral("caption"));
  save_settings(s, decoding_->settings());
  save_settings(s, heatmap_->settings());
  s.setValue(QStringLiteral("model"), model_path_);
  s.endGroup();
}

void CaptionTab::loadSettings() {
  QSettings s;
  s.beginGroup(QStringLiteral("caption"));
  load_settings(s, decoding_->settings());
  load_settings(s, heatmap_->settings());
  const QString model = s.value(QStringLiteral("model")).toString();
  s.endGroup();
  if (!model.isEmpty() && QFileInfo::exists(model)) loadModel(model);
}

}  // namespace captioner::ui
