#pragma once
// The bridge between vision and the models: the encoder a trained model needs, and what the model
// reads from that encoder's output.
#include <torch/types.h>

#include "core/model/caption_model.h"
#include "core/model/config.h"
#include "core/vision/encoder.h"

namespace captioner {

// What a model of the given input reads from encoded images: the pooled vectors [B, C], or the
// grid as cells [B, 64, C] (row-major, rounded through float16 exactly as the feature cache
// stores them, so live captions match captions of cached features).
torch::Tensor model_input(const EncodedImages& encoded, FeatureInput input);

// The encoder that computes a trained model's input from new images: `encoder_path` (empty: the
// installed one) at the grid layer the model was trained on. Refused with DataError naming
// `model_path` when the model's features came from an unknown encoder (such as the notebook's
// image_codes.npy) or from another encoder than this one. The one rule for caption, eval and
// the Caption tab. `precision` as load_encoder reads it.
Encoder load_encoder_for_model(const std::string& model_path, const TrainConfig& config, const std::string& encoder_path,
                               const torch::Device& device, const std::string& precision = "auto");

}  // namespace captioner
