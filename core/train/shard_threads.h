#pragma once
// The threads that run a training step's shares of the batch side by side. Each takes LibTorch's
// thread count as it was when it started (the trainer sets one first). They live as long as the
// run: a thread made for each step would cost its start every step.
#include <cstddef>
#include <functional>
#include <memory>

namespace captioner {

class ShardThreads {
 public:
  // `count` - 1 helper threads; the thread that calls run() is the first.
  explicit ShardThreads(size_t count);
  ~ShardThreads();
  ShardThreads(const ShardThreads&) = delete;
  ShardThreads& operator=(const ShardThreads&) = delete;

  size_t size() const;
  // Runs job(k) for every k in [0, n), n <= size(): job(0) on the calling thread, the others on
  // the helpers. Returns when all are done, rethrowing the first failure in share order.
  void run(size_t n, const std::function<void(size_t)>& job);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace captioner
