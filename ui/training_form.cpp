#include "ui/training_form.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QSpinBox>
#include <QStandardItemModel>

#include <algorithm>

#include "core/train/recipe.h"
#include "core/util/precision.h"
#include "core/util/runtime.h"

namespace captioner::ui {

namespace {

QSpinBox* spin(int lo, int hi, int value, const QString& tip, QWidget* parent) {
  auto* s = new QSpinBox(parent);
  s->setRange(lo, hi);
  s->setValue(value);
  s->setToolTip(tip);
  return s;
}

QDoubleSpinBox* real(double lo, double hi, double step, int decimals, double value, const QString& tip, QWidget* parent) {
  auto* s = new QDoubleSpinBox(parent);
  s->setDecimals(decimals);
  s->setRange(lo, hi);
  s->setSingleStep(step);
  s->setValue(value);
  s->setToolTip(tip);
  return s;
}

}  // namespace

TrainingForm::TrainingForm(QWidget* parent) : QGroupBox(tr("Model and training"), parent) {
  const TrainConfig defaults = recommended_config();
  auto* form = new QFormLayout(this);
  addModelFields(form, defaults);
  addTrainingFields(form, defaults);
  connect(kind_, &QComboBox::currentIndexChanged, this, [this] { setLocked(locked_); });
  connect(preset_, &QComboBox::currentIndexChanged, this, &TrainingForm::applyPreset);
  for (QSpinBox* s : {steps_, batch_, val_every_}) connect(s, &QSpinBox::valueChanged, this, &TrainingForm::showMatchingPreset);
  showMatchingPreset();
  connect(layer_, &QComboBox::currentIndexChanged, this, &TrainingForm::layerChanged);
  connect(min_count_, &QSpinBox::valueChanged, this, &TrainingForm::minCountChanged);
  setLocked(false);
}

void TrainingForm::addModelFields(QFormLayout* form, const TrainConfig& defaults) {
  kind_ = new QComboBox(this);
  kind_->addItem(tr("Attention (looks at the 8×8 grid)"), QStringLiteral("attention"));
  kind_->addItem(tr("LSTM (image vector only)"), QStringLiteral("lstm"));
  kind_->setToolTip(tr("The attention model shows where it looks for every word"));
  kind_->setCurrentIndex(kind_->findData(QString::fromStdString(defaults.model.kind)));
  layer_ = new QComboBox(this);
  layer_->setObjectName(QStringLiteral("layer"));
  // Index order kept for saved settings: an older index 1 was mixed5.
  layer_->addItem(tr("Automatic (follows the weights)"), QStringLiteral("auto"));
  layer_->addItem(tr("mixed5 (8×8×768, sees colour)"), QStringLiteral("mixed5"));
  layer_->addItem(tr("mixed10 (standard 8×8×2048 grid)"), QStringLiteral("mixed10"));
  layer_->setCurrentIndex(layer_->findData(QString::fromLatin1(kRecommendedLayerChoice)));
  layer_->setToolTip(
      tr("Inception-v3 layer whose 8×8 grid the model reads. The bundled nsfwjs weights' layers after "
         "mixed5 were fine-tuned away from colour: on Shapes, mixed5 names colours far more reliably "
         "(content accuracy 0.92 against 0.47), so Automatic picks mixed5 for them and mixed10 for "
         "torchvision's weights"));
  for (QComboBox* box : {kind_, layer_}) {  // long item texts do not widen the form
    box->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    box->setMinimumContentsLength(16);
  }
  hidden_ = spin(8, 4096, static_cast<int>(defaults.model.hidden), tr("LSTM hidden size"), this);
  embed_ = spin(8, 4096, static_cast<int>(defaults.model.embed), tr("Word embedding size"), this);
  layers_ = spin(1, 8, static_cast<int>(defaults.model.layers), tr("LSTM layers (the attention model has one)"), this);
  dropout_ = real(0, 0.9, 0.05, 2, defaults.model.dropout, tr("Dropout on embeddings and hidden states"), this);
  form->addRow(tr("Model"), kind_);
  form->addRow(tr("Encoder layer"), layer_);
  form->addRow(tr("Hidden size"), hidden_);
  form->addRow(tr("Embedding size"), embed_);
  form->addRow(tr("Layers"), layers_);
  form->addRow(tr("Dropout"), dropout_);
}

void TrainingForm::addTrainingFields(QFormLayout* form, const TrainConfig& defaults) {
  preset_ = new QComboBox(this);
  preset_->setObjectName(QStringLiteral("preset"));
  for (const auto& p : train_presets()) {
    QString name = QString::fromStdString(p.name);
    name[0] = name[0].toUpper();
    preset_->addItem(name, QString::fromStdString(p.name));
    preset_->setItemData(preset_->count() - 1, QString::fromStdString(p.summary), Qt::ToolTipRole);
  }
  preset_->addItem(tr("Custom"), QString());
  preset_->setToolTip(
      tr("Sets steps, batch size and validation cadence together (the same presets as "
         "captioner train --preset)"));
  batch_ = spin(1, 4096, static_cast<int>(defaults.batch_size), tr("Distinct images per batch, one random caption each"), this);
  lr_ = real(1e-5, 1.0, 1e-4, 5, defaults.lr, tr("Adam learning rate (halved at 40 % and 80 % of the steps)"), this);
  max_len_ = spin(3, 200, static_cast<int>(defaults.max_len), tr("Tokens per caption, START and END included"), this);
  min_count_ = spin(1, 1000, static_cast<int>(defaults.min_count), tr("Vocabulary: words seen at least this often"), this);
  val_every_ = spin(1, 100000, static_cast<int>(defaults.val_every), tr("Steps between validations"), this);
  steps_ = spin(1, 10000000, static_cast<int>(defaults.steps), tr("Training steps"), this);
  steps_->setObjectName(QStringLiteral("steps"));
  batch_->setObjectName(QStringLiteral("batch"));
  threads_ = spin(0, 256, 0, tr("CPU threads (0 = all cores)"), this);
  device_ = new QComboBox(this);
  device_->addItem(tr("CPU"), QStringLiteral("cpu"));
  device_->addItem(tr("CUDA GPU"), QStringLiteral("cuda"));
  const bool cuda = cuda_available();
  if (!cuda) qobject_cast<QStandardItemModel*>(device_->model())->item(1)->setEnabled(false);
  device_->setCurrentIndex(cuda ? 1 : 0);
  device_->setToolTip(cuda ? tr("Where training runs") : tr("This build of LibTorch has no CUDA, or no GPU was found"));
  form->addRow(tr("Preset"), preset_);
  form->addRow(tr("Batch size"), batch_);
  form->addRow(tr("Learning rate"), lr_);
  form->addRow(tr("Max length"), max_len_);
  form->addRow(tr("Min word count"), min_count_);
  form->addRow(tr("Validate every"), val_every_);
  form->addRow(tr("Steps"), steps_);
  precision_ = new QComboBox(this);
  precision_->setObjectName(QStringLiteral("precision"));
  const bool native_bf16 = cpu_has_native_bf16();
  precision_->addItem(native_bf16 ? tr("Automatic (bf16 on this CPU)") : tr("Automatic (fp32 on this CPU)"),
                      QStringLiteral("auto"));
  precision_->addItem(tr("fp32"), QStringLiteral("fp32"));
  precision_->addItem(tr("bf16 mixed"), QStringLiteral("bf16"));
  precision_->setToolTip(
      tr("Matrix products on the CPU: bf16 operands with fp32 accumulation (weights, optimizer, "
         "loss and checkpoints stay fp32), about twice as fast where the CPU has bf16 units "
         "(AVX512-BF16 or AMX); Automatic uses them where they exist"));
  form->addRow(tr("Device"), device_);
  form->addRow(tr("Precision"), precision_);
  form->addRow(tr("CPU threads"), threads_);
}

void TrainingForm::fill(TrainConfig& c) const {
  const TrainConfig recipe = recommended_config();
  c.model = recipe.model;
  c.model.kind = kind_->currentData().toString().toStdString();
  c.model.hidden = hidden_->value();
  c.model.embed = embed_->value();
  c.model.layers = c.model.kind == "attention" ? 1 : layers_->value();
  c.model.dropout = dropout_->value();
  c.lr = lr_->value();
  c.max_len = max_len_->value();
  c.min_count = min_count_->value();
  // The preset's rule for what the form does not show (validation size, checkpoints, schedule),
  // applied to the steps, batch and cadence the form does show.
  const TrainPreset* chosen = currentPreset();
  TrainPreset shown = chosen ? *chosen : find_train_preset("default");
  shown.steps = steps_->value();
  shown.batch_size = batch_->value();
  shown.val_every = val_every_->value();
  apply_preset(c, shown);
  c.threads = threads_->value();
  c.device = device_->currentData().toString().toStdString();
  c.precision = precision_->currentData().toString().toStdString();
}

const TrainPreset* TrainingForm::currentPreset() const {
  const QString name = preset_->currentData().toString();
  return name.isEmpty() ? nullptr : &find_train_preset(name.toStdString());
}

void TrainingForm::applyPreset() {
  const TrainPreset* p = currentPreset();
  if (!p) return;
  applying_preset_ = true;
  steps_->setValue(static_cast<int>(p->steps));
  batch_->setValue(static_cast<int>(p->batch_size));
  val_every_->setValue(static_cast<int>(p->val_every));
  applying_preset_ = false;
}

void TrainingForm::showMatchingPreset() {
  if (applying_preset_) return;
  int match = preset_->count() - 1;  // Custom
  for (int i = 0; i + 1 < preset_->count(); ++i) {
    const TrainPreset& p = find_train_preset(preset_->itemData(i).toString().toStdString());
    if (p.steps == steps_->value() && p.batch_size == batch_->value() && p.val_every == val_every_->value()) match = i;
  }
  const QSignalBlocker quiet(preset_);
  preset_->setCurrentIndex(match);
}

QString TrainingForm::layer() const { return layer_->currentData().toString(); }
int TrainingForm::minCount() const { return min_count_->value(); }

void TrainingForm::setLocked(bool locked) {
  locked_ = locked;
  for (QWidget* w : std::initializer_list<QWidget*>{kind_, layer_, hidden_, embed_, dropout_, preset_, batch_, lr_, max_len_,
                                                    min_count_, val_every_, steps_, threads_, device_, precision_})
    w->setEnabled(!locked);
  layers_->setEnabled(!locked && kind_->currentData().toString() == QLatin1String("lstm"));
}

SettingsTable TrainingForm::settings() const {
  return {{QStringLiteral("kind"), kind_},
          {QStringLiteral("layer"), layer_},
          {QStringLiteral("hidden"), hidden_},
          {QStringLiteral("embed"), embed_},
          {QStringLiteral("layers"), layers_},
          {QStringLiteral("dropout"), dropout_},
          {QStringLiteral("preset"), preset_},
          {QStringLiteral("batch"), batch_},
          {QStringLiteral("lr"), lr_},
          {QStringLiteral("max_len"), max_len_},
          {QStringLiteral("min_count"), min_count_},
          {QStringLiteral("val_every"), val_every_},
          {QStringLiteral("steps"), steps_},
          {QStringLiteral("threads"), threads_},
          {QStringLiteral("precision"), precision_}};
}

}  // namespace captioner::ui
