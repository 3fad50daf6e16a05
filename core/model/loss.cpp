#include "core/model/loss.h"

#include <torch/nn/functional/loss.h>

#include "core/model/projection.h"

namespace captioner {

namespace F = torch::nn::functional;

torch::Tensor masked_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets, int64_t pad_id) {
  const auto flat_logits = logits.reshape({-1, logits.size(-1)});
  const auto flat_targets = targets.reshape({-1});
  const auto keep = flat_targets.ne(pad_id);
  if (keep.sum().item<int64_t>() == 0) return torch::zeros({}, logits.options());
  return F::cross_entropy(flat_logits.index({keep}), flat_targets.index({keep}));
}

CaptionLoss caption_loss(CaptionModelImpl& model, const torch::Tensor& features, const torch::Tensor& tokens,
                         int64_t pad_id) {
  CaptionLoss result;
  const TeacherForcing tf = model.teacher_forcing(features, tokens, pad_id);
  result.tokens = tf.targets.size(0);
  auto& output = model.output_layer();
  result.cross_entropy = result.tokens == 0 ? torch::zeros({}, tf.hidden.options())
                                            : projected_cross_entropy(tf.hidden, output->weight, output->bias, tf.targets);
  result.loss = tf.penalty.defined() ? result.cross_entropy + tf.penalty : result.cross_entropy;
  return result;
}

}  // namespace captioner
