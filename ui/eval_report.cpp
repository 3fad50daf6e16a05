#include "ui/eval_report.h"

#include <nlohmann/json.hpp>

#include <QDialogButtonBox>
#include <QDir>
#include <QFileInfo>
#include <QImage>
#include <QImageReader>
#include <QLabel>
#include <QListWidget>
#include <QPixmap>
#include <QVBoxLayout>

#include <cmath>

#include "core/util/atomic_file.h"
#include "ui/background.h"
#include "ui/evaluator.h"

namespace captioner::ui {

namespace {

QString number(const nlohmann::json& j, const char* key, int decimals = 3) {
  if (!j.contains(key) || !j.at(key).is_number()) return QStringLiteral("–");
  return QString::number(j.at(key).get<double>(), 'f', decimals);
}

QString scores_html(const nlohmann::json& j) {
  QString html = EvalReport::tr("<p>%1 images, %2 split, %3 decoding</p>")
                     .arg(j.value("images", 0))
                     .arg(QString::fromStdString(j.value("split", std::string("?"))),
                          QString::fromStdString(j.value("decoding", std::string("?"))));
  html += QStringLiteral("<table cellspacing=\"6\">");
  auto row = [&](const QString& name, const QString& value, const QString& tip = QString()) {
    html += QStringLiteral("<tr><td>%1</td><td align=\"right\"><b>%2</b></td><td><i>%3</i></td></tr>").arg(name, value, tip);
  };
  row(QStringLiteral("BLEU-1 / 2 / 3 / 4"),
      QStringLiteral("%1 / %2 / %3 / %4")
          .arg(number(j, "Bleu_1"), number(j, "Bleu_2"), number(j, "Bleu_3"), number(j, "Bleu_4")));
  row(QStringLiteral("ROUGE-L"), number(j, "ROUGE_L"));
  row(QStringLiteral("CIDEr-D"), number(j, "CIDEr"));
  if (j.contains("content_accuracy")) {
    row(EvalReport::tr("Content accuracy"), number(j, "content_accuracy"),
        EvalReport::tr("captions naming exactly the scene's objects"));
    row(EvalReport::tr("Pointing game"), number(j, "pointing"),
        EvalReport::tr("centre-cell baseline %1").arg(number(j, "pointing_centre_baseline")));
    row(EvalReport::tr("CHAIR-i / CHAIR-s"), QStringLiteral("%1 / %2").arg(number(j, "chair_i"), number(j, "chair_s")),
        EvalReport::tr("objects named that are not there"));
    row(EvalReport::tr("Object recall"), number(j, "object_recall"));
  }
  return html + QStringLiteral("</table>");
}

struct Thumbnail {
  int row = 0;
  QImage image;
};

}  // namespace

EvalReport::EvalReport(const QString& run_dir, QWidget* parent) : QDialog(parent) {
  setWindowTitle(tr("Evaluation of %1").arg(QFileInfo(run_dir).fileName()));
  nlohmann::json j;
  const QString path = Evaluator::evaluationPath(run_dir);
  try {
    j = nlohmann::json::parse(read_file(path.toStdString()));
  } catch (const std::exception& e) {
    error_ = tr("%1: cannot read the evaluation (%2)").arg(path, QString::fromStdString(e.what()));
    return;
  }
  scores_text_ = scores_html(j);
  auto* scores = new QLabel(scores_text_, this);
  scores->setObjectName(QStringLiteral("scores"));
  scores->setTextInteractionFlags(Qt::TextSelectableByMouse);
  worst_ = new QListWidget(this);
  worst_->setObjectName(QStringLiteral("worstImages"));
  worst_->setIconSize(QSize(96, 96));
  worst_->setWordWrap(true);
  worst_->setToolTip(tr("Double-click an image to open it in the Caption tab"));
  QStringList files;
  for (const auto& w : j.value("worst", nlohmann::json::array())) {
    const QString file = QString::fromStdString(w.value("file", std::string()));
    QString text = tr("%1\n“%2”\nreference: %3")
                       .arg(QFileInfo(file).fileName(), QString::fromStdString(w.value("caption", std::string())),
                            QString::fromStdString(w.value("reference", std::string())));
    if (w.contains("names_exactly") && !w.value("names_exactly", true)) text += tr("\nnames the wrong objects");
    auto* item = new QListWidgetItem(text, worst_);
    item->setData(Qt::UserRole, file);
    item->setToolTip(QDir::toNativeSeparators(file));
    files << file;
  }
  connect(worst_, &QListWidget::itemActivated, this,
          [this](QListWidgetItem* item) { Q_EMIT openImage(item->data(Qt::UserRole).toString()); });
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(scores);
  layout->addWidget(new QLabel(tr("Worst-captioned images, worst first:"), this));
  layout->addWidget(worst_, 1);
  layout->addWidget(buttons);
  resize(640, 720);

  for (int row = 0; row < files.size(); ++row) {
    run_off_gui_thread(
        this,
        [row, file = files[row]] {
          QImageReader reader(file);
          reader.setAutoTransform(true);
          const QImage image = reader.read();
          return Thumbnail{row, image.isNull() ? QImage() : image.scaled(96, 96, Qt::KeepAspectRatio, Qt::SmoothTransformation)};
        },
        [this](const Thumbnail& t) {
          if (auto* item = worst_->item(t.row); item && !t.image.isNull()) item->setIcon(QPixmap::fromImage(t.image));
        });
  }
}

}  // namespace captioner::ui
