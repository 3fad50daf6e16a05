#pragma once
// Feature extraction into an on-disk cache that survives interruption.
//
// A cache is either a folder (pooled.npy float32 [N, 2048], grid.npy float16 [N, 64, 2048] with
// the 8x8 cells row-major and channels last, images.txt, progress.log) or, pooled only, a
// standard X.npy with X.npy.images.txt and X.npy.progress.log beside it (written as X.npy.partial
// and renamed once complete). The arrays are created at full size up front; each finished batch is written in place and synced
// before its lines are appended to progress.log, so a kill at any moment leaves no row marked done that is not on disk. A second
// run with the same image list and encoder skips every image already done or failed, and encodes again the images whose file
// changed since (each done row records the file's size and modification time: "INDEX ok SIZE MTIME_NS").
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/feature_table.h"
#include "core/vision/encoder.h"
#include "core/vision/image_io.h"

namespace captioner {

struct ExtractOptions {
  int64_t batch_size = 8;
  int workers = 2;  // image-decoding threads running beside the encoder
  bool pooled_only = false;
  ImageLimits limits;
};

struct ExtractProgress {
  int64_t done = 0;  // encoded or failed, this run and earlier ones
  int64_t total = 0;
  int64_t failed = 0;
  double images_per_s = 0;
  double eta_s = 0;
};

class ExtractObserver {
 public:
  virtual ~ExtractObserver() = default;
  virtual void on_progress(const ExtractProgress& progress) {}
  virtual void on_bad_image(const std::string& path, const std::string& reason) {}
  // A line for the user about the data (an image skipped, a stale row encoded again).
  virtual void on_note(const std::string& text) {}
};

struct ExtractResult {
  int64_t encoded = 0;  // this run
  int64_t skipped = 0;  // already in the cache
  // Images whose file changed (size or modification time) since their row was written: their
  // rows were stale, and they were encoded again (counted in `encoded`).
  std::vector<std::string> refreshed;
  std::vector<std::pair<std::string, std::string>> failed;  // path, reason (this and earlier runs)
  bool cancelled = false;
};

struct CacheFiles {
  std::string pooled, grid, list, journal;  // grid empty when pooled only
  // A .npy output is written here and renamed to `pooled` only once every row is done, so a file
  // under the final name is always complete; empty for a cache folder (its journal says).
  std::string partial;
};
// Where a cache at `out` keeps its files: a folder, or (pooled only) a .npy path.
CacheFiles cache_files(const std::string& out, bool pooled_only);
// The record extract_features keeps beside a feature array it wrote (a cache folder's pooled.npy,
// or X.npy with X.npy.images.txt and X.npy.progress.log); nullopt for any other array.
std::optional<CacheFiles> recorded_cache_files(const std::string& npy_path);
// Refuses (DataError naming the array) a dataset whose images use rows that the array's record
// says hold no features: images that could not be read, or that extraction has not reached.
void require_extracted_rows(const std::string& npy_path, const CaptionDataset& dataset);
// Drops the images whose rows hold no features (as above) and returns one line per image dropped.
std::vector<std::string> drop_images_without_features(const std::string& npy_path, CaptionDataset& dataset);

ExtractResult extract_features(Encoder& encoder, const std::vector<std::string>& images, const std::string& out,
                               const ExtractOptions& options, ExtractObserver* observer = nullptr,
                               const std::atomic<bool>* cancel = nullptr);

// Where a dataset's images are and where their feature cache goes. With `image_dir` (the user
// named the folder) the cache goes in `run_dir`, so a user's image folder is never written to;
// without it, a dataset whose JSON lists images beside it (Shapes) is used in place and caches
// beside them. The cache folder's name depends on the layer (feature_cache_name); `cache`, when
// given, overrides it. image_dir is empty when the dataset has no image files here (a handout
// folder has its features; refused with ConfigError when `image_dir` is given for one).
struct DatasetImages {
  std::string image_dir;  // where the dataset's image paths are relative to; empty: no image files
  std::string cache;      // feature cache folder
};
DatasetImages locate_dataset_images(const CaptionDataset& dataset, const std::string& image_dir, const std::string& cache,
                                    const std::string& run_dir, GridLayer layer);

// The layer whose features a run on `dataset` uses, given the user's choice ("auto", "mixed10",
// "mixed5"). Data that brings its own features (a handout folder, `features_path`) never meets
// the encoder, so "auto" is mixed10 there; otherwise resolve_grid_layer with the encoder at
// `encoder_path` (empty: the installed one).
GridLayer choose_grid_layer(const std::string& choice, const CaptionDataset& dataset, const std::string& features_path,
                            const std::string& encoder_path);

struct DatasetExtraction {
  ExtractResult result;  // as extract_features reports it
  std::string pooled;    // the cache's pooled feature file
};
// Encodes every image of `dataset` (files image_dir/record.file) into the cache at `cache`, then
// keeps only the images that were encoded, each with feature_row = its position in the dataset
// file (the cache's row). Whoever calls reports result.failed and decides what a cancel means.
// Throws DataError naming image_dir when no image could be read.
DatasetExtraction extract_dataset_features(Encoder& encoder, CaptionDataset& dataset, const std::string& image_dir,
                                           const std::string& cache, ExtractObserver* observer = nullptr,
                                           const std::atomic<bool>* cancel = nullptr);

// extract_dataset_features as training and evaluation both use it: skipped and re-encoded images
// reported to observer->on_note, and a cancel thrown as Cancelled (what was extracted is kept).
// Returns the cache's pooled feature file.
std::string extract_dataset_reporting(Encoder& encoder, CaptionDataset& dataset, const DatasetImages& where,
                                      ExtractObserver* observer, const std::atomic<bool>* cancel);

// Image files under `dir` (recursively, by extension, sorted), or the lines of a list file.
std::vector<std::string> list_images(const std::string& dir_or_list);

// The identity of an image file when its row was written: a changed file makes the row stale.
struct FileIdentity {
  int64_t size = -1;  // -1: not recorded (caches written before identities were kept)
  int64_t mtime_ns = 0;
  bool operator==(const FileIdentity& o) const { return size == o.size && mtime_ns == o.mtime_ns; }
};
FileIdentity file_identity(const std::string& path);  // size -2 when the file cannot be stat'ed

struct CacheStatus {
  std::vector<std::string> images;
  std::vector<int8_t> state;           // 0 pending, 1 done, 2 failed
  std::vector<std::string> reasons;    // why, for failed images
  std::vector<FileIdentity> identity;  // of done rows
  std::string encoder_id;
};
// The encoder id recorded beside a feature array written by extract_features (X.npy with its
// X.npy.progress.log, or a cache folder's pooled.npy); empty when the array has no such record.
std::string features_encoder_id(const std::string& npy_path);

// The grid array of the cache a pooled feature file belongs to (a cache folder's grid.npy beside
// its pooled.npy); empty when there is none.
std::string grid_features_path(const std::string& pooled_path);

// Reads a cache's image list and journal; throws DataError naming the file when they disagree.
CacheStatus read_cache_status(const CacheFiles& files);

// The features a model reads for `dataset`, checked against it: the pooled vectors at
// `pooled_path` (one row per image, each row extracted), or with `grid` the 8x8 grid cached beside
// them. Throws DataError naming the file when a row is missing, unreadable or of the wrong shape.
FeatureTable open_dataset_features(const CaptionDataset& dataset, const std::string& pooled_path, bool grid);

}  // namespace captioner
