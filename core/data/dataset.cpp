#include "core/data/dataset.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <unordered_map>

#include "core/data/tokenizer.h"
#include "core/util/atomic_file.h"
#include "core/util/errors.h"
#include "core/util/hash.h"
#include "core/util/json_walk.h"
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

// A caption longer than this is no caption (COCO's longest is under 300 characters): it is left
// out with a warning, so one stray paragraph cannot take the memory of millions of captions.
constexpr size_t kMaxCaptionChars = 2000;

// The folder of a dataset file, as an absolute path: image paths built from it (and kept in
// feature caches) then name the same files whatever folder a later command runs from.
std::string dir_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return absolute_path(slash == std::string::npos ? "." : path.substr(0, slash));
}

// The members of one list element that a reader wants, kept as the walk passes them (a
// container where a value was expected is kept as an empty one, for the type check to name).
using Members = std::unordered_map<std::string, json>;

void keep_member(Members& members, const JsonPlace& place, const json& value) { members[place.steps_.back().key] = value; }

const json& member(const Members& members, const char* key, const std::string& where, const std::string& path) {
  auto it = members.find(key);
  if (it == members.end()) throw DataError(path, where + ": missing \"" + key + "\"");
  return it->second;
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

// Captions over kMaxCaptionChars: how many, and where the first was.
struct LongCaptions {
  size_t count = 0;
  std::string first;
  void add(const std::string& where) {
    if (count++ == 0) first = where;
  }
  void report(CaptionDataset& ds, const std::string& path) const {
    if (count > 0)
      ds.warnings.push_back(path + ": left out " + std::to_string(count) + " caption(s) over " +
                            std::to_string(kMaxCaptionChars) + " characters (the first at " + first + ")");
  }
};

// The caption's tokens, or nothing for one too long to be a caption.
std::optional<TokenizedCaption> caption_from_text(const std::string& text, const std::string& where, const std::string& path,
                                                  LongCaptions& long_captions) {
  if (text.size() > kMaxCaptionChars) {
    long_captions.add(where);
    return std::nullopt;
  }
  TokenizedCaption tokens = tokenize(text);
  if (tokens.empty()) throw DataError(path, where + ": caption is empty");
  return tokens;
}

// A top-level member that must be a list of objects, and an element of it that must be an object.
void check_list_shape(const JsonPlace& place, bool is_container, bool array, const char* list, const std::string& path) {
  if (place.depth() == 0 && (!is_container || array)) throw DataError(path, "top level: expected an object");
  if (place.is({list}) && (!is_container || !array)) throw DataError(path, std::string("\"") + list + "\" must be a list");
  if (place.is({list, "*"}) && (!is_container || array)) throw DataError(path, place.name() + ": expected an object");
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

  LongCaptions long_captions;
  auto where = [](const JsonPlace& place) { return "entry " + std::to_string(place.index(0)); };
  auto not_a_list = [&](const JsonPlace& place, bool is_container, bool array) {
    if (place.depth() == 0 && (!is_container || !array))
      throw DataError(captions_path, "expected a list with one list of captions per image");
    if (place.depth() == 1 && (!is_container || !array))
      throw DataError(captions_path, where(place) + ": expected a list of captions");
    if (place.depth() == 2 && is_container)
      throw DataError(captions_path, where(place) + ", caption " + std::to_string(place.index(1)) + ": expected a string");
  };
  JsonWalkHandler handler;
  handler.on_open = [&](const JsonPlace& place, bool array) {
    not_a_list(place, true, array);
    if (place.depth() == 1) {
      ImageRecord record;
      record.key = std::to_string(place.index(0));
      record.id = record.key;
      record.feature_row = static_cast<int64_t>(place.index(0));
      ds.images.push_back(std::move(record));
    }
  };
  handler.on_value = [&](const JsonPlace& place, const json& value) {
    not_a_list(place, false, false);
    const std::string cwhere = where(place) + ", caption " + std::to_string(place.index(1));
    if (auto caption = caption_from_text(string_of(value, cwhere, captions_path), cwhere, captions_path, long_captions))
      ds.images.back().captions.push_back(std::move(*caption));
  };
  handler.on_close = [&](const JsonPlace& place, bool) {
    if (place.depth() == 1 && ds.images.back().captions.empty())
      throw DataError(captions_path, where(place) + ": has no captions" + (long_captions.count ? " under the length limit" : ""));
  };
  walk_json(read_file(captions_path), captions_path, handler);
  if (static_cast<int64_t>(ds.images.size()) != codes.rows())
    throw DataError(captions_path, "has " + std::to_string(ds.images.size()) + " caption lists but " + ds.features_path +
                                       " has " + std::to_string(codes.rows()) + " rows; they must match");
  long_captions.report(ds, captions_path);
  return ds;
}

namespace {

// COCO's two lists, gathered in one walk (in either order) and joined at the end.
struct CocoWalk {
  explicit CocoWalk(const std::string& p) : path(p) {}
  const std::string& path;
  std::vector<ImageRecord> records;
  std::unordered_map<std::string, size_t> by_id;
  std::vector<std::pair<std::string, TokenizedCaption>> captions;  // image id, caption
  std::vector<size_t> caption_index;                               // its place in "annotations"
  Members members;
  bool has_images = false, has_annotations = false;
  LongCaptions long_captions;

  void image(const JsonPlace& place) {
    const std::string where = place.name();
    ImageRecord r;
    r.key = id_of(member(members, "id", where, path), where + ".id", path);
    r.id = r.key;
    r.file = string_of(member(members, "file_name", where, path), where + ".file_name", path);
    r.feature_row = static_cast<int64_t>(place.index(1));
    if (!by_id.emplace(r.key, records.size()).second) throw DataError(path, where + ": image id " + r.key + " appears twice");
    records.push_back(std::move(r));
  }
  void annotation(const JsonPlace& place) {
    const std::string where = place.name();
    std::string image_id = id_of(member(members, "image_id", where, path), where + ".image_id", path);
    const std::string text = string_of(member(members, "caption", where, path), where + ".caption", path);
    if (auto caption = caption_from_text(text, where, path, long_captions)) {
      captions.emplace_back(std::move(image_id), std::move(*caption));
      caption_index.push_back(place.index(1));
    }
  }
  JsonWalkHandler handler() {
    JsonWalkHandler h;
    h.on_open = [this](const JsonPlace& place, bool array) {
      check_list_shape(place, true, array, "images", path);
      check_list_shape(place, true, array, "annotations", path);
      has_images |= place.is({"images"});
      has_annotations |= place.is({"annotations"});
      if (place.is({"images", "*", "?"}) || place.is({"annotations", "*", "?"}))
        keep_member(members, place, array ? json::array() : json::object());
    };
    h.on_value = [this](const JsonPlace& place, const json& value) {
      check_list_shape(place, false, false, "images", path);
      check_list_shape(place, false, false, "annotations", path);
      if (place.is({"images", "*", "?"}) || place.is({"annotations", "*", "?"})) keep_member(members, place, value);
    };
    h.on_close = [this](const JsonPlace& place, bool) {
      if (place.is({"images", "*"})) image(place);
      if (place.is({"annotations", "*"})) annotation(place);
      if (place.depth() == 2) members.clear();
    };
    return h;
  }
};

}  // namespace

CaptionDataset read_coco_captions(const std::string& json_path) {
  CocoWalk walk{json_path};
  walk_json(read_file(json_path), json_path, walk.handler());
  if (!walk.has_images) throw DataError(json_path, "top level: missing \"images\"");
  if (!walk.has_annotations) throw DataError(json_path, "top level: missing \"annotations\"");
  CaptionDataset ds;
  ds.format = DatasetFormat::Coco;
  ds.source = json_path;
  ds.image_root = dir_of(json_path);
  for (size_t i = 0; i < walk.captions.size(); ++i) {
    auto& [image_id, caption] = walk.captions[i];
    auto it = walk.by_id.find(image_id);
    if (it == walk.by_id.end())
      throw DataError(json_path, "annotations[" + std::to_string(walk.caption_index[i]) + "]: image_id " + image_id +
                                     " is not in \"images\"");
    walk.records[it->second].captions.push_back(std::move(caption));
  }
  size_t skipped = 0;
  for (auto& r : walk.records) {
    if (r.captions.empty()) {
      ++skipped;
      continue;
    }
    ds.images.push_back(std::move(r));
  }
  walk.long_captions.report(ds, json_path);
  if (skipped > 0) ds.warnings.push_back(json_path + ": skipped " + std::to_string(skipped) + " image(s) without captions");
  if (ds.images.empty()) throw DataError(json_path, "no image has a caption");
  return ds;
}

namespace {

Split split_of(const std::string& split, const std::string& where, const std::string& path) {
  if (split == "train" || split == "restval") return Split::Train;
  if (split == "val") return Split::Val;
  if (split == "test") return Split::Test;
  throw DataError(path, where + ": unknown split \"" + split + "\" (expected train, restval, val or test)");
}

// A Karpathy split file's images, each with its sentences (tokens, or else raw text).
struct KarpathyWalk {
  explicit KarpathyWalk(const std::string& p) : path(p) {}
  const std::string& path;
  CaptionDataset ds;
  std::unordered_map<std::string, size_t> seen;
  Members members;                 // of the image
  std::vector<std::string> words;  // of the sentence: its tokens
  std::optional<std::string> raw;
  bool has_tokens = false, has_sentences = false, has_images = false;
  size_t sentence_count = 0;  // of the image
  LongCaptions long_captions;

  void sentence(const JsonPlace& place) {
    const std::string where = place.name();
    if (!has_tokens && !raw) throw DataError(path, where + ": missing \"raw\"");
    // Re-tokenizing the joined tokens lower-cases them and is a no-op on clean input.
    const std::string text = has_tokens ? join_tokens(words) : *raw;
    if (auto caption = caption_from_text(text, where, path, long_captions)) current().captions.push_back(std::move(*caption));
    words.clear();
    raw.reset();
    has_tokens = false;
    ++sentence_count;
  }
  ImageRecord& current() { return ds.images.back(); }
  void begin_image(size_t index) {
    ImageRecord r;
    r.id = std::to_string(index);
    r.feature_row = static_cast<int64_t>(index);
    ds.images.push_back(std::move(r));
    has_sentences = false;
    sentence_count = 0;
  }
  void end_image(const JsonPlace& place) {
    const std::string where = place.name();
    ImageRecord& r = current();
    const std::string filename = string_of(member(members, "filename", where, path), where + ".filename", path);
    auto fp = members.find("filepath");
    const bool has_path = fp != members.end() && fp->second.is_string() && !fp->second.get<std::string>().empty();
    r.file = has_path ? fp->second.get<std::string>() + "/" + filename : filename;
    r.key = r.file;
    for (const char* id_key : {"cocoid", "imgid"}) {
      auto id = members.find(id_key);
      if (id != members.end() && (id->second.is_number_integer() || id->second.is_string())) {
        r.id = id->second.is_string() ? id->second.get<std::string>() : std::to_string(id->second.get<int64_t>());
        break;
      }
    }
    if (!seen.emplace(r.key, place.index(1)).second) throw DataError(path, where + ": image " + r.key + " appears twice");
    r.split = split_of(string_of(member(members, "split", where, path), where + ".split", path), where + ".split", path);
    if (!has_sentences) throw DataError(path, where + ": missing \"sentences\"");
    members.clear();
  }
  void value(const JsonPlace& place, const json& v) {
    check_list_shape(place, false, false, "images", path);
    if (place.is({"images", "*", "sentences"})) throw DataError(path, place.name() + ": expected a non-empty list");
    if (place.is({"images", "*", "sentences", "*"})) throw DataError(path, place.name() + ": expected an object");
    if (place.is({"images", "*", "sentences", "*", "tokens"}))
      throw DataError(path, place.name() + ": expected a list of strings");
    if (place.is({"images", "*", "sentences", "*", "tokens", "*"}))
      words.push_back(string_of(v, place.name(), path));
    else if (place.is({"images", "*", "sentences", "*", "raw"}))
      raw = string_of(v, place.name(), path);
    else if (place.is({"images", "*", "?"}))
      keep_member(members, place, v);
  }
  void open(const JsonPlace& place, bool array) {
    check_list_shape(place, true, array, "images", path);
    has_images |= place.is({"images"});
    if (place.is({"images", "*"})) begin_image(place.index(1));
    if (place.is({"images", "*", "sentences"})) {
      if (!array) throw DataError(path, place.name() + ": expected a non-empty list");
      has_sentences = true;
    } else if (place.is({"images", "*", "sentences", "*"}) && array) {
      throw DataError(path, place.name() + ": expected an object");
    } else if (place.is({"images", "*", "sentences", "*", "tokens"})) {
      if (!array) throw DataError(path, place.name() + ": expected a list of strings");
      has_tokens = true;
    } else if (place.is({"images", "*", "sentences", "*", "tokens", "*"}) || place.is({"images", "*", "sentences", "*", "raw"})) {
      throw DataError(path, place.name() + ": expected a string");
    } else if (place.is({"images", "*", "?"})) {
      keep_member(members, place, array ? json::array() : json::object());
    }
  }
  JsonWalkHandler handler() {
    JsonWalkHandler h;
    h.on_open = [this](const JsonPlace& place, bool array) { open(place, array); };
    h.on_value = [this](const JsonPlace& place, const json& v) { value(place, v); };
    h.on_close = [this](const JsonPlace& place, bool) {
      if (place.is({"images", "*", "sentences", "*"})) sentence(place);
      if (place.is({"images", "*", "sentences"}) && sentence_count == 0)
        throw DataError(path, place.name() + ": expected a non-empty list");
      if (place.is({"images", "*"})) end_image(place);
    };
    return h;
  }
};

}  // namespace

CaptionDataset read_karpathy(const std::string& json_path) {
  KarpathyWalk walk{json_path};
  walk_json(read_file(json_path), json_path, walk.handler());
  if (!walk.has_images) throw DataError(json_path, "top level: missing \"images\"");
  CaptionDataset ds = std::move(walk.ds);
  ds.format = DatasetFormat::Karpathy;
  ds.source = json_path;
  ds.image_root = dir_of(json_path);
  const size_t listed = ds.images.size();
  ds.images.erase(std::remove_if(ds.images.begin(), ds.images.end(), [](const ImageRecord& r) { return r.captions.empty(); }),
                  ds.images.end());
  walk.long_captions.report(ds, json_path);
  if (ds.images.size() < listed)
    ds.warnings.push_back(json_path + ": skipped " + std::to_string(listed - ds.images.size()) +
                          " image(s) whose every caption was left out");
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
  // The top level's member names, read without keeping anything else.
  bool annotations = false, images = false, object = false;
  JsonWalkHandler sniff;
  sniff.on_open = [&](const JsonPlace& place, bool array) {
    object |= place.depth() == 0 && !array;
    annotations |= place.is({"annotations"});
    images |= place.is({"images"});
  };
  sniff.on_value = [&](const JsonPlace& place, const json&) {
    annotations |= place.is({"annotations"});
    images |= place.is({"images"});
  };
  walk_json(read_file(path), path, sniff);
  if (object && annotations) return read_coco_captions(path);
  if (object && images) return read_karpathy(path);
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
