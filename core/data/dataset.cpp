#include "core/data/dataset.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <unordered_map>

#include "core/data/tokenizer.h"
#include "core/util/atomic_file.h"
#include "core/util/errors.h"
#include "core/util/hash.h"
#include "core/util/npy.h"
#include "core/util/random.h"

namespace captioner {

using nlohmann::json;

const char* split_name(Split split) {
  switch (split) {
    case Split::Train:
      return "train";
    case Split::Val:
      return "val";
    case Split::Test:
      return "test";
    default:
      return "unassigned";
  }
}

const char* format_name(DatasetFormat format) {
  switch (format) {
    case DatasetFormat::Handout:
      return "handout";
    case DatasetFormat::Coco:
      return "coco";
    default:
      return "karpathy";
  }
}

bool CaptionDataset::has_own_split() const {
  return std::any_of(images.begin(), images.end(), [](const ImageRecord& r) { return r.split != Split::Unassigned; });
}

size_t CaptionDataset::caption_count() const {
  size_t n = 0;
  for (const auto& image : images) n += image.captions.size();
  return n;
}

std::string dataset_fingerprint(const CaptionDataset& dataset) {
  uint64_t h = kFnvOffset;
  auto mix = [&h](const std::string& s) { h = fnv1a(s.data(), s.size(), h); };
  for (const auto& image : dataset.images) {
    mix(image.key);
    for (const auto& caption : image.captions)
      for (const auto& token : caption) mix(token);
  }
  return std::string(format_name(dataset.format)) + ":" + std::to_string(dataset.images.size()) + ":" +
         std::to_string(dataset.caption_count()) + ":" + std::to_string(h);
}

namespace {

json parse_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {  // parse errors, and numbers too large to hold (out_of_range)
    throw DataError(path, std::string("malformed JSON: ") + e.what());
  }
}

// The folder of a dataset file, as an absolute path: image paths built from it (and kept in
// feature caches) then name the same files whatever folder a later command runs from.
std::string dir_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return absolute_path(slash == std::string::npos ? "." : path.substr(0, slash));
}

// Member `key` of object `obj` (located at `where` in the file), which must exist.
const json& member(const json& obj, const char* key, const std::string& where, const std::string& path) {
  if (!obj.is_object()) throw DataError(path, where + ": expected an object");
  auto it = obj.find(key);
  if (it == obj.end()) throw DataError(path, where + ": missing \"" + key + "\"");
  return *it;
}

std::string string_of(const json& v, const std::string& where, const std::string& path) {
  if (!v.is_string()) throw DataError(path, where + ": expected a string");
  return v.get<std::string>();
}

std::string id_of(const json& v, const std::string& where, const std::string& path) {
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_string()) return v.get<std::string>();
  throw DataError(path, where + ": expected an integer or string id");
}

TokenizedCaption caption_from_text(const std::string& text, const std::string& where, const std::string& path) {
  TokenizedCaption tokens = tokenize(text);
  if (tokens.empty()) throw DataError(path, where + ": caption is empty");
  return tokens;
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

CaptionDataset read_handout(const std::string& dir) {
  CaptionDataset ds;
  ds.format = DatasetFormat::Handout;
  ds.source = dir;
  ds.features_path = dir + "/image_codes.npy";
  const std::string captions_path = dir + "/captions_tokenized.json";

  const NpyArray codes = NpyArray::open(ds.features_path);
  if (codes.shape().size() != 2)
    throw DataError(ds.features_path,
                    "expected a 2-D array [images, features], found " + std::to_string(codes.shape().size()) + " dimension(s)");
  if (codes.rows() == 0 || codes.row_size() == 0) throw DataError(ds.features_path, "array is empty");

  const json doc = parse_json_file(captions_path);
  if (!doc.is_array()) throw DataError(captions_path, "expected a list with one list of captions per image");
  if (static_cast<int64_t>(doc.size()) != codes.rows())
    throw DataError(captions_path, "has " + std::to_string(doc.size()) + " caption lists but " + ds.features_path + " has " +
                                       std::to_string(codes.rows()) + " rows; they must match");
  ds.images.reserve(doc.size());
  for (size_t i = 0; i < doc.size(); ++i) {
    const std::string where = "entry " + std::to_string(i);
    const json& list = doc[i];
    if (!list.is_array()) throw DataError(captions_path, where + ": expected a list of captions");
    if (list.empty()) throw DataError(captions_path, where + ": has no captions");
    ImageRecord record;
    record.key = std::to_string(i);
    record.id = record.key;
    record.feature_row = static_cast<int64_t>(i);
    for (size_t j = 0; j < list.size(); ++j) {
      const std::string cwhere = where + ", caption " + std::to_string(j);
      record.captions.push_back(caption_from_text(string_of(list[j], cwhere, captions_path), cwhere, captions_path));
    }
    ds.images.push_back(std::move(record));
  }
  return ds;
}

CaptionDataset read_coco_captions(const std::string& json_path) {
  const json doc = parse_json_file(json_path);
  CaptionDataset ds;
  ds.format = DatasetFormat::Coco;
  ds.source = json_path;
  ds.image_root = dir_of(json_path);

  const json& images = member(doc, "images", "top level", json_path);
  const json& annotations = member(doc, "annotations", "top level", json_path);
  if (!images.is_array()) throw DataError(json_path, "\"images\" must be a list");
  if (!annotations.is_array()) throw DataError(json_path, "\"annotations\" must be a list");

  std::unordered_map<std::string, size_t> by_id;
  std::vector<ImageRecord> records;
  records.reserve(images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    const std::string where = "images[" + std::to_string(i) + "]";
    ImageRecord r;
    r.key = id_of(member(images[i], "id", where, json_path), where + ".id", json_path);
    r.id = r.key;
    r.file = string_of(member(images[i], "file_name", where, json_path), where + ".file_name", json_path);
    r.feature_row = static_cast<int64_t>(i);
    if (!by_id.emplace(r.key, records.size()).second)
      throw DataError(json_path, where + ": image id " + r.key + " appears twice");
    records.push_back(std::move(r));
  }
  for (size_t i = 0; i < annotations.size(); ++i) {
    const std::string where = "annotations[" + std::to_string(i) + "]";
    const std::string image_id = id_of(member(annotations[i], "image_id", where, json_path), where + ".image_id", json_path);
    auto it = by_id.find(image_id);
    if (it == by_id.end()) throw DataError(json_path, where + ": image_id " + image_id + " is not in \"images\"");
    const std::string text = string_of(member(annotations[i], "caption", where, json_path), where + ".caption", json_path);
    records[it->second].captions.push_back(caption_from_text(text, where, json_path));
  }
  size_t skipped = 0;
  for (auto& r : records) {
    if (r.captions.empty()) {
      ++skipped;
      continue;
    }
    ds.images.push_back(std::move(r));
  }
  if (skipped > 0) ds.warnings.push_back(json_path + ": skipped " + std::to_string(skipped) + " image(s) without captions");
  if (ds.images.empty()) throw DataError(json_path, "no image has a caption");
  return ds;
}

CaptionDataset read_karpathy(const std::string& json_path) {
  const json doc = parse_json_file(json_path);
  CaptionDataset ds;
  ds.format = DatasetFormat::Karpathy;
  ds.source = json_path;
  ds.image_root = dir_of(json_path);
  const json& images = member(doc, "images", "top level", json_path);
  if (!images.is_array()) throw DataError(json_path, "\"images\" must be a list");
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i < images.size(); ++i) {
    const std::string where = "images[" + std::to_string(i) + "]";
    const json& image = images[i];
    ImageRecord r;
    const std::string filename = string_of(member(image, "filename", where, json_path), where + ".filename", json_path);
    auto fp = image.is_object() ? image.find("filepath") : image.end();
    r.file = (fp != image.end() && fp->is_string() && !fp->get<std::string>().empty()) ? fp->get<std::string>() + "/" + filename
                                                                                       : filename;
    r.key = r.file;
    r.id = std::to_string(i);
    for (const char* id_key : {"cocoid", "imgid"}) {
      auto id = image.find(id_key);
      if (id != image.end() && (id->is_number_integer() || id->is_string())) {
        r.id = id->is_string() ? id->get<std::string>() : std::to_string(id->get<int64_t>());
        break;
      }
    }
    r.feature_row = static_cast<int64_t>(i);
    if (!seen.emplace(r.key, i).second) throw DataError(json_path, where + ": image " + r.key + " appears twice");

    const std::string split = string_of(member(image, "split", where, json_path), where + ".split", json_path);
    if (split == "train" || split == "restval")
      r.split = Split::Train;
    else if (split == "val")
      r.split = Split::Val;
    else if (split == "test")
      r.split = Split::Test;
    else
      throw DataError(json_path, where + ".split: unknown split \"" + split + "\" (expected train, restval, val or test)");

    const json& sentences = member(image, "sentences", where, json_path);
    if (!sentences.is_array() || sentences.empty()) throw DataError(json_path, where + ".sentences: expected a non-empty list");
    for (size_t j = 0; j < sentences.size(); ++j) {
      const std::string swhere = where + ".sentences[" + std::to_string(j) + "]";
      const json& s = sentences[j];
      if (!s.is_object()) throw DataError(json_path, swhere + ": expected an object");
      auto tokens = s.find("tokens");
      if (tokens != s.end()) {
        if (!tokens->is_array()) throw DataError(json_path, swhere + ".tokens: expected a list of strings");
        TokenizedCaption words;
        for (const auto& t : *tokens) words.push_back(string_of(t, swhere + ".tokens", json_path));
        // Re-tokenizing the joined tokens lower-cases them and is a no-op on clean input.
        r.captions.push_back(caption_from_text(join_tokens(words), swhere, json_path));
      } else {
        r.captions.push_back(
            caption_from_text(string_of(member(s, "raw", swhere, json_path), swhere + ".raw", json_path), swhere, json_path));
      }
    }
    ds.images.push_back(std::move(r));
  }
  if (ds.images.empty()) throw DataError(json_path, "lists no images");
  return ds;
}

std::string absolute_path(const std::string& path) {
  std::error_code ec;
  const auto absolute = std::filesystem::absolute(path, ec);
  if (ec) return path;
  std::string out = absolute.lexically_normal().string();
  if (out.size() > 1 && out.back() == '/') out.pop_back();  // "/data/." normalises to "/data/"
  return out;
}

CaptionDataset read_dataset(const std::string& path) {
  if (is_dir(path)) {
    struct stat st {};
    if (::stat((path + "/captions_tokenized.json").c_str(), &st) == 0) return read_handout(path);
    if (::stat((path + "/dataset.json").c_str(), &st) == 0) return read_karpathy(path + "/dataset.json");
    throw DataError(path, "folder holds neither captions_tokenized.json + image_codes.npy nor dataset.json");
  }
  const json doc = parse_json_file(path);
  if (doc.is_object() && doc.contains("annotations")) return read_coco_captions(path);
  if (doc.is_object() && doc.contains("images")) return read_karpathy(path);
  throw DataError(path, "not a COCO captions file (no \"annotations\") nor a Karpathy split file (no \"images\")");
}

DatasetSplit split_images(const CaptionDataset& dataset, double val_fraction, double test_fraction, uint64_t seed) {
  DatasetSplit split;
  const auto n = static_cast<int64_t>(dataset.images.size());
  if (dataset.has_own_split()) {
    for (int64_t i = 0; i < n; ++i) {
      switch (dataset.images[static_cast<size_t>(i)].split) {
        case Split::Val:
          split.val.push_back(i);
          break;
        case Split::Test:
          split.test.push_back(i);
          break;
        default:
          split.train.push_back(i);
          break;
      }
    }
    return split;
  }
  if (val_fraction < 0 || test_fraction < 0 || val_fraction + test_fraction >= 1)
    throw ConfigError("validation and test fractions must be >= 0 and sum to less than 1");
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  Rng rng(seed);
  rng.shuffle(order);
  // At least one validation image whenever a fraction is asked for and there is room.
  auto count = [n](double f) { return f <= 0 ? int64_t{0} : std::max<int64_t>(1, std::llround(f * static_cast<double>(n))); };
  const int64_t n_val = std::min(count(val_fraction), std::max<int64_t>(n - 1, 0));
  const int64_t n_test = std::min(count(test_fraction), std::max<int64_t>(n - 1 - n_val, 0));
  split.val.assign(order.begin(), order.begin() + n_val);
  split.test.assign(order.begin() + n_val, order.begin() + n_val + n_test);
  split.train.assign(order.begin() + n_val + n_test, order.end());
  for (auto* part : {&split.train, &split.val, &split.test}) std::sort(part->begin(), part->end());
  return split;
}

}  // namespace captioner
