#include "core/infer/caption_service.h"

#include <torch/csrc/autograd/grad_mode.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <mutex>

#include "core/infer/model_input.h"
#include "core/model/decoding.h"
#include "core/train/checkpoint.h"
#include "core/train/familiarity.h"
#include "core/util/errors.h"
#include "core/util/runtime.h"
#include "core/vision/encoder.h"
#include "core/vision/image_io.h"

namespace captioner {

struct CaptionService::Impl {
  std::mutex mutex;  // one decode at a time: the model is not re-entrant
  std::unique_ptr<LoadedCheckpoint> checkpoint;
  Encoder encoder;
  torch::Device device = torch::kCPU;
  std::map<std::string, torch::Tensor> features;  // image path -> model input [1, ...]
  Familiarity familiarity;
};

CaptionService::CaptionService() : impl_(std::make_unique<Impl>()) {}
CaptionService::~CaptionService() = default;

void CaptionService::load_model(const std::string& model_path, const std::string& encoder_path) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  const torch::Device device = resolve_device("auto");
  const std::string path = std::filesystem::is_directory(model_path) ? checkpoint_path(model_path) : model_path;
  auto checkpoint = std::make_unique<LoadedCheckpoint>(load_checkpoint(path, device));
  Encoder encoder = load_encoder_for_model(path, checkpoint->config, encoder_path, device);
  impl_->checkpoint = std::move(checkpoint);
  impl_->encoder = std::move(encoder);
  impl_->device = device;
  impl_->features.clear();
  // Advisory: a run without a readable reference just gets no unfamiliarity notice.
  try {
    impl_->familiarity = read_familiarity(std::filesystem::path(path).parent_path().string());
  } catch (const std::exception&) {
    impl_->familiarity = Familiarity();
  }
}

ImageFamiliarity CaptionService::familiarity(const std::string& image_path) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  ImageFamiliarity out;
  const auto it = impl_->features.find(image_path);
  if (!impl_->familiarity.available() || it == impl_->features.end()) return out;
  out.known = true;
  out.nearest = impl_->familiarity.nearest(it->second);
  out.typical = impl_->familiarity.typical;
  out.unlike_training = out.nearest < out.typical;
  return out;
}

bool CaptionService::has_model() const { return impl_->checkpoint != nullptr; }

bool CaptionService::model_attends() const {
  return impl_->checkpoint && impl_->checkpoint->model->input() == FeatureInput::Grid;
}

std::string CaptionService::model_summary() const {
  return impl_->checkpoint ? impl_->checkpoint->summary() : "no model";
}

std::vector<CaptionResult> CaptionService::caption(const std::string& image_path, const CaptionRequest& request) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (!impl_->checkpoint) throw ConfigError("no model loaded: train one or open a run folder");
  torch::NoGradGuard no_grad;
  auto& model = *impl_->checkpoint->model;
  auto it = impl_->features.find(image_path);
  if (it == impl_->features.end()) {
    const auto rgb = load_image_rgb(image_path);
    const auto encoded = impl_->encoder.net->forward(inception_input(rgb).unsqueeze(0).to(impl_->device));
    it = impl_->features.emplace(image_path, model_input(encoded, model.input())).first;
  }
  std::vector<CaptionResult> out;
  for (const auto& c : decode(model, impl_->checkpoint->vocab, it->second, decode_options(request)))
    out.push_back(caption_result(c));
  return out;
}

DecodeOptions decode_options(const CaptionRequest& request) {
  DecodeOptions options;
  options.mode = parse_mode(request.mode);
  options.temperature = request.temperature;
  options.top_k = request.top_k;
  options.samples = request.samples;
  options.beam_width = request.beam_width;
  options.max_len = request.max_len;
  options.seed = request.seed;
  return options;
}

std::vector<CaptionWord> CaptionResult::words() const {
  return {tokens.begin(), tokens.end() - (finished && !tokens.empty() ? 1 : 0)};
}

CaptionResult caption_result(const DecodedCaption& caption) {
  CaptionResult r;
  r.text = caption.text();
  r.log_prob = caption.log_prob;
  r.finished = caption.finished;
  for (const auto& t : caption.tokens) r.tokens.push_back({t.word, t.log_prob, t.attention});
  return r;
}

std::string captions_to_json(const std::vector<CaptionResult>& captions, const std::string& image) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& c : captions) {
    nlohmann::json tokens = nlohmann::json::array();
    for (const auto& t : c.tokens) {
      nlohmann::json token = {{"word", t.word}, {"log_prob", t.log_prob}};
      if (!t.attention.empty()) token["attention"] = t.attention;
      tokens.push_back(token);
    }
    list.push_back({{"text", c.text}, {"log_prob", c.log_prob}, {"finished", c.finished}, {"tokens", tokens}});
  }
  return nlohmann::json{{"image", image}, {"captions", list}}.dump();
}

}  // namespace captioner
