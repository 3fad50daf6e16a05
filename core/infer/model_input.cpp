#include "core/infer/model_input.h"

#include "core/run/checkpoint.h"
#include "core/util/errors.h"

namespace captioner {

torch::Tensor model_input(const EncodedImages& encoded, FeatureInput input) {
  if (input == FeatureInput::Pooled) return encoded.pooled;
  const auto& g = encoded.grid;
  return g.permute({0, 2, 3, 1}).reshape({g.size(0), g.size(2) * g.size(3), g.size(1)}).to(torch::kHalf).to(torch::kFloat32);
}

Encoder load_encoder_for_model(const std::string& model_path, const TrainConfig& config, const std::string& encoder_path,
                               const torch::Device& device, const std::string& precision) {
  const std::string& trained_with = config.encoder_id;
  if (trained_with.empty())
    throw DataError(model_path,
                    "was trained on features of an unknown encoder (such as the notebook's image_codes.npy), "
                    "so it cannot encode new images; use rows of its own feature file (--features), or "
                    "train on features from `captioner extract`");
  Encoder encoder = load_encoder_at_layer(encoder_path, trained_grid_layer(model_path, config), device, precision);
  if (encoder.id != trained_with)
    throw DataError(model_path, "was trained on features of encoder " + trained_with + ", but the encoder in use is " +
                                    encoder.id + "; pass the matching --encoder");
  return encoder;
}

}  // namespace captioner
