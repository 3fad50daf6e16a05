#pragma once
// The encoder layers whose 8x8 grid a model can be trained on. Apart from the encoder, so that
// what records a layer (configurations, checkpoints, cache names) needs no network headers.
#include <cstdint>
#include <string>

namespace captioner {

// Which layer the encoder's output grid comes from.
//  - Mixed10: the network's last block (mixed10 / Mixed_7c), 8x8x2048: the product's standard grid.
//  - Mixed5: mixed5 / Mixed_6c, 17x17x768, resampled to 8x8 so that cell (r, c) describes the
//    image's cell (r, c): the mean of 4x4 bilinear samples of the 17x17 map taken where that
//    cell's pixels are (see mixed5_cell_sampling_grid). In nsfwjs's network the blocks after
//    mixed5 were fine-tuned to NSFW classes and keep little colour; mixed5 still has ImageNet
//    weights, and an object's colour can be read from the cell under it far more often there
//    (README, "Which encoder layer"; tests/reference/layer_probe.py).
// Geometry: the valid (unpadded) convolutions and poolings of the stem and of Mixed_6a put the
// centre of 17x17 position p at input pixel 16 p + 21 (of 0..298) and mixed10's cell q at
// 32 q + 37, so the network's own grids span pixels 21..277 and 37..261, not the whole image.
// Pooling 17x17 to 8x8 in equal windows would inherit that: its edge cells would describe
// pixels half a cell inside the image, and attention maps drawn over the image's 8x8 cells
// would point half a cell outwards.
enum class GridLayer { Mixed10, Mixed5 };
const char* grid_layer_name(GridLayer layer);         // "mixed10", "mixed5"
GridLayer parse_grid_layer(const std::string& name);  // throws ConfigError on others
int64_t grid_channels(GridLayer layer);               // 2048, 768

// What an encoder id adds for a layer: nothing for mixed10, "/mixed5-cells" for mixed5 (cells
// resampled onto the image's 8x8 cells), so that features of two layers never mix.
std::string encoder_id_suffix(GridLayer layer);
// The layer an encoder id stands for (mixed10 when it names none). Throws DataError for
// "/mixed5", the earlier mixed5 grid of equal pooling windows, which no encoder computes now.
GridLayer grid_layer_of(const std::string& encoder_id);
// A dataset's default feature cache folder for a layer: "features" (mixed10), "features-mixed5".
std::string feature_cache_name(GridLayer layer);

}  // namespace captioner
