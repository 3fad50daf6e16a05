#include "core/infer/caption_pipeline.h"

#include <torch/csrc/autograd/grad_mode.h>

#include <map>
#include <tuple>

#include "core/infer/model_input.h"
#include "core/run/run_folder.h"
#include "core/util/errors.h"
#include "core/vision/image_io.h"

namespace captioner {

CaptionPipeline::CaptionPipeline(const std::string& model, const std::string& encoder_path, const torch::Device& device,
                                 bool with_encoder, const std::string& precision)
    : checkpoint_file_(model_checkpoint_file(model)), device_(device) {
  checkpoint_ = std::make_unique<LoadedCheckpoint>(load_checkpoint(checkpoint_file_, device_));
  if (with_encoder) encoder_ = load_encoder_for_model(checkpoint_file_, checkpoint_->config, encoder_path, device_, precision);
  has_encoder_ = with_encoder;
}

bool CaptionPipeline::attends() const { return checkpoint_->model->input() == FeatureInput::Grid; }

std::string CaptionPipeline::summary() const { return checkpoint_->summary(); }

torch::Tensor CaptionPipeline::encode(const std::vector<torch::Tensor>& rgb_images) {
  if (!has_encoder_) throw ConfigError("this model was loaded without its encoder; it captions feature rows only");
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> inputs;
  inputs.reserve(rgb_images.size());
  for (const auto& rgb : rgb_images) inputs.push_back(inception_input(rgb));
  return model_input(encoder_.net->forward(torch::stack(inputs).to(device_)), checkpoint_->model->input());
}

std::vector<DecodedCaption> CaptionPipeline::decode(const torch::Tensor& features, const DecodeOptions& options,
                                                    const TokenObserver& on_token) {
  return captioner::decode(*checkpoint_->model, checkpoint_->vocab, features.to(device_), options, on_token);
}

std::vector<std::vector<DecodedCaption>> CaptionPipeline::decode_rows(const torch::Tensor& features,
                                                                      const std::vector<DecodeOptions>& options,
                                                                      const RowTokenObserver& on_token) {
  auto observer_of = [&on_token](size_t row) -> TokenObserver {
    if (!on_token) return {};
    return [&on_token, row](size_t choice, const DecodedCaption& so_far) { on_token(row, choice, so_far); };
  };
  std::vector<std::vector<DecodedCaption>> out(options.size());
  // Greedy rows with the same options are decoded as one batch.
  auto same_greedy = [](const DecodeOptions& a, const DecodeOptions& b) {
    return std::tie(a.max_len, a.top_alternatives, a.no_repeat_ngram, a.revisit_penalty) <
           std::tie(b.max_len, b.top_alternatives, b.no_repeat_ngram, b.revisit_penalty);
  };
  std::map<DecodeOptions, std::vector<int64_t>, decltype(same_greedy)> greedy(same_greedy);
  for (size_t i = 0; i < options.size(); ++i) {
    const auto row = static_cast<int64_t>(i);
    if (options[i].mode == DecodeMode::Greedy) {
      greedy[options[i]].push_back(row);
    } else {
      out[i] = decode(features.narrow(0, row, 1), options[i], observer_of(i));
    }
  }
  for (const auto& [shared, group] : greedy) {
    const std::vector<int64_t>& rows = group;  // a structured binding cannot be captured in C++17
    TokenObserver on_row;                      // the batch's row k is the features' row rows[k]
    if (on_token)
      on_row = [&on_token, &rows](size_t k, const DecodedCaption& so_far) { on_token(static_cast<size_t>(rows[k]), 0, so_far); };
    const auto captions =
        decode_greedy_batch(*checkpoint_->model, checkpoint_->vocab,
                            features.index_select(0, torch::tensor(rows).to(features.device())), shared, on_row);
    for (size_t k = 0; k < rows.size(); ++k) out[static_cast<size_t>(rows[k])] = {captions[k]};
  }
  return out;
}

}  // namespace captioner
