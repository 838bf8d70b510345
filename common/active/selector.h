// Active selection: which of a site's lines an operator should label next, so that a few labels
// (ten, say) teach the detector the most. Lines are grouped by template; each group not yet covered
// by a label offers one representative (its most uncertain line), and groups are ranked by
//   the detector's uncertainty  how close the group's lines' scores are to the threshold in force
//                               (their mean by default, SelectorOptions::mean_uncertainty_share;
//                               0 = the representative's alone), and how much the representative's
//                               signals (and an optional second opinion, e.g. a model's
//                               probability) disagree about it;
//   the group's size            a verdict on a large group settles many lines (a weight,
//                               SelectorOptions::size_weight; it lifts a large group only as far as
//                               its lines as a whole sit near the threshold);
//   its expected corrections    how many of the group's decisions a verdict is expected to turn
//                               right: the lines that do not alert if the group is anomalous, those
//                               that alert if it is normal, weighted by the group's probability of
//                               being anomalous (each line's second opinion where it has one,
//                               otherwise the logistic of its margin; SelectorOptions::
//                               margin_probability_share mixes the two). SelectorOptions::
//                               coverage_weight mixes it with the uncertainty; it favours the large
//                               groups the detector treats as doubtful and the second opinion thinks
//                               anomalous, which is where random draws of k labels per class find
//                               their anomalies (docs/EVALUATION.md "Session 13"). With
//                               SelectorOptions::neighbour_match > 0 and lines that carry their
//                               tokens, the counts are those of the few-shot rule's token
//                               neighbourhood of the representative instead (neighbourhood.h): the
//                               lines near it that do not alert if it is anomalous, those that
//                               alert if it is normal (session 16, off by default; docs/
//                               EVALUATION.md "Session 16: active selection by what a verdict
//                               changes under the keep rule").
// Optionally (SelectorOptions::above_first) the groups the detector would alert on come first.
// A label on any line of a group covers it, and so does a "whole template is normal" verdict.
// Used by `fedlog label` (the operator's terminal UI) and by `fedlog eval newsite --strategy active`.
// Deterministic: equal inputs and seed give the same ranking; the seed breaks ties only.
// Torch-free and gRPC-free. Thread-safety: pure functions.
#ifndef FEDLOG_COMMON_ACTIVE_SELECTOR_H_
#define FEDLOG_COMMON_ACTIVE_SELECTOR_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fedlog::active {

// One line of the site as the detector saw it.
struct LineInfo {
  int32_t template_id = -1;  // group key; a line without a template (< 0) is never picked
  double score = 0;          // the detector's score, higher = more anomalous (any scale)
  // Optional evidence of each signal, each in [0, 1] (1 = the signal finds the line as odd as it
  // can, e.g. 1 - its tail probability); their spread is the signals' disagreement.
  std::vector<float> signals;
  // Optional second opinion P(anomalous) in [0, 1] (e.g. the site model's); < 0: none.
  float model_probability = -1;
  int label = -1;  // the label already given: -1 none, 0 normal, 1 anomalous
  // The decision in force on the line: 1 alerts, 0 does not, -1 unknown (then score >= threshold).
  int alert = -1;
  // Optional: the line's tokens as the few-shot detector compares them (sorted, unique; e.g.
  // fewshot::Unit::tokens). Read only with SelectorOptions::neighbour_match > 0 or diversity_match > 0.
  std::vector<uint64_t> tokens;
};

struct SelectionInput {
  std::vector<LineInfo> lines;
  // The alert threshold in force on `score`. Not finite (e.g. the detector is still warming up):
  // the (1 - fallback_alert_rate) quantile of the lines' scores stands in.
  double threshold = std::numeric_limits<double>::infinity();
  // Templates the operator declared "whole template is normal": their groups are covered.
  std::vector<int32_t> normal_templates;
};

struct SelectorOptions {
  uint64_t seed = 0;  // breaks ties (between equally ranked lines and groups) only
  // Score distance to the threshold that halves a line's uncertainty; 0 = the median absolute
  // deviation of the scores (a robust spread, so any score scale works). >= 0.
  double margin_scale = 0;
  double disagreement_weight = 0.5;  // weight of the disagreement next to the uncertainty, >= 0
  // Weight of the group's size: the priority is multiplied by 1 + size_weight * log(1 + size) /
  // log(1 + lines). >= 0. 0.25 (with mean_uncertainty_share 1) since session 19, chosen on the line
  // tuning splits (loghub-2k BGL and BGL-20k's tuning parts, both pool splits; 0.25, 0.5, 1, 2 with
  // mean share 1, 0.5 with mean share 0.5 tried): with a group's uncertainty its lines' mean, a
  // large group doubts as a whole only when its lines sit near the threshold (an unalerted
  // recurring fault just below it), and then its size should count; the familiar normal groups
  // far below keep a low mean (docs/EVALUATION.md "Session 19: the size of a doubtful group"). 0
  // (sessions 9-18) left the size to break ties only: alone, as a weight on the representative's
  // uncertainty, it spent labels on the large familiar groups (docs/EVALUATION.md "Session 9").
  double size_weight = 0.25;
  double fallback_alert_rate = 0.01;  // in (0, 0.5]; see SelectionInput::threshold
  // Groups whose representative is at or above the threshold (margin >= 0) rank before all others;
  // within each side the priority decides. Off by default: on loghub-2k BGL it helped with session
  // 9's label-free threshold and hurt with session 10's compact one (docs/EVALUATION.md "Session
  // 10"), where the uncertainty ranking alone was better.
  bool above_first = false;
  // Weight w of the expected corrections against the uncertainty: priority = (1 - w) x value +
  // w x corrections / (the largest corrections of any group), with value = uncertainty +
  // disagreement_weight x disagreement; the size_weight factor then multiplies it. In [0, 1];
  // 0 = the uncertainty ranking of sessions 9-12. 0.25 (with margin_probability_share 0) chosen on
  // loghub-2k BGL (both the first-30% split and a pool from the whole stream; 0, 0.25, 0.5, 0.75, 1
  // tried) by a rule fixed before any BGL-20k run (docs/EVALUATION.md "Session 13").
  double coverage_weight = 0.25;
  // Share of the detector's own logistic in a line's anomaly probability when the line has a second
  // opinion (model_probability >= 0): p = s x logistic(margin) + (1 - s) x model_probability. In
  // [0, 1]. The margin's logistic is not calibrated (the margin is in robust-spread units of any
  // score), so a large group far below the threshold keeps a few per cent and outweighs a small
  // doubtful one; the second opinion (the site's label-free verdict) is a measured precision. 0
  // (the verdict alone) chosen with coverage_weight (0.5 tried).
  double margin_probability_share = 0.0;
  // Labels in hand at which the second opinion counts half: with L labels in hand (the groups a label
  // or a "whole template is normal" verdict covers, plus the picks ranked ahead in the same answer),
  // r = L / (L + opinion_ramp) scales both coverage_weight and the second opinion's part of the
  // disagreement. So the first picks follow the detector's own uncertainty (the ranking of sessions
  // 9-12) and the expected corrections and the second opinion take over as labels accumulate. >= 0
  // (at most 1000); 0 = r is always 1 (session 13's ranking).
  double opinion_ramp = 0.0;
  // Share of the group's mean line uncertainty in its uncertainty; the rest is its representative's
  // (its most uncertain line's). A large group whose scores spread widely always has a line near the
  // threshold, so by its representative alone it ties with a small group the detector truly doubts
  // (on BGL the big familiar groups tie at uncertainty 1). In [0, 1]; 0 = the representative's alone
  // (sessions 13-18; alone, 1 lost in session 14). 1 since session 19, together with size_weight
  // 0.25 (see there).
  double mean_uncertainty_share = 1.0;
  // Expected corrections over the few-shot rule's token neighbourhood (neighbourhood.h): > 0 counts,
  // for a group whose representative carries tokens, the lines anywhere in the input that a verdict
  // on it would change (sharing at least this much of its tokens, nearer to it than to any label of
  // the other class; for a normal verdict also the alerting lines below the threshold that share at
  // least neighbour_keep_match), not only the group's own. It should equal the few-shot detector's
  // FewShotOptions::match (0.3) and keep_alert_match (0.2). In [0, 1]; 0 = the group's own lines
  // (session 13's count; the default). Off: 0.3 won on the line tuning splits by one cell (loghub-2k
  // BGL and BGL-20k's tuning parts, both pool splits; coverage_weight 0.25, 0.5, 0.75 and a diversity
  // cut tried) but lost on the held BGL-20k pool-blocks split (active k = 2: 0.228 against 0.879), where
  // an early normal verdict silenced the alerting anomalies of its neighbourhood (docs/EVALUATION.md
  // "Session 16: active selection by what a verdict changes under the keep rule"). Lines without tokens
  // keep the group's own count.
  double neighbour_match = 0.0;
  double neighbour_keep_match = 0.2;  // in [0, 1]; 0 = no keep rule
  // A group whose representative shares at least this much of its tokens with a pick ranked ahead of
  // it in the same answer goes after the picks that do not (two picks from one neighbourhood teach
  // the detector about as much as one). Lines without tokens never clash. In [0, 1]; 0 = off (0.3
  // changed no tuning cell: labelled neighbourhoods are already decided).
  double diversity_match = 0.0;
  // InvalidArgument naming the field when out of range.
  absl::Status Validate() const;
};

// One proposed line, best first in SelectLines' answer.
struct Pick {
  size_t line = 0;            // index into SelectionInput::lines: the group's representative
  int32_t template_id = -1;
  int64_t group_size = 0;     // lines of the template in the input
  double margin = 0;          // (score - threshold) / scale: > 0 above the threshold
  double uncertainty = 0;     // 1 / (1 + |margin|), in (0, 1]
  double disagreement = 0;    // in [0, 1]
  double priority = 0;        // what the ranking sorts on (higher first)
  // The group's mean probability of being anomalous, in [0, 1], and the decisions a verdict on it is
  // expected to turn right (see the header comment).
  double anomaly_probability = 0;
  double corrections = 0;
};

// The representatives of the uncovered groups, best first, at most `max_picks` (0 = all).
// InvalidArgument when the options do not Validate() or a line's label or alert is not -1, 0 or 1.
absl::StatusOr<std::vector<Pick>> SelectLines(const SelectionInput& input,
                                              const SelectorOptions& options,
                                              size_t max_picks = 0);

// The disagreement of one line in [0, 1]: the larger of twice the standard deviation of its
// signals (two or more) and |model_probability - 1 / (1 + exp(-margin))| when it has a model
// probability. Exposed for the UI, which shows it.
double Disagreement(const LineInfo& line, double margin);

// One line's probability of being anomalous, in [0, 1]: the logistic of its margin, mixed with its
// model_probability when it has one (`margin_share` of the logistic). Exposed for the UI and tests.
double AnomalyProbability(const LineInfo& line, double margin, double margin_share = 0.5);

}  // namespace fedlog::active

#endif  // FEDLOG_COMMON_ACTIVE_SELECTOR_H_
