#pragma once
// Captions for many concurrent callers, computed in batches: each caller's image bytes are
// queued; the model loop (run(), on a thread of the owner's choosing) takes up to max_batch of
// them, waiting at most max_wait_ms after the first for others to join, decodes the images one at
// a time (so one full-size image is in memory at once), encodes them as one batch and decodes
// their captions (greedy ones together). Plain C++ types only in this header.
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/infer/caption_service.h"
#include "core/vision/image_io.h"

namespace captioner {

struct BatchOptions {
  int max_batch = 8;
  int max_wait_ms = 10;
  int max_queue = 64;       // images waiting or being captioned; more are refused (QueueFull)
  int timeout_ms = 60'000;  // a caller's longest wait for its captions (RequestTimeout)
  std::string device = "auto";
  std::string precision = "auto";  // the encoder's (load_encoder)
  ImageLimits limits;
};

class QueueFull : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class RequestTimeout : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct BatchStats {
  int64_t batches = 0;
  int64_t images = 0;   // captioned (unreadable ones aside); mean batch size: images / batches
  int64_t pending = 0;  // waiting or being captioned
};

class BatchCaptioner {
 public:
  // Loads the run folder or checkpoint and its encoder (encoder_path, or the installed one);
  // throws CheckpointError / DataError / ConfigError as the Caption tab's loading does.
  BatchCaptioner(const std::string& model_path, const std::string& encoder_path, const BatchOptions& options);
  ~BatchCaptioner();

  // The model loop: captions what callers queue until stop(), then answers what is still queued
  // and returns. LibTorch's CPU kernels ran about 1.5-2x slower here on a thread other than the
  // process's first (Debian's LibTorch 1.13, OpenMP), so `captioner serve` runs it there.
  void run();
  void stop();  // from any thread
  BatchCaptioner(const BatchCaptioner&) = delete;
  BatchCaptioner& operator=(const BatchCaptioner&) = delete;

  // Told on the model loop's thread as a greedy or sampled caption grows, word by word: which
  // caption (the sample), its text so far and the word just decoded (null for END). Must not throw.
  using TextObserver = std::function<void(size_t choice, const std::string& text_so_far, const CaptionWord* word)>;

  // The captions of an image given as its file's bytes; thread-safe, blocks until answered
  // (by run(), on another thread).
  // Throws DataError (naming `name`) for an image that cannot be read, QueueFull, RequestTimeout.
  std::vector<CaptionResult> caption(const std::string& image_bytes, const std::string& name, const DecodeOptions& options,
                                     const TextObserver& on_text = {});

  bool attends() const;
  std::string checkpoint() const;  // the checkpoint file loaded
  std::string summary() const;     // LoadedCheckpoint::summary
  BatchStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace captioner
