// Who the federation's kind sketch comes from and how far it is trusted, for `fedlog eval newsite
// --federated --fed-sibling` (NewsiteFederatedOptions::KindTrust; eval_newsite_federated.h): the sibling's
// labelled units as one or two honest sites, an optional lying site, each site's sketch capped as its daemon
// caps it (kinds::KindTally) or not, summed and suppressed as the aggregator does (Suppress(3)), and the
// verdicts' site rule (kinds::KindVerdictOptions), and the new site's alarm budget (kinds::AlarmBudget).
#include <algorithm>
#include <initializer_list>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tools/offline/eval_newsite_federated.h"

namespace fedlog::offline {
namespace {

// The aggregator's suppression floor (server/coordinator_kinds.h kKindSuppressBelow; the server library is
// not linked into the offline tools).
constexpr double kSuppressBelow = 3;

}  // namespace

KindSites TallyKindSites(const std::vector<std::vector<uint64_t>>& unit_kinds, const std::vector<int>& y,
                         std::vector<size_t> labelled, int siblings, const std::string& liar) {
  std::sort(labelled.begin(), labelled.end());  // stream order: two siblings hold its two halves
  KindSites out;
  out.honest.resize(static_cast<size_t>(std::max(0, siblings)));
  for (size_t i = 0; i < labelled.size() && !out.honest.empty(); ++i) {
    const size_t u = labelled[i];
    out.honest[i * out.honest.size() / labelled.size()].AddUnit(unit_kinds[u], y[u] > 0);
  }
  if (liar != "none") {
    kinds::KindTally t;
    for (size_t u : labelled) {
      const bool anomalous = liar == "invert" ? !(y[u] > 0) : liar == "alarm";
      for (int r = 0; r < kLiarRepeat; ++r) t.AddUnit(unit_kinds[u], anomalous);
    }
    out.liar = std::move(t);
  }
  return out;
}

kinds::KindSketch FederationSketch(const KindSites& sites, bool defence) {
  kinds::KindSketch sum;
  auto add = [&](const kinds::KindTally& t) { sum.Merge(defence ? t.CappedSketch() : t.UncappedSketch()); };
  for (const kinds::KindTally& t : sites.honest) add(t);
  if (sites.liar) add(*sites.liar);
  sum.Suppress(kSuppressBelow);
  return sum;
}

kinds::AlarmBudgetOptions TrustBudgetOptions(const NewsiteFederatedOptions::KindTrust& t) {
  return {t.alarm_budget, t.exempt_sites, t.mass};
}

std::vector<size_t> ClosingOrder(const NewsiteStream& s) {
  std::vector<size_t> last(s.y.size(), 0);
  for (size_t i = 0; i < s.units.size(); ++i) {
    for (int32_t u : s.units[i]) {
      if (u >= 0 && static_cast<size_t>(u) < last.size()) last[static_cast<size_t>(u)] = i;
    }
  }
  std::vector<size_t> order(s.y.size());
  for (size_t u = 0; u < order.size(); ++u) order[u] = u;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return last[a] < last[b]; });
  return order;
}

int64_t ApplyAlarmBudget(const std::vector<std::vector<uint64_t>>& mine, const std::vector<size_t>& order,
                         const std::vector<uint8_t>* own_alert, const kinds::KindSketch& sketch,
                         const kinds::KindVerdictOptions& vo, const kinds::AlarmBudgetOptions& bo,
                         std::vector<int8_t>* verdict) {
  if (bo.share <= 0) return 0;
  kinds::AlarmBudget budget(bo);
  int64_t withheld = 0;
  for (size_t u : order) {
    const bool alerted = own_alert != nullptr && u < own_alert->size() && (*own_alert)[u];
    budget.Count(mine[u], alerted);
    if ((*verdict)[u] > 0 && !alerted && !budget.AllowsAny(mine[u], sketch, vo)) {
      (*verdict)[u] = 0;
      ++withheld;
    }
  }
  return withheld;
}

kinds::KindVerdictOptions TrustVerdictOptions(const NewsiteFederatedOptions::KindTrust& t) {
  kinds::KindVerdictOptions o;
  o.normal_sites = t.defence ? t.silence_sites : 1;
  o.anomalous_sites = t.defence ? t.alarm_sites : 1;
  return o;
}

std::string KindTrustName(const NewsiteFederatedOptions::KindTrust& t) {
  std::string budget;
  if (t.alarm_budget > 0) {
    budget = absl::StrCat(", alarm budget ", t.alarm_budget,
                          t.exempt_sites > 0 ? absl::StrCat(" (", t.exempt_sites, "+ sites exempt)") : "",
                          t.mass == kinds::kDefaultAlarmBudgetMass ? ""
                                                                   : absl::StrCat(", ", kinds::AlarmBudgetMassName(t.mass),
                                                                                  " mass"));
  }
  return absl::StrCat("siblings ", t.siblings, ", liar ", t.liar, ", ",
                      t.defence ? absl::StrCat("capped, silence ", t.silence_sites, " / alarm ", t.alarm_sites,
                                               " sites")
                                : "uncapped, 1 site",
                      budget);
}

std::vector<NewsiteFederatedOptions::KindTrust> KindTrustVariants(const std::vector<double>& budgets) {
  // Session 18's rows, without the alarm budget (budget 0).
  std::vector<NewsiteFederatedOptions::KindTrust> out;
  for (int siblings : {1, 2}) {
    const std::initializer_list<std::tuple<bool, int, int>> rules = {
        {false, 1, 1}, {true, 1, 1}, {true, 2, 1}, {true, 2, 2}};  // defence, silence sites, alarm sites
    for (const auto& [defence, silence, alarm] : rules) {
      out.push_back({defence, silence, alarm, siblings, "none", false, 0, 0, {}});
    }
  }
  for (const char* liar : {"invert", "silence", "alarm"}) {
    for (bool defence : {false, true}) out.push_back({defence, 2, 1, 1, liar, false, 0, 0, {}});
  }
  for (const char* liar : {"silence", "alarm"}) {  // the liar alone: no honest site labels the source type
    for (bool defence : {false, true}) out.push_back({defence, 2, 1, 0, liar, false, 0, 0, {}});
  }
  // Session 19's: each budget with the defaults otherwise, honest (one and two siblings; two with 2+ sites
  // exempt), the alarm liar beside one sibling, and alone (capped, and uncapped as a modified site under
  // secure aggregation could send); each with session 19's mass (all) and session 20's (quiet).
  for (double b : budgets) {
    for (kinds::AlarmBudgetMass mass : {kinds::AlarmBudgetMass::kAll, kinds::AlarmBudgetMass::kQuiet}) {
      const std::initializer_list<std::tuple<bool, int, const char*, int>> rows = {
          {true, 1, "none", 0}, {true, 2, "none", 0}, {true, 2, "none", 2},
          {true, 1, "alarm", 0}, {true, 0, "alarm", 0}, {false, 0, "alarm", 0}};  // defence, siblings, liar, exempt
      for (const auto& [defence, siblings, liar, exempt] : rows) {
        NewsiteFederatedOptions::KindTrust t{defence, 2, 1, siblings, liar, false, b, exempt, {}};
        t.mass = mass;
        out.push_back(t);
      }
    }
  }
  return out;
}

}  // namespace fedlog::offline
