#pragma once
// The files COCO-style scoring reads: references (COCO captions JSON or Karpathy JSON) and
// results ([{image_id, caption}]), keyed by image id.
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace captioner {

// Image id (as text: 42 and "42" are the same id) -> raw reference captions. COCO: images' `id`
// and annotations' `caption`; Karpathy: `cocoid` when present, else `imgid`, and each
// sentence's `raw` (or its tokens joined). Throws DataError naming the file and the place.
std::map<std::string, std::vector<std::string>> read_references(const std::string& path);

// [(image id, caption)] in file order. Throws DataError naming the file and the entry.
std::vector<std::pair<std::string, std::string>> read_results(const std::string& path);

// Writes [{image_id, caption}] atomically; ids that are whole numbers are written as numbers.
void write_results(const std::string& path, const std::vector<std::pair<std::string, std::string>>& results);

}  // namespace captioner
