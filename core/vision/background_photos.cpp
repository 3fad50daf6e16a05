#include "core/vision/background_photos.h"

#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "core/util/errors.h"
#include "core/vision/feature_cache.h"
#include "core/vision/image_io.h"

namespace captioner {

const std::vector<std::string>& packaged_background_photos() {
  static const std::vector<std::string> files = [] {
    const std::string dir = "/usr/share/backgrounds/";
    std::vector<std::string> names = {
        // lomiri-wallpapers-16.04
        "Bridge_by_Sander_Klootwijk.jpg", "Dragonfly_by_Bolly.jpg", "Picture_0B_by_freespace.jpg", "Picture_1A_by_freespace.jpg",
        "Wine_by_Jakkub_Mede.jpg", "aitzgorri_by_Aitzol_Berasategi.jpg", "analogpattern_by_Peter_Nerlich.jpg",
        "free_by_Peter_Nerlich.jpg", "friends_by_Aitzol_Berasategi.jpg", "greentock_by_Peter_Nerlich.jpg",
        "life_by_Aitzol_Berasategi.jpg", "picosdeeuropa_by_Aitzol_Berasategi.jpg", "seeding_by_Clements_Engelhardt.jpg",
        "sunset_by_Aitzol_Berasategi.jpg", "umang_by_Abhishek_Mudgal.jpg",
        // lomiri-wallpapers-20.04
        "Fossa_by_Jasper_Roks.jpg", "Infinite-Sea_by_Aury88.jpg", "Kleiber_by_Lukas_Baubkus.jpg",
        "Painting-Colors_by__herobrine7gamer.jpg"};
    for (auto& name : names) name = dir + name;
    return names;
  }();
  return files;
}

BackgroundPhotoLoad load_background_photos(const std::vector<std::string>& files, const std::string& base_dir,
                                           ShapesOptions& options) {
  const int keep_side = options.image_size * 3 / 2;
  std::vector<cv::Mat> loaded(files.size());
  std::vector<std::string> failures(files.size());
  // Large JPEGs take a fraction of a second each to decode: on all cores.
  cv::parallel_for_(cv::Range(0, static_cast<int>(files.size())), [&](const cv::Range& range) {
    for (int i = range.start; i < range.end; ++i) {
      try {
        cv::Mat photo = to_bgr_mat(load_image_rgb(files[i], {}, keep_side));
        const int short_side = std::min(photo.rows, photo.cols);
        if (short_side > keep_side) {
          const double f = static_cast<double>(keep_side) / short_side;
          cv::resize(photo, photo, {}, f, f, cv::INTER_AREA);
        }
        loaded[i] = photo;
      } catch (const std::exception& e) {
        failures[i] = e.what();
      }
    }
  });
  auto photos = std::make_shared<std::vector<cv::Mat>>();
  BackgroundPhotoLoad result;
  for (size_t i = 0; i < files.size(); ++i) {
    if (loaded[i].empty()) {
      result.left_out.push_back(failures[i]);
      continue;
    }
    photos->push_back(loaded[i]);
    // Files listed from a folder are named within it; a list file's lines as they are.
    const std::string relative =
        base_dir.empty() ? std::string() : std::filesystem::path(files[i]).lexically_relative(base_dir).generic_string();
    options.background_names.push_back(relative.empty() ? files[i] : relative);
  }
  result.loaded = static_cast<int>(photos->size());
  options.background_photos = photos->empty() ? nullptr : std::move(photos);
  return result;
}

BackgroundPhotoLoad load_user_background_photos(const std::string& dir_or_list, ShapesOptions& options) {
  const bool folder = std::filesystem::is_directory(dir_or_list);
  auto result = load_background_photos(list_images(dir_or_list), folder ? dir_or_list : std::string(), options);
  if (result.loaded == 0) throw DataError(dir_or_list, "no readable image to use as a background");
  return result;
}

BackgroundPhotoLoad load_packaged_background_photos(ShapesOptions& options) {
  std::vector<std::string> installed;
  for (const auto& file : packaged_background_photos()) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(file, ec)) installed.push_back(file);
  }
  return load_background_photos(installed, {}, options);
}

ShapesOptions built_in_shapes_options() {
  ShapesOptions options;
  options.count = 4000;
  options.seed = 1;
  return options;
}

}  // namespace captioner
