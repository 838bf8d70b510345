#include "common/novelty/signals.h"

#include <algorithm>
#include <cmath>

#include "common/logparse/drain.h"

namespace fedlog::novelty {

// ---- TemplateCounts

double TemplateCounts::Score(int32_t id) const {
  if (total_ == 0) return 0;
  const double p = (static_cast<double>(Count(id)) + 0.5) / (static_cast<double>(total_) + 1.0);
  return std::max(0.0, -std::log(p));
}

int64_t TemplateCounts::Count(int32_t id) const {
  auto it = counts_.find(id);
  return it == counts_.end() ? 0 : it->second;
}

void TemplateCounts::Observe(int32_t id) {
  ++counts_[id];
  ++total_;
}

// ---- RateTracker

RateTracker::RateTracker(const RateOptions& options) : options_(options) {
  options_.bucket_width = std::max<int64_t>(options_.bucket_width, 1);
}

RateTracker::State RateTracker::Advance(const State& s, int64_t bucket) const {
  if (bucket <= s.bucket) return s;
  State out;
  out.bucket = bucket;
  const double keep = 1.0 - options_.decay;
  out.mean = keep * s.mean + options_.decay * s.count;  // the bucket that just finished
  const int64_t empty = bucket - s.bucket - 1;
  if (empty > 0) out.mean *= std::pow(keep, static_cast<double>(std::min<int64_t>(empty, 100000)));
  return out;
}

double RateTracker::Score(uint64_t key, int64_t tick) const {
  const int64_t bucket = tick / options_.bucket_width;
  auto it = keys_.find(key);
  State s;
  if (it == keys_.end()) {
    s.bucket = bucket;
  } else {
    s = Advance(it->second, bucket);
  }
  const double c = s.count + 1.0;
  const double m = std::max(s.mean, options_.floor_rate);
  if (c <= m) return 0;
  return c * std::log(c / m) - (c - m);
}

void RateTracker::Observe(uint64_t key, int64_t tick) {
  const int64_t bucket = tick / options_.bucket_width;
  auto it = keys_.find(key);
  if (it == keys_.end()) {
    if (keys_.size() >= options_.max_keys) return;
    State s;
    s.bucket = bucket;
    s.count = 1;
    keys_.emplace(key, s);
    return;
  }
  it->second = Advance(it->second, bucket);
  it->second.count += 1.0;
}

// ---- ParamValues

ParamValues::ParamValues(const ParamOptions& options) : options_(options) {}

uint64_t ParamValues::Key(int32_t template_id, size_t position) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(template_id)) << 20) ^
         static_cast<uint64_t>(position);
}

double ParamValues::Score(int32_t template_id, const std::vector<std::string_view>& params,
                          int* which) const {
  double best = 0;
  if (which != nullptr) *which = -1;
  for (size_t i = 0; i < params.size(); ++i) {
    auto it = positions_.find(Key(template_id, i));
    if (it == positions_.end() || it->second.n < options_.min_count) continue;
    const Position& pos = it->second;
    auto v = pos.values.find(logparse::TokenHash(params[i]));
    const double n1 = static_cast<double>(pos.n) + 1.0;
    double p;
    if (v != pos.values.end()) {
      p = static_cast<double>(v->second) / n1;
    } else {
      p = std::max(static_cast<double>(pos.singletons), 0.5) / n1;
    }
    const double s = std::max(0.0, -std::log(std::min(p, 1.0)));
    if (s > best) {
      best = s;
      if (which != nullptr) *which = static_cast<int>(i);
    }
  }
  return best;
}

double ParamValues::Share(int32_t template_id, size_t position, std::string_view value) const {
  auto it = positions_.find(Key(template_id, position));
  if (it == positions_.end()) return 0.0;
  auto v = it->second.values.find(logparse::TokenHash(value));
  if (v == it->second.values.end()) return 0.0;
  return static_cast<double>(v->second) / (static_cast<double>(it->second.n) + 1.0);
}

void ParamValues::Observe(int32_t template_id, const std::vector<std::string_view>& params) {
  for (size_t i = 0; i < params.size(); ++i) {
    const uint64_t key = Key(template_id, i);
    auto it = positions_.find(key);
    if (it == positions_.end()) {
      if (positions_.size() >= options_.max_positions) continue;
      it = positions_.emplace(key, Position{}).first;
    }
    Position& pos = it->second;
    ++pos.n;
    const uint64_t h = logparse::TokenHash(params[i]);
    auto v = pos.values.find(h);
    if (v == pos.values.end()) {
      // Past the cap a new value is counted as a singleton that is never seen again.
      ++pos.singletons;
      if (pos.values.size() < options_.max_distinct) pos.values.emplace(h, 1);
    } else {
      if (v->second == 1) --pos.singletons;
      ++v->second;
    }
  }
}

// ---- AlarmRecurrence

double AlarmRecurrence::Score(int32_t template_id) const {
  auto it = counts_.find(template_id);
  return it == counts_.end() ? 0.0 : std::log1p(static_cast<double>(it->second.count));
}

double AlarmRecurrence::RateScore(int32_t template_id, int64_t now, double scale) const {
  auto it = counts_.find(template_id);
  if (it == counts_.end()) return 0.0;
  const double age = static_cast<double>(std::max<int64_t>(0, now - it->second.first));
  return std::log1p(static_cast<double>(it->second.count) * scale / (scale + age));
}

void AlarmRecurrence::Observe(int32_t template_id, bool alarm, int64_t now) {
  if (!alarm) return;
  auto it = counts_.find(template_id);
  if (it != counts_.end()) {
    ++it->second.count;
  } else if (counts_.size() < max_templates_) {
    counts_.emplace(template_id, Counts{1, now});
  }
}

// ---- LevelShare

double LevelShare::Surprise(uint64_t key, double cap) const {
  auto it = counts_.find(key);
  const double severe = it == counts_.end() ? 0.0 : static_cast<double>(it->second.severe);
  const double lines = it == counts_.end() ? 0.0 : static_cast<double>(it->second.lines);
  const double s = -std::log((severe + 0.5) / (lines + 1.0));
  return std::clamp(s, 0.0, std::max(cap, 0.0));
}

void LevelShare::Observe(uint64_t key, bool severe) {
  auto it = counts_.find(key);
  if (it == counts_.end()) {
    if (counts_.size() >= max_keys_) return;
    it = counts_.emplace(key, Counts{}).first;
  }
  ++it->second.lines;
  it->second.severe += severe ? 1 : 0;
}

// ---- SequenceModel

SequenceModel::SequenceModel(const SequenceOptions& options) : options_(options) {}

int32_t SequenceModel::Previous(uint64_t session) const {
  auto it = last_.find(session);
  return it == last_.end() ? kStart : it->second;
}

double SequenceModel::Score(uint64_t session, int32_t next, bool* top_g_miss) const {
  if (top_g_miss != nullptr) *top_g_miss = false;
  auto t = transitions_.find(Previous(session));
  if (t == transitions_.end() || t->second.total < options_.min_support) return 0;
  const Successors& s = t->second;
  auto it = s.next.find(next);
  const int64_t c = it == s.next.end() ? 0 : it->second;
  int rank = 0;  // successors strictly more frequent than `next`
  for (const auto& [id, n] : s.next) rank += n > c ? 1 : 0;
  if (rank < options_.top_g && c > 0) return 0;
  if (top_g_miss != nullptr) *top_g_miss = true;
  const double p = (static_cast<double>(c) + 0.5) / (static_cast<double>(s.total) + 1.0);
  return std::max(0.0, -std::log(p));
}

void SequenceModel::Observe(uint64_t session, int32_t next) {
  Successors& s = transitions_[Previous(session)];
  ++s.total;
  ++s.next[next];
  if (last_.size() >= options_.max_sessions && last_.find(session) == last_.end()) last_.clear();
  last_[session] = next;
}

}  // namespace fedlog::novelty
