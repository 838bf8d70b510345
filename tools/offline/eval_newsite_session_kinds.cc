// `fedlog eval newsite`, sessions with labels: unit-kind verdicts (fewshot::SessionKinds, the class
// live detection uses). A session's kind is its key's exact template counts when it closed: the key's
// lines up to its own in stream order (a key's sessions close in order, each holding the next
// `lines` of the key's lines). The rows compare the rules on the same verdicts: off (the verdicts
// alone), silence, raise, exact (only the exact kind silences, not the shape group), and silence with
// whole units' kinds (a final verdict at the stream's end,
// which live detection cannot give: it cannot take back a piece's alert).
#include <algorithm>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/base/status_macros.h"
#include "tools/offline/eval_newsite_session_labels.h"

namespace fedlog::offline {

void IndexKinds(const ScoredStream& sc, SessionIndex* ix) {
  absl::flat_hash_map<uint64_t, std::vector<int32_t>> key_lines;  // per key, its lines' templates
  for (size_t i = 0; i < sc.has_session.size(); ++i) {
    if (sc.has_session[i]) key_lines[sc.session[i]].push_back(sc.template_id[i]);
  }
  const size_t keys = key_lines.size() + 1;
  fewshot::SessionKinds at_close(keys), at_end(keys);
  absl::flat_hash_map<uint64_t, size_t> fed;  // per key, lines given to at_close so far
  for (const auto& [key, t] : key_lines) {
    for (int32_t x : t) at_end.AddLine(key, x);
  }
  ix->kind_at_close.assign(sc.sessions.size(), 0);
  ix->kind_at_end.assign(sc.sessions.size(), 0);
  for (size_t j = 0; j < sc.sessions.size(); ++j) {
    const uint64_t key = sc.sessions[j].session;
    const auto it = key_lines.find(key);
    if (it == key_lines.end()) continue;
    size_t& done = fed[key];
    const size_t upto = std::min(it->second.size(), done + static_cast<size_t>(std::max<int64_t>(
                                                              sc.sessions[j].lines, 0)));
    for (; done < upto; ++done) at_close.AddLine(key, it->second[done]);
    ix->kind_at_close[j] = at_close.KindOf(key);
    ix->kind_at_end[j] = at_end.KindOf(key);
  }
}

absl::Status KindRows(const ScoredStream& sc, const SessionIndex& ix, const NewsiteSplit& sp,
                      const NewsiteOptions& o, const SessionVerdicts& v, std::vector<KShotRow>* rows) {
  struct Variant {
    const char* name;
    fewshot::KindRule rule;
    bool whole;
  };
  const Variant variants[] = {
      {"session detector + labels, unit kinds off", fewshot::KindRule::kOff, false},
      {"session detector + labels, unit kinds silence", fewshot::KindRule::kSilence, false},
      {"session detector + labels, unit kinds raise", fewshot::KindRule::kSilenceAndRaise, false},
      {"session detector + labels, exact unit kinds only", fewshot::KindRule::kExact, false},
      {"session detector + labels, unit kinds silence [whole units]", fewshot::KindRule::kSilence, true},
  };
  for (const Variant& x : variants) {
    NewsiteOptions vo = o;
    vo.session_kind_rule = x.rule;
    vo.session_kinds_whole = x.whole;
    std::vector<double> score;
    std::vector<int> alert;
    DecideUnits(sc, ix, v, vo, /*groups=*/true, sp.test, &score, &alert);
    FEDLOG_ASSIGN_OR_RETURN(KShotRow row, MeasureKShot(sp, score, alert));
    row.method = x.name;
    row.labels = static_cast<double>(v.sessions.size());
    rows->push_back(row);
  }
  return absl::OkStatus();
}

}  // namespace fedlog::offline
