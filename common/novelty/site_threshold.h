// SiteThreshold: the alert threshold a site really uses on its label-free score, in three stages.
//   budget     no labels: the running upper quantile of the score at the site's alert budget
//              (detect.expected_alert_rate), as AlertBudget.
//   adapted    no labels, and the stream shows that the budget is wrong for its prevalence. Two rules
//              (ThresholdOptions::rule).
//              compact (the line detector's default, NoveltyOptions): walking down from the top of the score histogram, the scores
//              split into clusters at valleys (a bin at most `valley_ratio` as dense as the cluster's
//              peak, no smoothing). A cluster is compact when the standard deviation of ln(1 + score)
//              over its lines is at most `cluster_width`: an incident is one event repeated on many
//              lines at near-equal scores, while routine severe lines that each carry their own value
//              (a job's path, a register) spread out. The threshold is the valley below the lowest
//              compact cluster reached before the first wide one; clusters holding fewer than half the
//              budget's share of lines are passed over, not judged. The clusters must hold no more
//              than the alarm-word lines' share and `max_cluster_share`; without such a cluster
//              (share above the budget) the budget stays. The clusters are taken as incidents and
//              spend none of the budget; the lines below them get `rest_budget` of it among
//              themselves, as a stream without clusters would (session 12): the threshold drops from
//              the clusters' valley to the upper quantile, at rest_budget * budget, of the scores
//              below that valley (whole bins; with rest_interpolate the last bin in part). With
//              rest_budget 0 (this struct's default) only the clusters alert; the budget then
//              bounds what the rule alerts outside them (nothing), so the
//              normal-line alert rate stays within the budget as far as a label-free rule can know.
//              The stage is judged every refresh_lines scores, and with refresh_on_rise also
//              on the score after which the budget quantile rose (session 24).
//              valley (this struct's default; sessions, and session 9's lines): the score
//              histogram has a separate high cluster (a valley below it at least `valley_ratio` times
//              shallower than the cluster's peak) holding more than the budget's share of lines, and
//              the stream's own alarm-word lines (the severity-word rule) are at least as many as that
//              cluster. The threshold is then the valley, i.e. the alert rate rises to the cluster's
//              share, never above `max_alert_rate`. A source whose alarm words are rare keeps its budget,
//              so a gap among novelty scores alone never multiplies the alerts.
//              When no such valley exists because the alarm-backed cluster is LARGER than the cap (it
//              holds the incidents and the normal severe lines together: a valley at most
//              `max_cluster_share` deep), the cluster is split at its own two-class cut (Otsu's: the
//              cut that maximises the between-class variance of the cluster's scores), and the upper
//              part is the adapted alert set when its share is in (budget, cap]. With
//              split_valley_cluster, a cluster found at a valley is split the same way (its upper
//              Otsu part, when that holds more than the budget's share).
//   labelled   as the site's labels arrive (feedback verdicts, `fedlog label`, a labels file): the
//              threshold that maximises F1 on the labelled lines' scores, shrunk towards the label-free
//              threshold while labels are few: t = t_free + n / (n + label_prior) * (t_labels - t_free),
//              n labelled lines (at least one anomalous one is needed).
// docs/DETECTION.md "The threshold" describes the stages for operators.
// Thread-compatible: one instance per source stream, used by one thread at a time.
#ifndef FEDLOG_COMMON_NOVELTY_SITE_THRESHOLD_H_
#define FEDLOG_COMMON_NOVELTY_SITE_THRESHOLD_H_

#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/novelty/tail_histogram.h"

namespace fedlog::novelty {

// How the label-free threshold adapts to the stream (the class comment above).
enum class ThresholdRule { kValley, kCompact };
// "valley", "compact".
std::string_view RuleName(ThresholdRule rule);
// false when `name` is neither ("" is compact, the default).
bool ParseRule(std::string_view name, ThresholdRule* rule);

struct ThresholdOptions {
  // valley here (sessions and the few-shot detectors keep it); the label-free line detector runs
  // compact by default (NoveltyOptions::threshold_rule).
  ThresholdRule rule = ThresholdRule::kValley;
  // compact: the widest cluster that counts as one incident, as the standard deviation of
  // ln(1 + score) over its lines; in (0, 1]. 0.0625 is 3 bins of TailHistogram (48 per unit).
  double cluster_width = 0.0625;
  // compact: share of the budget spent on the scores below the clusters' valley once adapted (the
  // class comment); in [0, 1]. 0 here: nothing outside the clusters alerts (session 11's rule; the
  // session threshold keeps it); the line detector spends half (NoveltyOptions::rest_budget).
  double rest_budget = 0;
  // compact, rest_budget > 0: the rest's cut may fall inside a bin. The rest cut takes whole bins
  // while their lines fit the rest's share; the first bin that does not fit is taken in part, the
  // cut put inside it as if its lines were spread evenly over the bin in ln(1 + score) (session 18).
  // false: whole bins only (a bin holding more lines than the share has left stops the cut above
  // it, however much of it would fit).
  bool rest_interpolate = false;
  double budget = 0.01;          // the site's alert budget, in (0, 0.5]
  // valley: the highest alert rate the label-free adaptation may reach. Either rule: <= budget
  // switches the adaptation off. At most 0.5.
  double max_alert_rate = 0.25;
  double valley_ratio = 0.25;    // (valley density + 1) / (cluster peak density + 1) at most this
  // valley: largest share of lines an alarm-backed cluster may hold to be split (Otsu) when it is
  // larger than the cap; <= max_alert_rate switches the split off. compact: the largest share the
  // compact clusters together may hold. At most 1.
  double max_cluster_share = 0.5;
  // A cluster found at a valley is split too: the alert set is the upper part of its Otsu cut when
  // that still holds more than the budget's share (the cluster holds the incidents and the routine
  // severe lines together; the within-level terms order them inside it). false: the whole cluster.
  bool split_valley_cluster = false;
  int smooth_bins = 2;           // histogram smoothing half-width (bins of TailHistogram), 0..16
  int64_t adapt_min_lines = 200; // no adaptation before this many scores
  int64_t refresh_lines = 64;    // the adapted threshold is recomputed every this many scores
  // Budget stage: the threshold is also recomputed on the score after which the budget quantile
  // rose (an extra refresh; the refresh_lines schedule is unchanged). A rise means a new mass holds
  // more than the budget's share of the top of the histogram, which is what the adapted rule
  // judges; without it the rule judges that mass only at the next refresh, and the lines of an
  // incident's burst that arrive in between alert neither at the budget (the quantile is above
  // them) nor as the incident (session 24). false here; the line detector turns it on
  // (NoveltyOptions::refresh_on_rise).
  bool refresh_on_rise = false;
  int64_t warmup_lines = 100;    // no alert before this many scores
  double label_prior = 10;       // pseudo-count of the shrinkage towards the label-free threshold, > 0
  // InvalidArgument naming the field when out of range.
  absl::Status Validate() const;
};

enum class ThresholdStage { kWarmup, kBudget, kAdapted, kLabelled };
// "warmup", "budget", "adapted", "labelled".
std::string_view StageName(ThresholdStage stage);

// The F1-maximising threshold on labelled scores: the midpoint between the lowest anomalous score of
// the best cut and the highest normal score below it (that score when none). false when no label is
// anomalous. Ties in F1 keep the higher threshold (fewer alerts).
bool MaxF1Threshold(const std::vector<double>& scores, const std::vector<int>& labels,
                    double* threshold, double* f1 = nullptr);

class SiteThreshold {
 public:
  // Options must Validate(); the caller checks.
  explicit SiteThreshold(const ThresholdOptions& options);

  // The threshold in force now (+infinity while none is defined).
  double Threshold() const;
  ThresholdStage stage() const;
  // Alert decision for `score` against what came before; then remembers the score and whether its
  // line carried an alarm word (HasSeverityWord). A score of 0 never alerts.
  bool Decide(double score, bool alarm_word, double* threshold = nullptr);
  // A labelled line's score (1 = anomalous, 0 = normal); the labelled stage starts with the first
  // anomalous label.
  void AddLabel(double score, int label);
  // Forgets the labels: back to the label-free threshold.
  void ClearLabels();
  // The label-free threshold (budget or adapted) and the alert rate it stands for.
  double LabelFreeThreshold() const;
  // The budget stage's threshold: the running upper quantile at the budget (+infinity during
  // warm-up), whatever the stage.
  double BudgetThreshold() const;
  double adapted_rate() const { return adapted_rate_; }
  // While adapted (stage kAdapted): the lower edge of the lowest incident cluster the rule alerts
  // (the compact rule's valley before the rest's share lowers the threshold; the valley rule's
  // threshold). 0 otherwise. The rank cut counts the lines above it as incidents (rank_cut.h).
  double ClusterValley() const;
  int64_t labels() const { return static_cast<int64_t>(label_scores_.size()); }
  const ThresholdOptions& options() const { return options_; }

 private:
  void Refresh();
  // refresh_on_rise: in the budget stage (no labels, not adapted) and past adapt_min_lines, the
  // budget quantile is above the one after the previous score.
  bool RoseInBudgetStage() const;
  // The valley cut (bin) of a high cluster whose share is in (budget, cap]; -1 when none.
  int FindValley(double cap) const;
  // The compact rule's cut (bin): below the lowest compact cluster above the first wide one, with
  // at most `cap` of the scores above it; -1 when none.
  int CompactCut(double cap) const;
  // The valley rule's cut (bin), -1 when none.
  int ValleyRuleCut(double alarm_share) const;
  // The compact rule's cut `cut` lowered so that the bins in [result, cut) hold at most
  // rest_budget * budget of the scores below `cut` (the rest's upper quantile); `cut` when none fit.
  // `partial` (rest_interpolate): the share of the bin below the result that also fits, in [0, 1).
  int RestCut(int cut, double* partial = nullptr) const;
  // The adapted threshold below the clusters' valley `cut` (RestCut, inside a bin with
  // rest_interpolate) and, in `rate`, the share of the scores at or above it.
  double RestThreshold(int cut, double* rate) const;
  // Otsu's cut (bin) of the scores in bins >= `from`: the bin that maximises the between-class
  // variance of the two parts; -1 when the part holds fewer than two distinct bins.
  int OtsuCut(int from) const;
  // Share of scores in bins >= `bin`.
  double ShareFrom(int bin) const;

  ThresholdOptions options_;
  TailHistogram scores_;
  int64_t alarm_lines_ = 0;
  int64_t since_refresh_ = 0;
  // refresh_on_rise: BudgetThreshold() after the previous score (+infinity before any).
  double last_budget_ = std::numeric_limits<double>::infinity();
  double adapted_ = 0;       // > 0: the adapted threshold
  double adapted_rate_ = 0;  // share of scores at or above it when it was set
  double valley_ = 0;        // > 0: the clusters' valley when adapted_ was set (ClusterValley)
  std::vector<double> label_scores_;
  std::vector<int> label_values_;
  bool labelled_ = false;
  double label_threshold_ = 0;
};

}  // namespace fedlog::novelty

#endif  // FEDLOG_COMMON_NOVELTY_SITE_THRESHOLD_H_
