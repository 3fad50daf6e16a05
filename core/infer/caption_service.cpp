#include "core/infer/caption_service.h"

#include <nlohmann/json.hpp>

#include <map>
#include <mutex>

#include "core/infer/caption_pipeline.h"
#include "core/run/familiarity.h"
#include "core/run/run_folder.h"
#include "core/util/errors.h"
#include "core/util/runtime.h"
#include "core/vision/image_io.h"

namespace captioner {

struct CaptionService::Impl {
  std::mutex mutex;  // one decode at a time: the model is not re-entrant
  std::unique_ptr<CaptionPipeline> pipeline;
  std::map<std::string, torch::Tensor> features;  // image path -> model input [1, ...]
  Familiarity familiarity;
};

CaptionService::CaptionService() : impl_(std::make_unique<Impl>()) {}
CaptionService::~CaptionService() = default;

void CaptionService::load_model(const std::string& model_path, const std::string& encoder_path) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  auto pipeline = std::make_unique<CaptionPipeline>(model_path, encoder_path, resolve_device("auto"));
  impl_->features.clear();
  // Advisory: a run without a readable reference just gets no unfamiliarity notice.
  try {
    impl_->familiarity = read_familiarity(model_run_folder(model_path).dir());
  } catch (const std::exception&) {
    impl_->familiarity = Familiarity();
  }
  impl_->pipeline = std::move(pipeline);
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

bool CaptionService::has_model() const { return impl_->pipeline != nullptr; }

bool CaptionService::model_attends() const { return impl_->pipeline && impl_->pipeline->attends(); }

std::string CaptionService::model_summary() const { return impl_->pipeline ? impl_->pipeline->summary() : "no model"; }

std::vector<CaptionResult> CaptionService::caption(const std::string& image_path, const DecodeOptions& options) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (!impl_->pipeline) throw ConfigError("no model loaded: train one or open a run folder");
  auto it = impl_->features.find(image_path);
  if (it == impl_->features.end())
    it = impl_->features.emplace(image_path, impl_->pipeline->encode({load_image_rgb(image_path)})).first;
  return caption_results(impl_->pipeline->decode(it->second, options));
}

std::vector<CaptionWord> CaptionResult::words() const {
  return {tokens.begin(), tokens.end() - (finished && !tokens.empty() ? 1 : 0)};
}

std::vector<CaptionResult> caption_results(const std::vector<DecodedCaption>& captions) {
  std::vector<CaptionResult> out;
  out.reserve(captions.size());
  for (const auto& c : captions) out.push_back(caption_result(c));
  return out;
}

CaptionWord caption_word(const DecodedToken& token) {
  CaptionWord word{token.word, token.log_prob, token.attention, {}};
  for (const auto& a : token.alternatives) word.alternatives.emplace_back(a.word, a.log_prob);
  return word;
}

CaptionResult caption_result(const DecodedCaption& caption) {
  CaptionResult r;
  r.text = caption.text();
  r.log_prob = caption.log_prob;
  r.mean_log_prob = caption.mean_log_prob();
  r.unsure = caption.unsure();
  r.finished = caption.finished;
  for (const auto& t : caption.tokens) r.tokens.push_back(caption_word(t));
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
    list.push_back({{"text", c.text},
                    {"log_prob", c.log_prob},
                    {"mean_log_prob", c.mean_log_prob},
                    {"unsure", c.unsure},
                    {"finished", c.finished},
                    {"tokens", tokens}});
  }
  return nlohmann::json{{"image", image}, {"captions", list}}.dump();
}

}  // namespace captioner
