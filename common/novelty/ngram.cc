#include "common/novelty/ngram.h"

#include <algorithm>
#include <cmath>

namespace fedlog::novelty {

absl::Status NgramOptions::Validate() const {
  if (history < 1 || history > 64) return absl::InvalidArgumentError("ngram: history must be in [1, 64]");
  if (top_g < 1) return absl::InvalidArgumentError("ngram: top_g must be >= 1");
  if (min_support < 1) return absl::InvalidArgumentError("ngram: min_support must be >= 1");
  if (max_contexts < 1 || max_sessions < 1) {
    return absl::InvalidArgumentError("ngram: max_contexts and max_sessions must be >= 1");
  }
  return absl::OkStatus();
}

NgramModel::NgramModel(const NgramOptions& options) : options_(options) {}

uint64_t NgramModel::ContextKey(const std::vector<int32_t>& h, int length) {
  // FNV-1a style mixing of the length and the last `length` ids, newest first.
  uint64_t k = 1469598103934665603ull ^ static_cast<uint64_t>(length);
  k *= 1099511628211ull;
  for (int i = 0; i < length; ++i) {
    k ^= static_cast<uint64_t>(static_cast<uint32_t>(h[h.size() - 1 - static_cast<size_t>(i)]));
    k *= 1099511628211ull;
    k ^= k >> 29;
  }
  return k;
}

const std::vector<int32_t>* NgramModel::History(uint64_t session) const {
  auto it = history_.find(session);
  return it == history_.end() ? nullptr : &it->second;
}

NextEvent NgramModel::Score(uint64_t session, int32_t next) const {
  static const std::vector<int32_t> kEmpty;
  const std::vector<int32_t>* hp = History(session);
  const std::vector<int32_t>& h = hp == nullptr ? kEmpty : *hp;
  NextEvent out;
  const int longest = std::min<int>(options_.history, static_cast<int>(h.size()));
  for (int length = longest; length >= 0; --length) {
    auto it = contexts_.find(ContextKey(h, length));
    if (it == contexts_.end() || it->second.total < options_.min_support) continue;
    const Successors& s = it->second;
    auto n = s.next.find(next);
    const int64_t c = n == s.next.end() ? 0 : n->second;
    int above = 0;  // successors strictly more frequent than `next`
    for (const auto& [id, count] : s.next) above += count > c ? 1 : 0;
    out.judged = true;
    out.context = length;
    out.miss = c == 0 || above >= options_.top_g;
    if (out.miss) {
      out.surprise = std::max(0.0, -std::log((static_cast<double>(c) + 0.5) /
                                             (static_cast<double>(s.total) + 1.0)));
    }
    return out;
  }
  return out;
}

void NgramModel::Append(uint64_t session, int32_t next) {
  auto it = history_.find(session);
  if (it == history_.end()) {
    if (history_.size() >= options_.max_sessions) history_.clear();
    it = history_.emplace(session, std::vector<int32_t>()).first;
  }
  std::vector<int32_t>& h = it->second;
  h.push_back(next);
  if (h.size() > static_cast<size_t>(options_.history)) h.erase(h.begin());
}

void NgramModel::Observe(uint64_t session, int32_t next) {
  static const std::vector<int32_t> kEmpty;
  const std::vector<int32_t>* hp = History(session);
  const std::vector<int32_t>& h = hp == nullptr ? kEmpty : *hp;
  const int longest = std::min<int>(options_.history, static_cast<int>(h.size()));
  for (int length = 0; length <= longest; ++length) {
    const uint64_t key = ContextKey(h, length);
    auto it = contexts_.find(key);
    if (it == contexts_.end()) {
      if (contexts_.size() >= options_.max_contexts) continue;
      it = contexts_.emplace(key, Successors{}).first;
    }
    ++it->second.total;
    ++it->second.next[next];
  }
  Append(session, next);
}

void NgramModel::Advance(uint64_t session, int32_t next) { Append(session, next); }

}  // namespace fedlog::novelty
