#pragma once
// Photos under the built-in Shapes scenes. A model trained only on drawn backgrounds invents
// objects in photographs; scenes drawn on photos teach it that a photo is background too.
//
// The built-in data uses the photos Debian's lomiri-wallpapers-16.04 and lomiri-wallpapers-20.04
// packages ship (19 photographs, the same files in Debian 12 and 13), when they are installed;
// the user may give others (a folder or a list file) or none.
#include <string>
#include <vector>

#include "core/data/shapes.h"

namespace captioner {

// The built-in set's files, whether installed or not.
const std::vector<std::string>& packaged_background_photos();

struct BackgroundPhotoLoad {
  int loaded = 0;
  std::vector<std::string> left_out;  // "file: reason" for each file that could not be read
};

// Loads `files` into options.background_photos (each kept at a short side of 1.5 image sizes, so
// a crop of half a photo is still sharp) and names them in options.background_names: relative
// to `base_dir` when they lie under it. A file that cannot be read is left out and reported.
BackgroundPhotoLoad load_background_photos(const std::vector<std::string>& files, const std::string& base_dir,
                                           ShapesOptions& options);

// The user's photos: the images under a folder, or the lines of a list file. Throws DataError
// naming `dir_or_list` when none of them can be read.
BackgroundPhotoLoad load_user_background_photos(const std::string& dir_or_list, ShapesOptions& options);

// The built-in set, as far as it is installed (a missing file is not reported: none installed
// gives loaded == 0 and scenes without photos).
BackgroundPhotoLoad load_packaged_background_photos(ShapesOptions& options);

// The built-in Shapes dataset as the app makes it and "The first run" measures it: 4,000 natural
// scenes of seed 1, sized for the Default preset (the front end loads the photos).
ShapesOptions built_in_shapes_options();

}  // namespace captioner
