// The receiving site's alarm budget (alarm_budget.h): a lone site that labels every kind anomalous cannot make
// a site alert on more than the budget's share of its units, while an honest verdict on a rare incident kind
// still alerts.
#include "common/kinds/alarm_budget.h"

#include <cstdint>
#include <string>
#include <vector>

#include "common/kinds/kind_signature.h"
#include "common/kinds/kind_tally.h"
#include "gtest/gtest.h"

namespace fedlog::kinds {
namespace {

uint64_t K(const std::string& text) { return *KindSignature(text); }

// A site's stream: 40 routine kinds, kind i on about 1/(i + 1) of the lines (a long tail), and the incident
// kind on every 500th line (0.2% of the lines).
std::vector<uint64_t> Stream(int lines, uint64_t incident) {
  std::vector<uint64_t> routine;
  for (int i = 0; i < 40; ++i) routine.push_back(K("routine message kind " + std::string(1, static_cast<char>('a' + i % 26)) +
                                                   std::string(static_cast<size_t>(1 + i / 26), 'z')));
  double total = 0;
  for (int i = 0; i < 40; ++i) total += 1.0 / (i + 1);
  std::vector<uint64_t> out;
  double acc[40] = {0};
  for (int n = 0; n < lines; ++n) {
    if (n % 500 == 250) {
      out.push_back(incident);
      continue;
    }
    // Deterministic weighted round robin: the kind furthest behind its share comes next.
    int best = 0;
    for (int i = 0; i < 40; ++i) {
      acc[i] += 1.0 / (i + 1) / total;
      if (acc[i] > acc[best]) best = i;
    }
    acc[best] -= 1;
    out.push_back(routine[static_cast<size_t>(best)]);
  }
  return out;
}

// The federation's sketch from one capped site that labelled every kind of `stream` with `anomalous(kind)`.
template <typename F>
KindSketch OneSite(const std::vector<uint64_t>& stream, F anomalous) {
  KindTally t;
  for (uint64_t k : stream) t.AddUnit({k}, anomalous(k));
  KindSketch s = t.CappedSketch();
  s.Suppress(3);
  return s;
}

// Lines of `stream` a verdict of `sketch` alone makes alert (the site's own detector alerting nothing), and
// how many of them are of kind `incident`.
int VerdictAlerts(const std::vector<uint64_t>& stream, const KindSketch& sketch, AlarmBudget* budget,
                  uint64_t incident, int* incident_alerts) {
  const KindVerdictOptions vo;
  int alerts = 0;
  *incident_alerts = 0;
  for (uint64_t k : stream) {
    budget->Count(k, /*own_alert=*/false);
    if (sketch.VerdictOf(k, vo) != KindVerdict::kAnomalous || !budget->Allows(k, sketch, vo)) continue;
    ++alerts;
    *incident_alerts += k == incident ? 1 : 0;
  }
  return alerts;
}

TEST(AlarmBudgetTest, ALoneAlarmLiarCannotFloodASite) {
  const uint64_t incident = K("machine check interrupt");
  const std::vector<uint64_t> stream = Stream(20000, incident);
  const KindSketch liar = OneSite(stream, [](uint64_t) { return true; });
  int incident_alerts = 0;
  AlarmBudget off({0.0, 0});
  EXPECT_EQ(VerdictAlerts(stream, liar, &off, incident, &incident_alerts), 20000);  // the flood without it
  AlarmBudget budget({0.05, 0});
  const int alerts = VerdictAlerts(stream, liar, &budget, incident, &incident_alerts);
  EXPECT_LE(alerts, 0.05 * 20000);
  EXPECT_GT(alerts, 0);
  // The rarest kinds get the budget first: the incident kind (40 lines) is among them, and nearly all of its
  // lines alert (a few come when earlier alerts of kinds since grown common have spent the budget).
  EXPECT_GE(incident_alerts, 36);
  // An uncapped liar (a modified site under secure aggregation) gets no more.
  KindSketch uncapped;
  for (uint64_t k : stream) uncapped.AddKind(k, 1000, 0);
  AlarmBudget again({0.05, 0});
  EXPECT_LE(VerdictAlerts(stream, uncapped, &again, incident, &incident_alerts), 0.05 * 20000);
}

TEST(AlarmBudgetTest, AnHonestVerdictOnARareIncidentKindStillAlerts) {
  const uint64_t incident = K("machine check interrupt");
  const std::vector<uint64_t> stream = Stream(20000, incident);
  const KindSketch honest = OneSite(stream, [&](uint64_t k) { return k == incident; });
  AlarmBudget budget;  // the defaults
  int incident_alerts = 0;
  EXPECT_EQ(VerdictAlerts(stream, honest, &budget, incident, &incident_alerts), 40);
  EXPECT_EQ(incident_alerts, 40);
}

TEST(AlarmBudgetTest, AYoungSiteHasTheMinimumUnits) {
  const uint64_t incident = K("machine check interrupt");
  KindSketch liar;
  std::vector<uint64_t> stream;
  for (int i = 0; i < 200; ++i) stream.push_back(K("every line the same kind"));
  liar.AddKind(stream[0], 4, 0);
  AlarmBudget budget({0.05, 0});
  int incident_alerts = 0;
  // One kind on every line: its first 0.05 x 1000 units alert, the rest do not.
  EXPECT_EQ(VerdictAlerts(stream, liar, &budget, incident, &incident_alerts), 50);
}

TEST(AlarmBudgetTest, ExemptSitesLetAVerdictOfSeveralSitesThrough) {
  const uint64_t routine = K("routine heartbeat");
  KindSketch two_sites;
  two_sites.AddKind(routine, 8, 0);  // more than one capped site holds
  std::vector<uint64_t> stream(3000, routine);
  int incident_alerts = 0;
  AlarmBudget budgeted({0.05, 0});
  EXPECT_EQ(VerdictAlerts(stream, two_sites, &budgeted, 0, &incident_alerts), 50);  // a young site's 0.05 x 1000
  AlarmBudget exempt({0.05, 2});
  EXPECT_EQ(VerdictAlerts(stream, two_sites, &exempt, 0, &incident_alerts), 3000);
  KindSketch one_site;
  one_site.AddKind(routine, 4, 0);
  AlarmBudget exempt_one({0.05, 2});
  EXPECT_EQ(VerdictAlerts(stream, one_site, &exempt_one, 0, &incident_alerts), 50);
}

TEST(AlarmBudgetTest, SessionUnitsAlertOnTheirRarestAllowedKind) {
  const uint64_t routine = K("block received"), incident = K("exception while serving block");
  KindSketch liar;
  liar.AddKind(routine, 4, 0);
  liar.AddKind(incident, 4, 0);
  AlarmBudget budget({0.05, 0});
  const KindVerdictOptions vo;
  for (int n = 0; n < 1000; ++n) budget.Count({routine}, false);  // past a young site's allowance
  int alerted = 0, incident_alerted = 0;
  for (int n = 0; n < 4000; ++n) {
    std::vector<uint64_t> unit = {routine};
    if (n % 100 == 0) unit.push_back(incident);
    budget.Count(unit, false);
    if (budget.AllowsAny(unit, liar, vo)) {
      ++alerted;
      incident_alerted += unit.size() > 1 ? 1 : 0;
    }
  }
  EXPECT_EQ(incident_alerted, 40);
  EXPECT_EQ(alerted, 40);
}

// An HDFS-like source of sessions: every session holds five routine kinds; every 40th (2.5%) is an incident
// that also holds three incident kinds, and the site's own detector alerts four in five of those. Returns the
// quiet incident sessions (the detector missed them) that the honest verdict on the incident kinds raised.
int QuietIncidentAlerts(AlarmBudgetMass mass, int* quiet_incidents) {
  std::vector<uint64_t> routine, incident;
  for (int i = 0; i < 5; ++i) routine.push_back(K("block served step " + std::string(1, static_cast<char>('a' + i))));
  for (int i = 0; i < 3; ++i) incident.push_back(K("exception in block stage " + std::string(1, static_cast<char>('a' + i))));
  KindSketch honest;
  for (uint64_t k : incident) honest.AddKind(k, 4, 0);
  for (uint64_t k : routine) honest.AddKind(k, 0, 8);
  const KindVerdictOptions vo;
  AlarmBudget budget({kDefaultAlarmBudget, 0, mass});
  int alerts = 0;
  *quiet_incidents = 0;
  for (int n = 0; n < 5000; ++n) {
    std::vector<uint64_t> unit = routine;
    const bool is_incident = n % 40 == 0;
    if (is_incident) unit.insert(unit.end(), incident.begin(), incident.end());
    const bool own_alert = is_incident && (n / 40) % 5 != 0;
    budget.Count(unit, own_alert);
    if (own_alert || !is_incident) continue;
    ++*quiet_incidents;
    alerts += budget.AllowsAny(unit, honest, vo) ? 1 : 0;
  }
  return alerts;
}

TEST(AlarmBudgetTest, AnHonestVerdictOnAnIncidentSpanningManySessionsStillAlerts) {
  // 125 incident sessions hold each incident kind: more than 2% of 5,000 sessions, so weighed by all the
  // sessions holding them (session 19) the kinds do not fit and most of the detector's misses stay missed.
  // Weighed by the sessions the detector left quiet (25 each), all three fit and every miss alerts.
  int quiet = 0;
  EXPECT_EQ(QuietIncidentAlerts(AlarmBudgetMass::kQuiet, &quiet), 25);
  EXPECT_EQ(quiet, 25);
  EXPECT_LT(QuietIncidentAlerts(AlarmBudgetMass::kAll, &quiet), 10);
  EXPECT_EQ(kDefaultAlarmBudgetMass, AlarmBudgetMass::kQuiet);
}

TEST(AlarmBudgetTest, ALoneAlarmLiarStaysBoundedWhateverTheSiteAlerts) {
  // Every kind anomalous, and the site's own detector alerting some units: the quiet mass leaves the kinds of
  // the alerted units free, but the alerts the verdicts alone raise stay within the share, on sessions and on
  // lines.
  const uint64_t incident = K("machine check interrupt");
  const std::vector<uint64_t> stream = Stream(20000, incident);
  KindSketch liar;
  for (uint64_t k : stream) liar.AddKind(k, 1000, 0);  // uncapped: a modified site under secure aggregation
  const KindVerdictOptions vo;
  for (AlarmBudgetMass mass : {AlarmBudgetMass::kQuiet, AlarmBudgetMass::kAll}) {
    AlarmBudget lines({0.02, 0, mass});
    int line_alerts = 0;
    for (size_t i = 0; i < stream.size(); ++i) {
      const bool own_alert = i % 7 == 0 || stream[i] == incident;  // the detector alerts 1 line in 7
      lines.Count(stream[i], own_alert);
      if (!own_alert && lines.Allows(stream[i], liar, vo)) ++line_alerts;
    }
    EXPECT_LE(line_alerts, 0.02 * 20000);
    EXPECT_GT(line_alerts, 0.01 * 20000);  // the budget is used, not closed
    AlarmBudget sessions({0.02, 0, mass});
    int session_alerts = 0;
    for (size_t i = 0; i + 8 <= stream.size(); i += 8) {  // 2,500 sessions of 8 lines
      const std::vector<uint64_t> unit(stream.begin() + static_cast<long>(i), stream.begin() + static_cast<long>(i + 8));
      const bool own_alert = (i / 8) % 10 == 0;
      sessions.Count(unit, own_alert);
      if (!own_alert && sessions.AllowsAny(unit, liar, vo)) ++session_alerts;
    }
    EXPECT_LE(session_alerts, 0.02 * 2500);  // share x max(units, 1000)
  }
}

TEST(AlarmBudgetTest, CountsFadeAndOptionsAreChecked) {
  AlarmBudget budget;
  for (int i = 0; i < 200000; ++i) budget.Count(static_cast<uint64_t>(i % 7), false);
  EXPECT_LE(budget.units(), AlarmBudget::kHalveAt);
  EXPECT_GT(budget.units(), AlarmBudget::kHalveAt / 2);
  EXPECT_TRUE((AlarmBudgetOptions{0.05, 0}).Validate().ok());
  EXPECT_TRUE((AlarmBudgetOptions{0.0, 8}).Validate().ok());
  EXPECT_FALSE((AlarmBudgetOptions{-0.1, 0}).Validate().ok());
  EXPECT_FALSE((AlarmBudgetOptions{1.5, 0}).Validate().ok());
  EXPECT_FALSE((AlarmBudgetOptions{0.05, 1}).Validate().ok());
  EXPECT_FALSE((AlarmBudgetOptions{0.05, 9}).Validate().ok());
  EXPECT_FALSE((AlarmBudgetOptions{0.05, 0, static_cast<AlarmBudgetMass>(7)}).Validate().ok());
  EXPECT_EQ(*ParseAlarmBudgetMass(""), kDefaultAlarmBudgetMass);
  EXPECT_EQ(*ParseAlarmBudgetMass("all"), AlarmBudgetMass::kAll);
  EXPECT_EQ(*ParseAlarmBudgetMass("quiet"), AlarmBudgetMass::kQuiet);
  EXPECT_FALSE(ParseAlarmBudgetMass("most").ok());
}

}  // namespace
}  // namespace fedlog::kinds
