#include "server/secagg_cohorts.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/status_macros.h"
#include "common/secagg/crypto.h"

namespace fedlog::server {
namespace {

uint64_t Elements(const std::vector<int64_t>& shape) {
  return shape.empty() ? 0 : static_cast<uint64_t>(fl::NumElementsOf(shape));
}

// Floats before the adapter sections: the shared tensors, then prototypes.global and its presence lane.
uint64_t HeadLength(const secagg::UpdateVectorLayout& layout) {
  uint64_t n = 0;
  for (const fl::TensorShape& t : layout.shared) n += Elements(t.shape);
  if (!layout.prototypes_shape.empty()) n += Elements(layout.prototypes_shape) + 1;
  return n;
}

uint64_t ReleaseLength(const secagg::UpdateVectorLayout& layout) {
  return layout.release_shape.empty() ? 0 : Elements(layout.release_shape) + 1;
}

bool SameHead(const secagg::UpdateVectorLayout& a, const secagg::UpdateVectorLayout& b) {
  if (a.shared.size() != b.shared.size() || a.prototypes_shape != b.prototypes_shape ||
      a.release_shape != b.release_shape) {
    return false;
  }
  for (size_t i = 0; i < a.shared.size(); ++i) {
    if (a.shared[i].name != b.shared[i].name || a.shared[i].shape != b.shared[i].shape) return false;
  }
  return true;
}

void AddInto(const double* from, uint64_t n, double* to) {
  for (uint64_t i = 0; i < n; ++i) to[i] += from[i];
}

}  // namespace

absl::StatusOr<uint64_t> SecretIndexBelow(uint64_t bound) {
  if (bound == 0) return absl::InvalidArgumentError("a draw below 0");
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  while (true) {
    uint64_t r = 0;
    std::array<uint8_t, 8> bytes;
    FEDLOG_RETURN_IF_ERROR(secagg::RandomBytes(absl::MakeSpan(bytes)));
    std::memcpy(&r, bytes.data(), bytes.size());
    if (r < limit) return r % bound;
  }
}

absl::StatusOr<std::vector<std::vector<std::string>>> DrawCohorts(const std::vector<std::string>& sites,
                                                                  int min_size) {
  if (min_size < 1) return absl::InvalidArgumentError("a cohort needs at least one site");
  std::vector<std::string> order = sites;
  std::sort(order.begin(), order.end());
  if (std::adjacent_find(order.begin(), order.end()) != order.end()) {
    return absl::InvalidArgumentError("a site appears twice among the round's participants");
  }
  const size_t g = order.size() / static_cast<size_t>(min_size);
  if (g < 2) return std::vector<std::vector<std::string>>{};
  for (size_t i = order.size(); i > 1; --i) {
    FEDLOG_ASSIGN_OR_RETURN(uint64_t j, SecretIndexBelow(i));
    std::swap(order[i - 1], order[static_cast<size_t>(j)]);
  }
  // Dealt in turn, so the sizes are floor(n / g) or one more.
  std::vector<std::vector<std::string>> cohorts(g);
  for (size_t i = 0; i < order.size(); ++i) cohorts[i % g].push_back(std::move(order[i]));
  for (auto& c : cohorts) std::sort(c.begin(), c.end());
  return cohorts;
}

absl::StatusOr<std::pair<secagg::UpdateVectorLayout, secagg::DecodedSum>> CombineCohortSums(
    const std::vector<CohortSum>& cohorts) {
  if (cohorts.empty()) return absl::FailedPreconditionError("no cohort passed");
  const secagg::UpdateVectorLayout& first = *cohorts.front().layout;
  // The union layout: the first cohort's head and release, every cohort's adapter sections, no kind sections.
  secagg::UpdateVectorLayout out_layout = first;
  out_layout.adapters.clear();
  out_layout.kind_sources.clear();
  std::map<std::string, secagg::AdapterSection> adapters;
  for (const CohortSum& c : cohorts) {
    if (!SameHead(first, *c.layout)) {
      return absl::InvalidArgumentError("the cohorts' layouts differ outside their adapter and kind sections");
    }
    if (c.sum->weighted_sum.size() != c.layout->length()) {
      return absl::InvalidArgumentError("a cohort's sum does not match its layout");
    }
    for (const secagg::AdapterSection& s : c.layout->adapters) {
      auto [it, added] = adapters.emplace(s.source, s);
      if (!added && it->second.length() != s.length()) {
        return absl::InvalidArgumentError(absl::StrCat("adapter section '", s.source, "' differs between cohorts"));
      }
    }
  }
  for (auto& [source, section] : adapters) out_layout.adapters.push_back(section);  // std::map: ascending
  std::map<std::string, uint64_t> offset;  // source -> its section's start in the union vector
  const uint64_t head = HeadLength(first);
  uint64_t at = head;
  for (const secagg::AdapterSection& s : out_layout.adapters) {
    offset[s.source] = at;
    at += s.length();
  }
  const uint64_t release = ReleaseLength(first);
  secagg::DecodedSum out;
  out.weighted_sum.assign(static_cast<size_t>(out_layout.length()), 0.0);
  out.clip_range = cohorts.front().sum->clip_range;
  for (const CohortSum& c : cohorts) {
    if (c.sum->clip_range != out.clip_range) return absl::InvalidArgumentError("the cohorts' clip ranges differ");
    const double* in = c.sum->weighted_sum.data();
    AddInto(in, head, out.weighted_sum.data());
    uint64_t from = head;
    for (const secagg::AdapterSection& s : c.layout->adapters) {
      AddInto(in + from, s.length(), out.weighted_sum.data() + offset[s.source]);
      from += s.length();
    }
    AddInto(in + from, release, out.weighted_sum.data() + at);
    out.weight_sum += c.sum->weight_sum;
    out.rounding += c.sum->rounding;
  }
  return std::make_pair(std::move(out_layout), std::move(out));
}

std::vector<secagg::KindSectionSum> CombineKindSums(const std::vector<std::vector<secagg::KindSectionSum>>& cohorts) {
  std::map<std::string, secagg::KindSectionSum> by_source;
  for (const auto& sections : cohorts) {
    for (const secagg::KindSectionSum& s : sections) {
      auto [it, added] = by_source.emplace(s.source, s);
      if (added) continue;
      secagg::KindSectionSum& into = it->second;
      if (!s.status.ok()) continue;  // this cohort's section adds nothing
      if (!into.status.ok()) {       // the first passing section replaces a failed one
        into = s;
        continue;
      }
      if (into.counts.size() != s.counts.size()) continue;
      for (size_t i = 0; i < s.counts.size(); ++i) into.counts[i] += s.counts[i];
      into.sites += s.sites;
    }
  }
  std::vector<secagg::KindSectionSum> out;
  for (auto& [source, s] : by_source) out.push_back(std::move(s));
  return out;
}

std::string SitOutSuspect(const std::vector<CohortVerdict>& verdicts) {
  if (verdicts.size() < kSuspicionWindow) return "";
  const auto window = verdicts.end() - static_cast<std::ptrdiff_t>(kSuspicionWindow);
  std::set<std::string> common = window->suspects;
  std::set<std::string> named, cleared;
  for (auto it = window; it != verdicts.end(); ++it) {
    std::set<std::string> both;
    for (const std::string& s : common) {
      if (it->suspects.count(s)) both.insert(s);
    }
    common = std::move(both);
    named.insert(it->suspects.begin(), it->suspects.end());
    named.insert(it->cleared.begin(), it->cleared.end());
    cleared.insert(it->cleared.begin(), it->cleared.end());
  }
  if (common.size() != 1) return "";
  const std::string& suspect = *common.begin();
  for (const std::string& s : named) {
    if (s != suspect && !cleared.count(s)) return "";
  }
  return suspect;
}

SecAggAttempt::SecAggAttempt(std::vector<std::unique_ptr<SecAggRound>> sessions) : sessions_(std::move(sessions)) {
  for (size_t i = 0; i < sessions_.size(); ++i) {
    for (const std::string& site : sessions_[i]->participants()) session_of_[site] = i;
  }
}

SecAggRound* SecAggAttempt::ForSite(const std::string& site) const {
  auto it = session_of_.find(site);
  return it == session_of_.end() ? nullptr : sessions_[it->second].get();
}

SecAggRound* SecAggAttempt::ForSession(const std::string& session_id) const {
  for (const auto& s : sessions_) {
    if (s->config().session_id == session_id) return s.get();
  }
  return nullptr;
}

bool SecAggAttempt::WantsTask(const std::string& site) const {
  const SecAggRound* s = ForSite(site);
  return s != nullptr && s->WantsTask(site);
}

v1::SecAggConfig SecAggAttempt::ConfigFor(const std::string& site) const {
  const SecAggRound* s = ForSite(site);
  return s == nullptr ? v1::SecAggConfig() : s->ConfigFor(site);
}

bool SecAggAttempt::Advance(int64_t now_ms, const std::set<std::string>& online) {
  bool changed = false;
  for (const auto& s : sessions_) changed = s->Advance(now_ms, online) || changed;
  return changed;
}

bool SecAggAttempt::finished() const {
  return std::all_of(sessions_.begin(), sessions_.end(), [](const auto& s) { return s->finished(); });
}

std::vector<SecAggRound*> SecAggAttempt::Passed() const {
  std::vector<SecAggRound*> out;
  for (const auto& s : sessions_) {
    if (s->step() == SecAggRound::Step::kDone) out.push_back(s.get());
  }
  return out;
}

bool SecAggAttempt::spoiled() const {
  return std::any_of(sessions_.begin(), sessions_.end(), [](const auto& s) { return s->spoiled(); });
}

int64_t SecAggAttempt::bytes_up() const {
  int64_t n = 0;
  for (const auto& s : sessions_) n += s->bytes_up();
  return n;
}

absl::StatusOr<SecAggOutcome> SecAggAttempt::TakeOutcome() {
  const std::vector<SecAggRound*> passed = Passed();
  if (passed.empty()) return absl::FailedPreconditionError("no secure-aggregation session ended done");
  SecAggOutcome out;
  double loss_sum = 0;
  for (SecAggRound* s : passed) {
    out.samples += s->samples();
    loss_sum += s->mean_loss() * static_cast<double>(s->samples());
    out.survivors += s->survivors();
    out.dropped += s->dropped();
  }
  out.mean_loss = out.samples > 0 ? loss_sum / static_cast<double>(out.samples) : 0;
  if (!cohorts()) {
    out.mean = passed.front()->TakeMean();
    out.kind_sums = passed.front()->TakeKindSums();
    return out;
  }
  std::vector<secagg::DecodedSum> sums;
  std::vector<std::vector<secagg::KindSectionSum>> kinds;
  sums.reserve(passed.size());
  for (SecAggRound* s : passed) {
    sums.push_back(s->TakeSum());
    kinds.push_back(s->TakeKindSums());
    s->TakeMean();  // the cohort's own mean (its check) is not used
  }
  std::vector<CohortSum> parts;
  for (size_t i = 0; i < passed.size(); ++i) parts.push_back({&passed[i]->layout(), &sums[i]});
  FEDLOG_ASSIGN_OR_RETURN(auto combined, CombineCohortSums(parts));
  sums.clear();
  FEDLOG_ASSIGN_OR_RETURN(out.mean, secagg::MeanFromSum(combined.first, combined.second));
  out.kind_sums = CombineKindSums(kinds);
  return out;
}

CohortVerdict SecAggAttempt::Verdict() const {
  CohortVerdict v;
  for (const auto& s : sessions_) {
    // Only the sites whose input is in a sum: a dropped site is neither suspect nor cleared.
    if (s->spoiled()) v.suspects.insert(s->survivor_sites().begin(), s->survivor_sites().end());
    if (s->step() == SecAggRound::Step::kDone) {
      v.cleared.insert(s->survivor_sites().begin(), s->survivor_sites().end());
    }
  }
  return v;
}

std::string SecAggAttempt::Describe() const {
  std::vector<std::string> parts;
  for (const auto& s : sessions_) {
    std::string p = absl::StrCat(s->participants().size(), " sites (session ", s->config().session_id.substr(0, 8),
                                 "..., threshold ", s->config().threshold, "): ");
    if (s->step() == SecAggRound::Step::kDone) {
      absl::StrAppend(&p, "passed with ", s->survivors(), " survivors");
    } else if (s->finished()) {
      absl::StrAppend(&p, s->spoiled() ? "its sum failed the check: " : "failed: ", s->failure());
    } else {
      absl::StrAppend(&p, "open");
    }
    parts.push_back(std::move(p));
  }
  return absl::StrCat(sessions_.size(), " cohort(s): ", absl::StrJoin(parts, "; "));
}

}  // namespace fedlog::server
