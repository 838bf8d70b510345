// BoundedQueue: the hand-off between the tailers and the scoring thread. A full queue blocks the
// producer (backpressure: tailers stop reading, files buffer on disk, nothing is dropped) and
// counts how often and how long producers waited, which the metrics endpoint reports. Thread-safe:
// any number of producers and consumers.
#ifndef FEDLOG_CLIENT_DETECT_BOUNDED_QUEUE_H_
#define FEDLOG_CLIENT_DETECT_BOUNDED_QUEUE_H_

#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace fedlog::client::detect {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // Appends `item`, waiting while the queue is full. False (item dropped) only after Close().
  bool Push(T item) {
    absl::MutexLock lock(&mu_);
    auto has_room = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return closed_ || items_.size() < capacity_;
    };
    if (!has_room()) {
      ++delayed_pushes_;
      const absl::Time start = absl::Now();
      mu_.Await(absl::Condition(&has_room));
      delayed_ns_ += absl::ToInt64Nanoseconds(absl::Now() - start);
    }
    if (closed_) return false;
    items_.push_back(std::move(item));
    return true;
  }

  // Moves up to `max` items into `out` (cleared first), waiting up to `timeout` for the first one.
  // Returns how many were taken; 0 on timeout or when closed and empty.
  size_t PopBatch(size_t max, absl::Duration timeout, std::vector<T>* out) {
    out->clear();
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return closed_ || !items_.empty(); };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    while (!items_.empty() && out->size() < max) {
      out->push_back(std::move(items_.front()));
      items_.pop_front();
    }
    return out->size();
  }

  // Wakes every waiter; later pushes fail, pops drain what is left.
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }

  size_t size() const {
    absl::MutexLock lock(&mu_);
    return items_.size();
  }
  size_t capacity() const { return capacity_; }
  // Pushes that found the queue full, and the total time they waited.
  int64_t delayed_pushes() const {
    absl::MutexLock lock(&mu_);
    return delayed_pushes_;
  }
  double delayed_seconds() const {
    absl::MutexLock lock(&mu_);
    return static_cast<double>(delayed_ns_) * 1e-9;
  }

 private:
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<T> items_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  int64_t delayed_pushes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t delayed_ns_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fedlog::client::detect

#endif  // FEDLOG_CLIENT_DETECT_BOUNDED_QUEUE_H_
