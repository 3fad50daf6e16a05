#pragma once
// The image encoder as the product uses it: an Inception-v3 with its weights, an identity that
// models trained on its features record, and the encoder weight file it lives in.
#include <torch/types.h>

#include <string>
#include <vector>

#include "core/vision/inception.h"
#include "core/vision/tfjs_import.h"

namespace captioner {

struct Encoder {
  InceptionV3 net{nullptr};  // eval mode, BN folded
  // "<family>:<hash of the weights>" for the standard mixed10 grid, "<family>:<hash>/<layer>" for
  // another layer: same weights and layer, same id, so features of two layers never mix.
  std::string id;
  std::string source;  // where the weights came from
};

// Makes the encoder return `layer`'s grid and renames it accordingly (encoder_id_suffix).
void use_grid_layer(Encoder& encoder, GridLayer layer);

// Builds the Keras-family network (with nsfwjs's head) from TF.js weights. Every conv2d_N /
// batch_normalization_N / dense_N must be present with the expected shape; throws DataError
// naming the first that is missing or wrong.
InceptionV3 inception_from_tfjs(const std::vector<NamedTensor>& weights, const std::string& source);

// Builds the torchvision-family network from a state_dict saved by Python's torch.save as a plain
// dict (LibTorch's unpickler does not read OrderedDict's metadata):
//   torch.save(dict(torchvision.models.inception_v3(weights="DEFAULT").state_dict()), "inception_v3.pt")
// AuxLogits.* and fc.* are ignored; any other missing, unexpected or misshapen tensor is refused
// with DataError naming it.
InceptionV3 inception_from_torchvision(const std::string& state_dict_path, bool transform_input);

// Writes the encoder weight file (atomically) and returns the encoder's id.
std::string save_encoder(const std::string& path, InceptionV3& net, const std::string& source);
// Reads an encoder weight file; throws DataError naming it when it is missing or not one.
// On a CPU with native bf16 units the network runs in bf16 (InceptionV3Impl::set_bf16) unless
// `precision` says "fp32"; "auto" chooses as `captioner train --precision auto` does.
Encoder load_encoder(const std::string& path, const torch::Device& device = torch::kCPU, const std::string& precision = "auto");

// The family an encoder file's weights belong to, from its metadata; throws DataError naming the
// file when it is not an encoder file.
EncoderFamily read_encoder_family(const std::string& path);
// The layer a model should read when the user names none: for the Keras family (nsfwjs) mixed5,
// since its layers after mixed5 were fine-tuned away from colour (README, "Which encoder layer":
// content accuracy 0.92 against 0.47 on Shapes); for torchvision's ImageNet weights mixed10.
GridLayer recommended_grid_layer(EncoderFamily family);
// A layer choice as the user gives it: "mixed10", "mixed5", or "auto" (recommended_grid_layer of
// the encoder at `encoder_path`, empty: the installed one). Throws ConfigError / DataError.
GridLayer resolve_grid_layer(const std::string& choice, const std::string& encoder_path);

// The encoder at `path` (empty: the installed one, find_default_encoder), returning `layer`'s grid,
// in `precision` as load_encoder reads it.
Encoder load_encoder_at_layer(const std::string& path, GridLayer layer, const torch::Device& device = torch::kCPU,
                              const std::string& precision = "auto");

// Where the product looks for the default encoder, in order: $CAPTIONER_ENCODER, then
// <executable dir>/../share/captioner/inception_v3_nsfwjs.pt, then
// $XDG_DATA_HOME (or ~/.local/share)/captioner/inception_v3_nsfwjs.pt.
std::vector<std::string> encoder_search_path();
// The first existing file of encoder_search_path(); throws DataError saying how to get one.
std::string find_default_encoder();

// How to obtain the default weights, for error messages.
extern const char* const kEncoderHowTo;

}  // namespace captioner
