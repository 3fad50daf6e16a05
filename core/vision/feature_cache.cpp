#include "core/vision/feature_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "core/util/atomic_file.h"
#include "core/util/errors.h"
#include "core/util/file_lock.h"
#include "core/util/kill_point.h"
#include "core/util/npy.h"

namespace captioner {

namespace fs = std::filesystem;

CacheFiles cache_files(const std::string& out, bool pooled_only) {
  CacheFiles f;
  const bool npy = out.size() > 4 && out.compare(out.size() - 4, 4, ".npy") == 0;
  if (npy) {
    if (!pooled_only) throw ConfigError("a .npy output holds pooled features only: add --pooled-only or give a folder");
    f.pooled = out;
    f.partial = out + ".partial";
    f.list = out + ".images.txt";
    f.journal = out + ".progress.log";
  } else {
    f.pooled = out + "/pooled.npy";
    if (!pooled_only) f.grid = out + "/grid.npy";
    f.list = out + "/images.txt";
    f.journal = out + "/progress.log";
  }
  return f;
}

std::vector<std::string> list_images(const std::string& dir_or_list) {
  std::vector<std::string> images;
  std::error_code ec;
  if (fs::is_directory(dir_or_list, ec)) {
    static const char* exts[] = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"};
    for (auto it = fs::recursive_directory_iterator(dir_or_list, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      // Judged by name, not by what the entry is: a link that cannot be followed (a loop, a link
      // to nothing) is listed, and extraction reports why it cannot be read. Folders are walked.
      std::error_code type_ec;
      if (it->is_directory(type_ec)) continue;
      std::string ext = it->path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
      if (std::find(std::begin(exts), std::end(exts), ext) != std::end(exts)) images.push_back(it->path().string());
    }
    if (ec) throw DataError(dir_or_list, "cannot list folder: " + ec.message());
    std::sort(images.begin(), images.end());
  } else {
    std::istringstream in(read_file(dir_or_list));
    for (std::string line; std::getline(in, line);)
      if (!line.empty() && line[0] != '#') images.push_back(line);
  }
  if (images.empty()) throw DataError(dir_or_list, "holds no image files");
  return images;
}

namespace {

// images.txt holds one path per line; a path may itself hold a line break (Linux allows it), so
// backslash, newline and carriage return are written escaped.
std::string escape_line(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else
      out += c;
  }
  return out;
}

// An image below the folder that holds the cache's folder (the dataset's, for a cache kept beside
// its images) is listed relative to the cache, so a dataset folder copied or moved with its cache
// keeps it; any other image by its path as given.
std::string listed_path(const std::string& image, const fs::path& list_dir) {
  std::error_code ec;
  const fs::path file = fs::absolute(image, ec).lexically_normal();
  const fs::path root = fs::absolute(list_dir, ec).lexically_normal().parent_path();
  if (ec) return image;
  const fs::path below = file.lexically_relative(root);
  if (below.empty() || *below.begin() == "..") return image;
  return (fs::path("..") / below).string();
}

// The image a listed path names: relative to the cache when that file is there, else as written
// (caches listed paths as given before).
std::string resolved_path(const std::string& listed, const fs::path& list_dir) {
  if (listed.empty() || fs::path(listed).is_absolute()) return listed;
  const fs::path beside = (list_dir / listed).lexically_normal();
  std::error_code ec;
  return fs::exists(beside, ec) ? beside.string() : listed;
}

std::string unescape_line(const std::string& line) {
  std::string out;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] != '\\' || i + 1 == line.size()) {
      out += line[i];
      continue;
    }
    const char next = line[++i];
    out += next == 'n' ? '\n' : next == 'r' ? '\r' : next;
  }
  return out;
}

// A full-size .npy opened for in-place row writes. Created sparse when it does not exist yet.
class RowFile {
 public:
  RowFile(const std::string& path, const std::string& descr, std::vector<int64_t> shape, int64_t row_bytes)
      : path_(path), row_bytes_(row_bytes) {
    const std::string header = npy_header(descr, shape);
    header_bytes_ = static_cast<int64_t>(header.size());
    const int64_t total = header_bytes_ + row_bytes * shape[0];
    const bool exists = fs::exists(path);
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw DataError(path, std::string("cannot open for writing: ") + std::strerror(errno));
    if (exists) {
      std::string head(header.size(), '\0');
      if (::pread(fd_, head.data(), head.size(), 0) != static_cast<ssize_t>(head.size()) || head != header ||
          fs::file_size(path) != static_cast<uintmax_t>(total))
        throw DataError(path, "exists but is not this cache's array (shape or type differ); remove it or choose another output");
      return;
    }
    if (::pwrite(fd_, header.data(), header.size(), 0) != static_cast<ssize_t>(header.size()) || ::ftruncate(fd_, total) != 0)
      throw DataError(path, std::string("cannot create: ") + std::strerror(errno));
  }
  ~RowFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  void write_row(int64_t row, const void* data) {
    const auto* p = static_cast<const char*>(data);
    int64_t done = 0;
    while (done < row_bytes_) {
      const ssize_t n = ::pwrite(fd_, p + done, static_cast<size_t>(row_bytes_ - done), header_bytes_ + row * row_bytes_ + done);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw DataError(path_, std::string("write failed: ") + std::strerror(errno));
      }
      done += n;
    }
  }
  void sync() {
    if (::fdatasync(fd_) != 0) throw DataError(path_, std::string("cannot flush: ") + std::strerror(errno));
  }

 private:
  std::string path_;
  int fd_ = -1;
  int64_t header_bytes_ = 0;
  int64_t row_bytes_ = 0;
};

// Decoded images, produced by worker threads in any order.
struct Decoded {
  int64_t index;
  torch::Tensor input;  // [3, 299, 299]; undefined when the image was bad
  std::string error;
  FileIdentity identity;  // of the file as it was read
};

class DecodeQueue {
 public:
  explicit DecodeQueue(size_t capacity) : capacity_(capacity) {}
  // False once the consumer closed the queue: the item is dropped and the producer should stop,
  // rather than decode every remaining image into a queue nobody reads.
  bool push(Decoded item) {
    std::unique_lock<std::mutex> lock(mutex_);
    not_full_.wait(lock, [&] { return items_.size() < capacity_ || closed_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }
  std::optional<Decoded> pop() {  // empty once every producer finished and the queue drained
    std::unique_lock<std::mutex> lock(mutex_);
    not_empty_.wait(lock, [&] { return !items_.empty() || producers_ == 0; });
    if (items_.empty()) return std::nullopt;
    Decoded item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }
  void add_producer() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++producers_;
  }
  void producer_done() {
    std::lock_guard<std::mutex> lock(mutex_);
    --producers_;
    not_empty_.notify_all();
  }
  void close() {  // unblocks producers when the consumer stops early
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    items_.clear();
    not_full_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable not_full_, not_empty_;
  std::deque<Decoded> items_;
  size_t capacity_;
  int producers_ = 0;
  bool closed_ = false;
};

}  // namespace

FileIdentity file_identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {-2, 0};
  return {static_cast<int64_t>(st.st_size), static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

std::optional<CacheFiles> recorded_cache_files(const std::string& npy_path) {
  const fs::path p(npy_path);
  const bool folder = p.filename() == "pooled.npy" && fs::exists(p.parent_path() / "progress.log");
  CacheFiles files =
      folder ? cache_files(p.parent_path().string(), !fs::exists(p.parent_path() / "grid.npy")) : cache_files(npy_path, true);
  if (!fs::exists(files.journal) || !fs::exists(files.list)) return std::nullopt;
  return files;
}

std::string features_encoder_id(const std::string& npy_path) {
  const auto files = recorded_cache_files(npy_path);
  if (!files) return "";
  std::istringstream in(read_file(files->journal));
  std::string word, id;
  in >> word >> id;
  return word == "encoder" ? id : "";
}

DatasetExtraction extract_dataset_features(Encoder& encoder, CaptionDataset& dataset, const std::string& image_dir,
                                           const std::string& cache, ExtractObserver* observer, const std::atomic<bool>* cancel) {
  std::vector<std::string> files;
  for (const auto& image : dataset.images) files.push_back(image_dir + "/" + image.file);
  DatasetExtraction out;
  out.result = extract_features(encoder, files, cache, {}, observer, cancel);
  out.pooled = cache_files(cache, false).pooled;
  std::set<std::string> bad;
  for (const auto& failed : out.result.failed) bad.insert(failed.first);
  std::vector<ImageRecord> kept;
  for (size_t i = 0; i < dataset.images.size(); ++i) {
    if (bad.count(files[i])) continue;
    dataset.images[i].feature_row = static_cast<int64_t>(i);
    kept.push_back(std::move(dataset.images[i]));
  }
  dataset.images = std::move(kept);
  if (dataset.images.empty() && !out.result.cancelled) throw DataError(image_dir, "none of the dataset's images could be read");
  return out;
}

std::string extract_dataset_reporting(Encoder& encoder, CaptionDataset& dataset, const DatasetImages& where,
                                      ExtractObserver* observer, const std::atomic<bool>* cancel) {
  const DatasetExtraction x = extract_dataset_features(encoder, dataset, where.image_dir, where.cache, observer, cancel);
  if (x.result.cancelled) throw Cancelled("feature extraction cancelled; what was extracted is kept for next time");
  if (observer) {
    for (const auto& failed : x.result.failed) observer->on_note("skipped image: " + failed.second);
    if (!x.result.refreshed.empty())
      observer->on_note("features: " + std::to_string(x.result.refreshed.size()) +
                        " image(s) changed since they were cached and were encoded again");
  }
  return x.pooled;
}

GridLayer choose_grid_layer(const std::string& choice, const CaptionDataset& dataset, const std::string& features_path,
                            const std::string& encoder_path) {
  if (choice == "auto" && (dataset.format == DatasetFormat::Handout || !features_path.empty())) return GridLayer::Mixed10;
  return resolve_grid_layer(choice, encoder_path);
}

DatasetImages locate_dataset_images(const CaptionDataset& dataset, const std::string& image_dir, const std::string& cache,
                                    const std::string& run_dir, GridLayer layer) {
  DatasetImages where;
  if (dataset.format == DatasetFormat::Handout) {
    if (!image_dir.empty()) throw ConfigError("an image folder is for COCO or Karpathy data; a handout folder has its features");
    return where;
  }
  if (!image_dir.empty()) {
    where.image_dir = image_dir;
    where.cache = cache.empty() ? run_dir + "/" + feature_cache_name(layer) : cache;
    return where;
  }
  if (!dataset.images.empty() && std::filesystem::exists(dataset.image_root + "/" + dataset.images.front().file)) {
    where.image_dir = dataset.image_root;
    where.cache = cache.empty() ? dataset.image_root + "/" + feature_cache_name(layer) : cache;
  }
  return where;
}

namespace {

// Whether two image lists name the same files in the same order: "shapes/images/1.png" and
// "/data/shapes/images/1.png" are the same file when run from /data (a dataset given by a relative
// path once and an absolute one the next time).
bool same_images(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) continue;
    std::error_code ea, eb;
    const auto ca = std::filesystem::weakly_canonical(std::filesystem::absolute(a[i], ea), ea);
    const auto cb = std::filesystem::weakly_canonical(std::filesystem::absolute(b[i], eb), eb);
    if (ea || eb || ca != cb) return false;
  }
  return true;
}

// Whether the image of a done row is now another file. A file that cannot be seen from here (moved,
// or a relative path from another folder) and rows written before identities were kept count as
// unchanged: only a file known to differ makes its row stale.
bool row_is_stale(const CacheStatus& status, size_t i) {
  if (status.identity[i].size == -1) return false;
  const FileIdentity now = file_identity(status.images[i]);
  return now.size != -2 && !(now == status.identity[i]);
}

// Why row `row` of a recorded array holds no usable features, or "" when it does.
std::string missing_row_reason(const CacheStatus& status, int64_t row) {
  if (row < 0 || row >= static_cast<int64_t>(status.state.size())) return "outside the extracted image list";
  const auto i = static_cast<size_t>(row);
  if (status.state[i] == 1) {
    if (!row_is_stale(status, i)) return "";
    return status.images[i] + " changed after its features were extracted (extract again to refresh them)";
  }
  if (status.state[i] == 2) return status.images[i] + " could not be read: " + status.reasons[i];
  return status.images[i] + " has not been extracted yet (run the extraction again to finish it)";
}

}  // namespace

void require_extracted_rows(const std::string& npy_path, const CaptionDataset& dataset) {
  const auto files = recorded_cache_files(npy_path);
  if (!files) return;
  const CacheStatus status = read_cache_status(*files);
  for (const auto& image : dataset.images)
    if (const std::string why = missing_row_reason(status, image.feature_row); !why.empty())
      throw DataError(npy_path, "row " + std::to_string(image.feature_row) + " cannot be used: " + why);
}

std::vector<std::string> drop_images_without_features(const std::string& npy_path, CaptionDataset& dataset) {
  std::vector<std::string> dropped;
  const auto files = recorded_cache_files(npy_path);
  if (!files) return dropped;
  const CacheStatus status = read_cache_status(*files);
  std::vector<ImageRecord> kept;
  for (auto& image : dataset.images) {
    if (const std::string why = missing_row_reason(status, image.feature_row); !why.empty())
      dropped.push_back("row " + std::to_string(image.feature_row) + ": " + why);
    else
      kept.push_back(std::move(image));
  }
  dataset.images = std::move(kept);
  return dropped;
}

std::string grid_features_path(const std::string& pooled_path) {
  const fs::path p(pooled_path);
  if (p.filename() != "pooled.npy") return "";
  const fs::path grid = p.parent_path() / "grid.npy";
  return fs::exists(grid) ? grid.string() : "";
}

CacheStatus read_cache_status(const CacheFiles& files) {
  CacheStatus status;
  std::istringstream list(read_file(files.list));
  const fs::path list_dir = fs::path(files.list).parent_path();
  for (std::string line; std::getline(list, line);) status.images.push_back(resolved_path(unescape_line(line), list_dir));
  status.state.assign(status.images.size(), 0);
  status.reasons.assign(status.images.size(), "");
  status.identity.assign(status.images.size(), FileIdentity{});
  if (!fs::exists(files.journal)) return status;
  const std::string journal = read_file(files.journal);
  size_t start = 0;
  int64_t line_number = 0;
  while (start < journal.size()) {
    const size_t end = journal.find('\n', start);
    if (end == std::string::npos) break;  // a torn last line: that batch is redone
    std::istringstream line(journal.substr(start, end - start));
    start = end + 1;
    ++line_number;
    std::string first;
    line >> first;
    if (first == "encoder") {
      line >> status.encoder_id;
      continue;
    }
    std::string what;
    line >> what;
    int64_t index = -1;
    const auto parsed = std::from_chars(first.data(), first.data() + first.size(), index);
    if (parsed.ec != std::errc() || parsed.ptr != first.data() + first.size() || (what != "ok" && what != "failed"))
      throw DataError(files.journal, "line " + std::to_string(line_number) +
                                         ": not a progress entry (expected 'INDEX ok' or 'INDEX failed REASON'); "
                                         "delete the cache folder to extract again");
    if (index < 0 || index >= static_cast<int64_t>(status.state.size()))
      throw DataError(files.journal, "mentions image " + first + " outside the image list");
    status.state[static_cast<size_t>(index)] = what == "ok" ? 1 : 2;
    if (what == "ok") {
      FileIdentity identity;
      if (line >> identity.size >> identity.mtime_ns) status.identity[static_cast<size_t>(index)] = identity;
    }
    if (what != "ok") {
      std::getline(line, status.reasons[static_cast<size_t>(index)]);
      if (!status.reasons[static_cast<size_t>(index)].empty()) status.reasons[static_cast<size_t>(index)].erase(0, 1);
    }
  }
  return status;
}

namespace {

// The lock beside a cache: in its folder (made here, as open_cache would), or next to a single file.
std::string lock_path(const std::string& out, const CacheFiles& files) {
  if (files.pooled != out + "/pooled.npy") return files.pooled + ".lock";
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw DataError(out, "cannot create cache folder: " + ec.message());
  return out + "/.lock";
}

// One extraction into a cache: opens (or checks) the cache, plans what is left, decodes on worker
// threads, encodes and writes in batches, and logs each batch after its rows are synced.
class Extraction {
 public:
  Extraction(Encoder& encoder, const std::vector<std::string>& images, const std::string& out, const ExtractOptions& options,
             ExtractObserver* observer, const std::atomic<bool>* cancel)
      : encoder_(encoder),
        images_(images),
        options_(options),
        observer_(observer),
        cancel_(cancel),
        files_(cache_files(out, options.pooled_only)),
        lock_(lock_path(out, files_)),
        n_(static_cast<int64_t>(images.size())),
        channels_(grid_channels(encoder.net->grid_layer())),
        queue_(static_cast<size_t>(std::max<int64_t>(options.batch_size, 1) * 2)) {
    open_cache(out);
    open_rows();
    open_journal();
    plan();
  }

  ExtractResult run() {
    start_decoders();
    try {
      encode_all();
    } catch (...) {
      stop_decoders();
      throw;
    }
    stop_decoders();
    return finish();
  }

 private:
  bool cancelled() const { return cancel_ && cancel_->load(); }

  void open_cache(const std::string& out) {
    if (files_.pooled == out + "/pooled.npy") {
      std::error_code ec;
      fs::create_directories(out, ec);
      if (ec) throw DataError(out, "cannot create cache folder: " + ec.message());
    }
    if (fs::exists(files_.list)) {
      status_ = read_cache_status(files_);
      if (!same_images(status_.images, images_))
        throw DataError(files_.list, "this cache was made for another list of images; choose another output");
      if (!status_.encoder_id.empty() && status_.encoder_id != encoder_.id)
        throw DataError(files_.journal, "this cache holds features of encoder " + status_.encoder_id + ", not " + encoder_.id +
                                            "; delete its folder to extract it again, or choose another output");
      return;
    }
    std::string list_text;
    const fs::path list_dir = fs::path(files_.list).parent_path();
    for (const auto& p : images_) list_text += escape_line(listed_path(p, list_dir)) + "\n";
    write_file_atomically(files_.list, list_text);
    status_.images = images_;
    status_.state.assign(images_.size(), 0);
    status_.reasons.assign(images_.size(), "");
  }

  void open_rows() {
    // A .npy output is written under its partial name until every row is done (see CacheFiles).
    const bool complete_before = !files_.partial.empty() && fs::exists(files_.pooled) && !fs::exists(files_.partial);
    pooled_path_ = files_.partial.empty() || complete_before ? files_.pooled : files_.partial;
    pooled_ = std::make_unique<RowFile>(pooled_path_, "<f4", std::vector<int64_t>{n_, channels_}, channels_ * 4);
    if (!files_.grid.empty())
      grid_ = std::make_unique<RowFile>(files_.grid, "<f2", std::vector<int64_t>{n_, 64, channels_}, 64 * channels_ * 2);
  }

  void open_journal() {
    if (fs::exists(files_.journal)) {
      // A run killed mid-line leaves a torn last line: cut it, or the next line would be appended to it.
      const std::string text = read_file(files_.journal);
      if (!text.empty() && text.back() != '\n') {
        const size_t last_newline = text.find_last_of('\n');
        fs::resize_file(files_.journal, last_newline == std::string::npos ? 0 : last_newline + 1);
      }
    }
    journal_.open(files_.journal, std::ios::app);
    if (!journal_) throw DataError(files_.journal, "cannot open for appending");
    if (status_.encoder_id.empty()) journal_ << "encoder " << encoder_.id << "\n" << std::flush;
  }

  void plan() {
    // A row whose image file changed since it was written is stale: encode that image again.
    for (size_t i = 0; i < status_.state.size(); ++i) {
      if (status_.state[i] == 1 && row_is_stale(status_, i)) {
        status_.state[i] = 0;
        result_.refreshed.push_back(images_[i]);
      }
    }
    for (int64_t i = 0; i < n_; ++i) {
      if (status_.state[static_cast<size_t>(i)] == 0)
        todo_.push_back(i);
      else
        ++result_.skipped;
      progress_.failed += status_.state[static_cast<size_t>(i)] == 2;
    }
    progress_.total = n_;
    progress_.done = n_ - static_cast<int64_t>(todo_.size());
  }

  void start_decoders() {
    const int count = std::max(options_.workers, 1);
    for (int w = 0; w < count; ++w) queue_.add_producer();
    for (int w = 0; w < count; ++w) workers_.emplace_back([this] { decode(); });
  }

  // A decoding thread: takes the next image until none is left, the run is cancelled or the
  // queue is closed.
  void decode() {
    for (size_t k; (k = next_.fetch_add(1)) < todo_.size();) {
      if (cancelled()) break;
      const std::string& path = images_[static_cast<size_t>(todo_[k])];
      Decoded item{todo_[k], {}, {}, file_identity(path)};
      try {
        item.input = inception_input(load_image_rgb(path, options_.limits));
      } catch (const std::exception& e) {
        item.error = e.what();
        std::replace(item.error.begin(), item.error.end(), '\n', ' ');
      }
      if (!queue_.push(std::move(item))) break;
    }
    queue_.producer_done();
  }

  void stop_decoders() {
    queue_.close();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  void encode_all() {
    start_ = std::chrono::steady_clock::now();
    torch::NoGradGuard no_grad;
    std::vector<Decoded> batch;
    while (auto item = queue_.pop()) {
      batch.push_back(std::move(*item));
      if (static_cast<int64_t>(batch.size()) >= options_.batch_size) encode_batch(batch);
      if (cancelled()) break;
    }
    if (!cancelled() && !batch.empty()) encode_batch(batch);
  }

  void encode_batch(std::vector<Decoded>& batch) {
    write_rows(batch);
    kill_point("extract-synced");  // rows on disk, the journal does not list them yet
    log_batch(batch);
    kill_point("extract-logged");
    report(static_cast<int64_t>(batch.size()));
    batch.clear();
  }

  // Encodes the readable images of a batch and writes their rows, synced.
  void write_rows(const std::vector<Decoded>& batch) {
    std::vector<torch::Tensor> inputs;
    for (const auto& d : batch)
      if (d.input.defined()) inputs.push_back(d.input);
    if (inputs.empty()) return;
    const auto device = encoder_.net->parameters().front().device();
    const auto encoded = encoder_.net->forward(torch::stack(inputs).to(device));
    const auto pooled_rows = encoded.pooled.to(torch::kCPU).contiguous();
    const auto grid_rows =
        grid_ ? encoded.grid.permute({0, 2, 3, 1}).reshape({-1, 64, channels_}).to(torch::kCPU, torch::kHalf).contiguous()
              : torch::Tensor();
    int64_t k = 0;
    for (const auto& d : batch) {
      if (!d.input.defined()) continue;
      pooled_->write_row(d.index, pooled_rows[k].data_ptr());
      if (grid_) grid_->write_row(d.index, grid_rows[k].data_ptr());
      ++k;
    }
    pooled_->sync();
    if (grid_) grid_->sync();
  }

  void log_batch(const std::vector<Decoded>& batch) {
    for (const auto& d : batch) {
      if (d.input.defined()) {
        journal_ << d.index << " ok " << d.identity.size << ' ' << d.identity.mtime_ns << '\n';
        ++result_.encoded;
      } else {
        journal_ << d.index << " failed " << d.error << "\n";
        ++progress_.failed;
        if (observer_) observer_->on_bad_image(images_[static_cast<size_t>(d.index)], d.error);
      }
    }
    journal_.flush();
    if (!journal_) throw DataError(files_.journal, "cannot append progress");
  }

  void report(int64_t batch_size) {
    this_run_ += batch_size;
    progress_.done += batch_size;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    progress_.images_per_s = seconds > 0 ? static_cast<double>(this_run_) / seconds : 0;
    progress_.eta_s = progress_.images_per_s > 0 ? static_cast<double>(n_ - progress_.done) / progress_.images_per_s : 0;
    if (observer_) observer_->on_progress(progress_);
  }

  ExtractResult finish() {
    result_.cancelled = cancelled() && progress_.done < n_;
    if (pooled_path_ != files_.pooled && progress_.done == n_) {
      std::error_code ec;
      fs::rename(pooled_path_, files_.pooled, ec);
      if (ec) throw DataError(files_.pooled, "cannot rename the finished " + pooled_path_ + ": " + ec.message());
    }
    const CacheStatus final_status = read_cache_status(files_);
    for (size_t i = 0; i < images_.size(); ++i)
      if (final_status.state[i] == 2) result_.failed.emplace_back(images_[i], final_status.reasons[i]);
    return result_;
  }

  Encoder& encoder_;
  const std::vector<std::string>& images_;
  const ExtractOptions& options_;
  ExtractObserver* observer_;
  const std::atomic<bool>* cancel_;
  const CacheFiles files_;
  FileLock lock_;  // one writer per cache: ranks of a distributed run may all start extracting
  const int64_t n_;
  const int64_t channels_;
  CacheStatus status_;
  std::string pooled_path_;
  std::unique_ptr<RowFile> pooled_, grid_;
  std::ofstream journal_;
  ExtractResult result_;
  ExtractProgress progress_;
  std::vector<int64_t> todo_;
  DecodeQueue queue_;
  std::atomic<size_t> next_{0};
  std::vector<std::thread> workers_;
  std::chrono::steady_clock::time_point start_;
  int64_t this_run_ = 0;
};

}  // namespace

ExtractResult extract_features(Encoder& encoder, const std::vector<std::string>& images, const std::string& out,
                               const ExtractOptions& options, ExtractObserver* observer, const std::atomic<bool>* cancel) {
  return Extraction(encoder, images, out, options, observer, cancel).run();
}

FeatureTable open_dataset_features(const CaptionDataset& dataset, const std::string& pooled_path, bool grid) {
  std::string path = pooled_path;
  if (path.empty())
    throw DataError(dataset.source, "has no image features yet; pass a feature file (.npy, one row per image in file order)");
  // An extraction writes X.npy under X.npy.partial until its last row: such a file has rows that
  // were never written (zeros), and its journal is filed under X.npy's name.
  const std::string partial = ".partial";
  if (path.size() > partial.size() && path.compare(path.size() - partial.size(), partial.size(), partial) == 0)
    throw DataError(path,
                    "is an unfinished extraction (rows not encoded yet are zeros); run the same `captioner extract` "
                    "again to finish it, then use " +
                        path.substr(0, path.size() - partial.size()));
  require_extracted_rows(path, dataset);
  if (grid) {
    const std::string pooled = path;
    path = grid_features_path(pooled);
    if (path.empty())
      throw DataError(pooled,
                      "has no 8x8 grid beside it (grid.npy in a feature cache folder); the attention model "
                      "needs features extracted from the images into a cache folder, not --pooled-only");
  }
  FeatureTable table = FeatureTable::open(path);
  if (table.row_shape().size() != (grid ? 2u : 1u))
    throw DataError(path, grid ? "is not a grid array [images, cells, features]" : "is not a feature array [images, features]");
  int64_t needed = 0;
  for (const auto& image : dataset.images) needed = std::max(needed, image.feature_row + 1);
  if (table.rows() < needed)
    throw DataError(path, "has " + std::to_string(table.rows()) + " rows but the dataset needs " + std::to_string(needed));
  return table;
}

}  // namespace captioner
