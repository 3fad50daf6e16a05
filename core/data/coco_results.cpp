#include "core/data/coco_results.h"

#include <nlohmann/json.hpp>

#include <cctype>

#include "core/data/tokenizer.h"
#include "core/util/atomic_file.h"
#include "core/util/errors.h"

namespace captioner {

namespace {

using json = nlohmann::json;

json parse(const std::string& path) {
  try {
    return json::parse(read_file(path));
  } catch (const json::exception& e) {
    throw DataError(path, std::string("invalid JSON: ") + e.what());
  }
}

std::string id_text(const json& id, const std::string& where, const std::string& path) {
  if (id.is_number_integer()) return std::to_string(id.get<int64_t>());
  if (id.is_string()) return id.get<std::string>();
  throw DataError(path, where + ": image id must be a number or a string");
}

bool is_whole_number(const std::string& s) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

std::map<std::string, std::vector<std::string>> read_references(const std::string& path) {
  const json doc = parse(path);
  std::map<std::string, std::vector<std::string>> refs;
  if (!doc.is_object() || !doc.contains("images") || !doc["images"].is_array())
    throw DataError(path, "not a COCO captions or Karpathy file (no \"images\" list)");
  try {
    if (doc.contains("annotations")) {
      const auto& annotations = doc["annotations"];
      if (!annotations.is_array()) throw DataError(path, "\"annotations\" must be a list");
      for (size_t i = 0; i < annotations.size(); ++i) {
        const std::string where = "annotations[" + std::to_string(i) + "]";
        refs[id_text(annotations[i].at("image_id"), where + ".image_id", path)].push_back(
            annotations[i].at("caption").get<std::string>());
      }
    } else {
      const auto& images = doc["images"];
      for (size_t i = 0; i < images.size(); ++i) {
        const std::string where = "images[" + std::to_string(i) + "]";
        const json& image = images[i];
        const json& id = image.contains("cocoid") ? image.at("cocoid") : image.at("imgid");
        auto& list = refs[id_text(id, where, path)];
        for (const auto& s : image.at("sentences")) {
          if (s.contains("raw"))
            list.push_back(s.at("raw").get<std::string>());
          else
            list.push_back(join_tokens(s.at("tokens").get<std::vector<std::string>>()));
        }
      }
    }
  } catch (const json::exception& e) {
    throw DataError(path, std::string("malformed entry: ") + e.what());
  }
  if (refs.empty()) throw DataError(path, "holds no reference captions");
  return refs;
}

std::vector<std::pair<std::string, std::string>> read_results(const std::string& path) {
  const json doc = parse(path);
  if (!doc.is_array()) throw DataError(path, "results must be a list of {\"image_id\", \"caption\"}");
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < doc.size(); ++i) {
    const std::string where = "[" + std::to_string(i) + "]";
    if (!doc[i].is_object() || !doc[i].contains("image_id") || !doc[i].contains("caption") || !doc[i]["caption"].is_string())
      throw DataError(path, where + ": expected {\"image_id\", \"caption\"}");
    out.emplace_back(id_text(doc[i]["image_id"], where + ".image_id", path), doc[i]["caption"].get<std::string>());
  }
  return out;
}

void write_results(const std::string& path, const std::vector<std::pair<std::string, std::string>>& results) {
  json doc = json::array();
  for (const auto& [id, caption] : results) {
    json entry;
    entry["image_id"] = is_whole_number(id) ? json(std::stoll(id)) : json(id);
    entry["caption"] = caption;
    doc.push_back(entry);
  }
  write_file_atomically(path, doc.dump(1));
}

}  // namespace captioner
