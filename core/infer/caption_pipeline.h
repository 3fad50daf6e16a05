#pragma once
// The one captioning path: a trained model with the encoder it was trained with, from images to
// captions. `captioner caption`, the Caption tab (through CaptionService) and the service's
// batching loop all caption through it, so they load, encode and decode the same way.
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "core/model/decode_options.h"
#include "core/model/decoding.h"
#include "core/run/checkpoint.h"
#include "core/vision/encoder.h"

namespace captioner {

class CaptionPipeline {
 public:
  // `model`: a run folder or its checkpoint file; `encoder_path` empty: the installed encoder, at
  // the layer the model was trained on. Throws CheckpointError / DataError naming the file.
  // Without `with_encoder` only rows of feature files can be captioned (a model trained on the
  // notebook's features has no encoder here). The encoder runs in `precision` (load_encoder).
  CaptionPipeline(const std::string& model, const std::string& encoder_path, const torch::Device& device,
                  bool with_encoder = true, const std::string& precision = "auto");

  const std::string& checkpoint_file() const { return checkpoint_file_; }
  const LoadedCheckpoint& checkpoint() const { return *checkpoint_; }
  const torch::Device& device() const { return device_; }
  bool attends() const;  // attention model: captions carry maps
  std::string summary() const;

  // The model's input [n, ...] for images as load_image_rgb / decode_image_rgb return them.
  torch::Tensor encode(const std::vector<torch::Tensor>& rgb_images);
  // Captions of one image's model input ([1, ...], as encode returns for one image, or a row of a
  // feature file), best first.
  std::vector<DecodedCaption> decode(const torch::Tensor& features, const DecodeOptions& options,
                                     const TokenObserver& on_token = {});
  // One caption list per row of `features` [n, ...], row i decoded with options[i]: greedy rows of
  // the same length limit (and no n-gram blocking) decoded together, the others one by one. A row that fails throws for
  // every row, as the batch shares the model.
  // `on_token` hears each row's captions grow (greedy and sampled ones): the row, which of its
  // captions (the sample), and the caption so far.
  using RowTokenObserver = std::function<void(size_t row, size_t choice, const DecodedCaption& so_far)>;
  std::vector<std::vector<DecodedCaption>> decode_rows(const torch::Tensor& features, const std::vector<DecodeOptions>& options,
                                                       const RowTokenObserver& on_token = {});

 private:
  std::string checkpoint_file_;
  torch::Device device_;
  std::unique_ptr<LoadedCheckpoint> checkpoint_;
  Encoder encoder_;
  bool has_encoder_ = false;
};

}  // namespace captioner
