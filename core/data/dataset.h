#pragma once
// Caption datasets as the core sees them, and readers for the formats users bring:
// the notebook's handout folder, COCO captions JSON and Karpathy split JSON.
#include <cstdint>
#include <string>
#include <vector>

#include "core/data/vocabulary.h"

namespace captioner {

enum class Split { Unassigned, Train, Val, Test };
const char* split_name(Split split);

enum class DatasetFormat { Handout, Coco, Karpathy };
const char* format_name(DatasetFormat format);

struct ImageRecord {
  std::string key;   // COCO image id, Karpathy file path, or the handout's row number
  std::string id;    // the image id results files use: COCO id, Karpathy cocoid (else imgid), handout row
  std::string file;  // image file relative to CaptionDataset::image_root; empty for the handout
  std::vector<TokenizedCaption> captions;
  Split split = Split::Unassigned;  // the dataset's own split, when it has one
  int64_t feature_row = 0;          // row of this image in a feature array laid out in file order
};

struct CaptionDataset {
  DatasetFormat format = DatasetFormat::Handout;
  std::string source;         // the file or folder it was read from
  std::string features_path;  // handout: its image_codes.npy; otherwise empty until features exist
  std::string image_root;     // folder the image files are relative to (COCO, Karpathy)
  std::vector<ImageRecord> images;
  std::vector<std::string> warnings;  // skipped entries, said once each

  bool has_own_split() const;
  size_t caption_count() const;
};

// Folder with image_codes.npy (float [N, D]) and captions_tokenized.json (N lists of strings).
CaptionDataset read_handout(const std::string& dir);
// COCO annotations/captions_*.json. Images without captions are skipped with a warning.
CaptionDataset read_coco_captions(const std::string& json_path);
// Karpathy's dataset_{coco,flickr8k,flickr30k}.json; restval counts as train.
CaptionDataset read_karpathy(const std::string& json_path);
// Identifies a dataset's contents (format, image keys and captions, in order), so that a run
// resumed on other data is refused.
std::string dataset_fingerprint(const CaptionDataset& dataset);

// Picks the reader from what `path` is: a handout folder, or a COCO / Karpathy JSON file.
CaptionDataset read_dataset(const std::string& path);
// `path` made absolute and normalised, without a trailing slash, so that it names the same file
// from any folder (image paths in feature caches, a run's dataset); unchanged when it cannot be.
std::string absolute_path(const std::string& path);

struct DatasetSplit {
  std::vector<int64_t> train, val, test;
};

// Split by image, never by caption. A dataset's own split is honoured (unassigned images go to
// train); otherwise a seeded shuffle assigns the given fractions. Same inputs, same split.
DatasetSplit split_images(const CaptionDataset& dataset, double val_fraction, double test_fraction, uint64_t seed);

}  // namespace captioner
