#include "common/novelty/session_shape.h"

#include <algorithm>
#include <cmath>

namespace fedlog::novelty {
namespace {

// A relation that held in fewer than half of its sessions is not an invariant.
const double kMinSurprise = std::log(2.0);

double Surprise(int64_t violations, int64_t n) {
  return -std::log((static_cast<double>(violations) + 0.5) / (static_cast<double>(n) + 1.0));
}

uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h;
}

}  // namespace

absl::Status ShapeOptions::Validate() const {
  if (quiet_ms < 1 || quiet_lines < 1) {
    return absl::InvalidArgumentError("session: quiet_ms and quiet_lines must be >= 1");
  }
  if (incomplete_quiet_ms < 0) return absl::InvalidArgumentError("session: incomplete_quiet_ms must be >= 0");
  if (!(incomplete_share > 0 && incomplete_share <= 0.5)) {
    return absl::InvalidArgumentError("session: incomplete_share must be in (0, 0.5]");
  }
  if (min_support < 1) return absl::InvalidArgumentError("session: min_support must be >= 1");
  if (signature_count_cap < 1) {
    return absl::InvalidArgumentError("session: signature_count_cap must be >= 1");
  }
  if (max_open_sessions < 1 || max_session_templates < 1 || max_templates < 2 ||
      max_signatures < 1) {
    return absl::InvalidArgumentError("session: the caps must be positive (max_templates >= 2)");
  }
  if (max_union_keys < 1 || max_union_keys > 10000000) {
    return absl::InvalidArgumentError("session: max_union_keys must be in [1, 10000000]");
  }
  return absl::OkStatus();
}

SessionShapes::SessionShapes(const ShapeOptions& options) : options_(options) {}

uint64_t SessionShapes::PairKey(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) |
         static_cast<uint64_t>(static_cast<uint32_t>(b));
}

uint64_t SessionShapes::Signature(const absl::flat_hash_map<int32_t, int32_t>& counts,
                                  bool with_counts) const {
  std::vector<std::pair<int32_t, int32_t>> items(counts.begin(), counts.end());
  std::sort(items.begin(), items.end());
  uint64_t h = 0x51ed27a1u;
  for (const auto& [id, c] : items) {
    h = Mix(h, static_cast<uint64_t>(static_cast<uint32_t>(id)));
    if (with_counts) h = Mix(h, static_cast<uint64_t>(std::min(c, options_.signature_count_cap)));
  }
  return h;
}

void SessionShapes::ScoreRelations(const std::vector<std::pair<int32_t, int32_t>>& have,
                                   const absl::flat_hash_map<int32_t, int32_t>& counts,
                                   ClosedSession* out) const {
  auto add = [out](double s) {
    if (s <= kMinSurprise) return;
    out->invariant += s;
    ++out->violated;
  };
  for (size_t i = 0; i < have.size(); ++i) {
    const auto [a, ca] = have[i];
    auto na = sessions_with_.find(a);
    if (na == sessions_with_.end() || na->second < options_.min_support) continue;
    // Equal counts of two templates the session has.
    for (size_t j = i + 1; j < have.size(); ++j) {
      const auto [b, cb] = have[j];
      if (ca == cb) continue;
      auto n = both_.find(PairKey(a, b));
      if (n == both_.end() || n->second < options_.min_support) continue;
      auto v = unequal_.find(PairKey(a, b));
      add(Surprise(v == unequal_.end() ? 0 : v->second, n->second));
    }
    // b present whenever a is.
    for (const auto& [b, nb] : sessions_with_) {
      if (nb < options_.min_support || counts.contains(b)) continue;
      auto n = both_.find(a < b ? PairKey(a, b) : PairKey(b, a));
      const int64_t with_b = n == both_.end() ? 0 : n->second;
      add(Surprise(na->second - with_b, na->second));
    }
  }
}

double SessionShapes::RarestTemplate(const std::vector<std::pair<int32_t, int32_t>>& have,
                                     int32_t* rarest) const {
  if (closed_ < options_.min_support) return 0;
  const bool full = sessions_with_.size() >= options_.max_templates;
  // The sessions still open count too: a new kind of normal session (a deletion phase touching
  // many blocks at once) is common among them before any of it has closed.
  const int64_t n = closed_ + static_cast<int64_t>(open_.size());
  double out = 0;
  for (const auto& item : have) {
    auto it = sessions_with_.find(item.first);
    if (it == sessions_with_.end() && full) continue;  // never tracked: no count to judge by
    auto o = open_with_.find(item.first);
    const int64_t c = (it == sessions_with_.end() ? 0 : it->second) + (o == open_with_.end() ? 0 : o->second);
    const double surprise = Surprise(c, n);
    if (surprise > out) {
      out = surprise;
      *rarest = item.first;
    }
  }
  return out;
}

void SessionShapes::Learn(const std::vector<std::pair<int32_t, int32_t>>& have, uint64_t signature) {
  ++closed_;
  auto known = signatures_.find(signature);
  if (known != signatures_.end()) {
    ++known->second;
  } else if (signatures_.size() < options_.max_signatures) {
    signatures_.emplace(signature, 1);
  }
  std::vector<std::pair<int32_t, int32_t>> tracked;
  for (const auto& item : have) {
    auto it = sessions_with_.find(item.first);
    if (it == sessions_with_.end()) {
      if (sessions_with_.size() >= options_.max_templates) continue;
      it = sessions_with_.emplace(item.first, 0).first;
    }
    ++it->second;
    tracked.push_back(item);
  }
  for (size_t i = 0; i < tracked.size(); ++i) {
    for (size_t j = i + 1; j < tracked.size(); ++j) {
      const uint64_t key = PairKey(tracked[i].first, tracked[j].first);
      ++both_[key];
      if (tracked[i].second != tracked[j].second) ++unequal_[key];
    }
  }
}

void SessionShapes::Judge(const absl::flat_hash_map<int32_t, int32_t>& counts, ClosedSession* out) const {
  std::vector<std::pair<int32_t, int32_t>> have(counts.begin(), counts.end());
  std::sort(have.begin(), have.end());
  ScoreRelations(have, counts, out);
  out->rare = RarestTemplate(have, &out->rarest_template);
  const uint64_t sig = Signature(counts, /*with_counts=*/true);
  out->shape = sig;
  out->kinds = Signature(counts, /*with_counts=*/false);
  auto known = signatures_.find(sig);
  const int64_t seen = known == signatures_.end() ? 0 : known->second;
  out->signature = closed_ > 0 ? std::max(0.0, Surprise(seen, closed_)) : 0.0;
}

void SessionShapes::LearnCounts(const absl::flat_hash_map<int32_t, int32_t>& counts) {
  std::vector<std::pair<int32_t, int32_t>> have(counts.begin(), counts.end());
  std::sort(have.begin(), have.end());
  Learn(have, Signature(counts, /*with_counts=*/true));
}

void SessionShapes::ScoreAndLearn(const absl::flat_hash_map<int32_t, int32_t>& counts,
                                  ClosedSession* out) {
  Judge(counts, out);
  LearnCounts(counts);
}

void SessionShapes::CloseUnion(uint64_t session, Open* open, ClosedSession* out) {
  auto it = unions_.find(session);
  if (it == unions_.end()) {
    ScoreAndLearn(open->counts, out);  // the key's first piece (or one no longer kept)
    out->lines = open->lines;
    if (unions_.size() >= options_.max_union_keys && !union_order_.empty()) {
      unions_.erase(union_order_.front());
      union_order_.pop_front();
    }
    Union& u = unions_[session];
    u.counts = open->counts;
    u.lines = open->lines;
    u.pieces = 1;
    union_order_.push_back(session);
    return;
  }
  Union& u = it->second;
  for (const auto& [id, c] : open->counts) {
    auto known = u.counts.find(id);
    if (known != u.counts.end()) {
      known->second += c;
    } else if (u.counts.size() < options_.max_session_templates) {
      u.counts.emplace(id, c);
    }
  }
  const SessionLines& l = open->lines;
  u.lines.lines += l.lines;
  u.lines.first_tick = std::min(u.lines.first_tick, l.first_tick);
  u.lines.last_tick = std::max(u.lines.last_tick, l.last_tick);
  u.lines.alarm = u.lines.alarm || l.alarm;
  if (u.lines.line_max.size() < l.line_max.size()) u.lines.line_max.resize(l.line_max.size(), 0.0);
  for (size_t k = 0; k < l.line_max.size(); ++k) u.lines.line_max[k] = std::max(u.lines.line_max[k], l.line_max[k]);
  ++u.pieces;
  ClosedSession whole;
  Judge(u.counts, &whole);  // the union, against what the pieces taught so far (before this piece)
  ScoreAndLearn(open->counts, out);  // the piece as without union scoring
  out->lines = open->lines;
  out->piece = u.pieces;
  out->whole = true;
  out->union_invariant = whole.invariant;
  out->union_signature = whole.signature;
  out->union_rare = whole.rare;
  out->union_violated = whole.violated;
  out->union_lines = u.lines;
}

ClosedSession SessionShapes::Close(uint64_t session, Open open) {
  for (const auto& item : open.counts) {
    auto it = open_with_.find(item.first);
    if (it != open_with_.end() && --it->second <= 0) open_with_.erase(it);
  }
  ClosedSession out;
  out.session = session;
  if (options_.union_score) {
    CloseUnion(session, &open, &out);
    return out;
  }
  ScoreAndLearn(open.counts, &out);
  out.lines = std::move(open.lines);
  return out;
}

bool SessionShapes::Incomplete(const absl::flat_hash_map<int32_t, int32_t>& counts) const {
  auto nearly_always = [this](int64_t violations, int64_t n) {
    return (static_cast<double>(violations) + 0.5) / (static_cast<double>(n) + 1.0) <= options_.incomplete_share;
  };
  for (const auto& item : counts) {
    auto na = sessions_with_.find(item.first);
    if (na == sessions_with_.end() || na->second < options_.min_support) continue;
    // Two counts that nearly always match, unequal (an acknowledgement still to come).
    for (const auto& other : counts) {
      if (other.first <= item.first || other.second == item.second) continue;
      auto both = both_.find(PairKey(item.first, other.first));
      if (both == both_.end() || both->second < options_.min_support) continue;
      auto v = unequal_.find(PairKey(item.first, other.first));
      if (nearly_always(v == unequal_.end() ? 0 : v->second, both->second)) return true;
    }
    for (const auto& [b, nb] : sessions_with_) {
      if (nb < options_.min_support || counts.contains(b)) continue;
      auto both = both_.find(item.first < b ? PairKey(item.first, b) : PairKey(b, item.first));
      const int64_t with_b = both == both_.end() ? 0 : both->second;
      if (nearly_always(na->second - with_b, na->second)) return true;
    }
  }
  return false;
}

bool SessionShapes::Waits(const Open& o, bool full) const {
  return o.timed && !full && options_.incomplete_quiet_ms > options_.quiet_ms && Incomplete(o.counts);
}

void SessionShapes::CloseIfCurrent(uint64_t session, int64_t last, std::vector<ClosedSession>* closed) {
  auto it = open_.find(session);
  if (it == open_.end() || it->second.lines.last_tick != last) return;  // stale entry
  Open o = std::move(it->second);
  open_.erase(it);
  closed->push_back(Close(session, std::move(o)));
}

void SessionShapes::CloseQuiet(int64_t tick, bool timed, std::vector<ClosedSession>* closed) {
  const int64_t quiet = timed ? options_.quiet_ms : options_.quiet_lines;
  while (!by_last_.empty()) {
    const auto [last, session] = by_last_.front();
    const bool full = open_.size() >= options_.max_open_sessions;
    if (!full && tick - last <= quiet) break;
    by_last_.pop_front();
    auto it = open_.find(session);
    if (it == open_.end() || it->second.lines.last_tick != last) continue;  // stale entry
    if (Waits(it->second, full)) {
      waiting_.emplace(last, session);
      continue;
    }
    CloseIfCurrent(session, last, closed);
  }
  // Waiting sessions: their own quiet time, or at once when too many are open.
  while (!waiting_.empty()) {
    const auto [last, session] = waiting_.top();
    const bool full = open_.size() >= options_.max_open_sessions;
    if (!full && tick - last <= options_.incomplete_quiet_ms) break;
    waiting_.pop();
    CloseIfCurrent(session, last, closed);
  }
}

void SessionShapes::Add(uint64_t session, int32_t id, int64_t tick, bool timed, bool alarm,
                        const std::vector<double>& line_signals,
                        std::vector<ClosedSession>* closed) {
  CloseQuiet(tick, timed, closed);
  auto it = open_.find(session);
  if (it == open_.end()) {
    it = open_.emplace(session, Open{}).first;
    it->second.lines.first_tick = tick;
    it->second.timed = timed;
  }
  Open& o = it->second;
  auto c = o.counts.find(id);
  if (c != o.counts.end()) {
    ++c->second;
  } else if (o.counts.size() < options_.max_session_templates) {
    o.counts.emplace(id, 1);
    ++open_with_[id];
  }
  SessionLines& l = o.lines;
  ++l.lines;
  // The newest tick; an older one (a stream whose time goes back) keeps the session's order.
  l.last_tick = std::max(l.last_tick, tick);
  l.alarm = l.alarm || alarm;
  if (l.line_max.size() < line_signals.size()) l.line_max.resize(line_signals.size(), 0.0);
  for (size_t k = 0; k < line_signals.size(); ++k) l.line_max[k] = std::max(l.line_max[k], line_signals[k]);
  by_last_.emplace_back(l.last_tick, session);
}

void SessionShapes::Flush(std::vector<ClosedSession>* closed) {
  std::vector<std::pair<int64_t, uint64_t>> order;
  order.reserve(open_.size());
  for (const auto& [session, o] : open_) order.emplace_back(o.lines.last_tick, session);
  std::sort(order.begin(), order.end());
  for (const auto& [last, session] : order) {
    auto it = open_.find(session);
    Open o = std::move(it->second);
    open_.erase(it);
    closed->push_back(Close(session, std::move(o)));
  }
  by_last_.clear();
  waiting_ = {};
}

}  // namespace fedlog::novelty
