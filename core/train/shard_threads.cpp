#include "core/train/shard_threads.h"

#include <ATen/Parallel.h>

#include <condition_variable>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace captioner {

struct ShardThreads::Impl {
  std::mutex mutex;
  std::condition_variable wake, done;
  uint64_t round = 0;  // bumped by each run(), so every helper sees each request once
  size_t active = 0;   // shares in the current round
  size_t pending = 0;  // helpers still working on it
  const std::function<void(size_t)>* job = nullptr;
  std::vector<std::exception_ptr> failures;
  bool quit = false;
  std::vector<std::thread> helpers;

  void serve(size_t k) {
    // This thread's OpenMP team takes LibTorch's thread count (the trainer sets one while it
    // shares its steps) before anything runs here: oneDNN reads the team size directly.
    at::init_num_threads();
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex);
    for (;;) {
      wake.wait(lock, [&] { return quit || round != seen; });
      if (quit) return;
      seen = round;
      if (k >= active) continue;
      const auto* work = job;
      lock.unlock();
      std::exception_ptr failure;
      try {
        (*work)(k);
      } catch (...) {
        failure = std::current_exception();
      }
      lock.lock();
      failures[k] = failure;
      if (--pending == 0) done.notify_all();
    }
  }
};

ShardThreads::ShardThreads(size_t count) : impl_(std::make_unique<Impl>()) {
  for (size_t k = 1; k < count; ++k) impl_->helpers.emplace_back([this, k] { impl_->serve(k); });
}

ShardThreads::~ShardThreads() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->quit = true;
  }
  impl_->wake.notify_all();
  for (auto& t : impl_->helpers) t.join();
}

size_t ShardThreads::size() const { return impl_->helpers.size() + 1; }

void ShardThreads::run(size_t n, const std::function<void(size_t)>& job) {
  if (n > size()) throw std::logic_error("ShardThreads::run: more shares than threads");
  Impl& d = *impl_;
  {
    std::lock_guard<std::mutex> lock(d.mutex);
    d.job = &job;
    d.active = n;
    d.pending = n > 0 ? n - 1 : 0;
    d.failures.assign(n, nullptr);
    ++d.round;
  }
  if (n > 1) d.wake.notify_all();
  std::exception_ptr first;
  if (n > 0) {
    try {
      job(0);
    } catch (...) {
      first = std::current_exception();
    }
  }
  std::unique_lock<std::mutex> lock(d.mutex);
  d.done.wait(lock, [&] { return d.pending == 0; });
  if (!first)
    for (const auto& f : d.failures)
      if (f) {
        first = f;
        break;
      }
  if (first) std::rethrow_exception(first);
}

}  // namespace captioner
