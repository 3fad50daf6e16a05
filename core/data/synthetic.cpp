#include "core/data/synthetic.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include <nlohmann/json.hpp>

#include <filesystem>

#include "core/util/atomic_file.h"
#include "core/util/errors.h"
#include "core/util/npy.h"
#include "core/util/random.h"

namespace captioner {

namespace {
const std::vector<std::string> kColours = {"red", "green", "blue", "yellow", "black", "white"};
const std::vector<std::string> kObjects = {"dog", "car", "boat", "bird", "chair", "kite"};
const std::vector<std::string> kPlaces = {"on the grass", "in the water", "on a table", "in the snow"};

std::vector<std::string> captions_for(const SyntheticImage& im) {
  return {"a " + im.colour + " " + im.object + " " + im.place,
          "there is a " + im.colour + " " + im.object + " " + im.place + " .",
          "a " + im.object + " that is " + im.colour + " , " + im.place, "the " + im.colour + " " + im.object + " is " + im.place,
          "a photo of a " + im.colour + " " + im.object + " " + im.place};
}
}  // namespace

std::vector<SyntheticImage> write_synthetic_handout(const std::string& dir, const SyntheticOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw DataError(dir, "cannot create folder: " + ec.message());

  auto generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  const int64_t f = options.feature_dim;
  const auto colour_vecs = torch::randn({static_cast<int64_t>(kColours.size()), f}, generator);
  const auto object_vecs = torch::randn({static_cast<int64_t>(kObjects.size()), f}, generator);
  const auto place_vecs = torch::randn({static_cast<int64_t>(kPlaces.size()), f}, generator);

  Rng rng(options.seed);
  std::vector<SyntheticImage> images;
  std::vector<int64_t> c_idx, o_idx, p_idx;
  nlohmann::json captions = nlohmann::json::array();
  for (int64_t i = 0; i < options.images; ++i) {
    c_idx.push_back(static_cast<int64_t>(rng.below(kColours.size())));
    o_idx.push_back(static_cast<int64_t>(rng.below(kObjects.size())));
    p_idx.push_back(static_cast<int64_t>(rng.below(kPlaces.size())));
    SyntheticImage im{kColours[static_cast<size_t>(c_idx.back())], kObjects[static_cast<size_t>(o_idx.back())],
                      kPlaces[static_cast<size_t>(p_idx.back())]};
    captions.push_back(captions_for(im));
    images.push_back(std::move(im));
  }
  auto features = colour_vecs.index_select(0, torch::tensor(c_idx)) + object_vecs.index_select(0, torch::tensor(o_idx)) +
                  place_vecs.index_select(0, torch::tensor(p_idx)) + options.noise * torch::randn({options.images, f}, generator);
  features = features.contiguous();
  write_npy_f32(dir + "/image_codes.npy", features.data_ptr<float>(), {options.images, f});
  write_file_atomically(dir + "/captions_tokenized.json", captions.dump());
  return images;
}

}  // namespace captioner
