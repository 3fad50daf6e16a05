#include "core/model/loss.h"

#include <torch/nn/functional/loss.h>

#include "core/model/projection.h"

namespace captioner {

CaptionLoss caption_loss(CaptionModelImpl& model, const torch::Tensor& features, const torch::Tensor& tokens, int64_t pad_id,
                         const at::Generator& dropout_generator) {
  CaptionLoss result;
  const TeacherForcing tf = model.teacher_forcing(features, tokens, pad_id, dropout_generator);
  result.tokens = tf.targets.size(0);
  auto& output = model.output_layer();
  result.cross_entropy = result.tokens == 0 ? torch::zeros({}, tf.hidden.options())
                                            : projected_cross_entropy(tf.hidden, output->weight, output->bias, tf.targets);
  result.loss = tf.penalty.defined() ? result.cross_entropy + tf.penalty : result.cross_entropy;
  return result;
}

}  // namespace captioner
