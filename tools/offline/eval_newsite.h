// `fedlog eval newsite`: a real-labelled system joins as a new site with no labels (k = 0) and scores
// its own stream online with the label-free detector (common/novelty), as live detection would: every
// line from the lines before it, the alert threshold from the site's alert budget, no test label used
// for anything but the metrics. Per system: AUROC, PR-AUC, F1 at the site's threshold (budget, then
// adapted: novelty::SiteThreshold), alerts per 10k lines and the alert rate on normal lines against the
// budget; in the same run the baselines (severity-word rule, online template rarity), each signal
// alone, and a sweep of budgets. Then k > 0 (eval_newsite_fewshot.cc): k labels per class at random
// (several seeds, medians) or 2k by active selection (common/active) from the stream's first part,
// the few-shot detector (common/fewshot) against Jaccard 1-NN and XGBoost on the same labels, measured
// on the rest; learning_curve.svg (eval_newsite_report.cc). With --federated, an arm the verb is
// given (NewsiteArmFn; `fedlog` passes eval_newsite_federated.h's) adds the federation's encoder
// against the same site alone on the same units and labels.
//   bgl2k   loghub-2k BGL (2,000 lines, 143 alerts): the tuning system, parameters were chosen here
//   bgl     BGL-20k lines (1,458 alerts)
//   hdfs    HDFS_v1 2% block sessions (350 anomalous of 11,501); a block's score is its lines' maximum
//   hadoop  55 Hadoop applications (44 faulty); an application's score is its lines' maximum
// Sessions (hdfs, hadoop): each session is also scored when it goes quiet (novelty::SessionScorer),
// and a DeepLog-style next-event baseline runs beside it (eval_newsite_session.cc).
// Library fedlog_tools_newsite: eval_newsite_{data,verb,fewshot,report,session,session_labels,
// session_select,session_lookup,session_kinds,ceiling}.cc. Thread-compatible; one thread.
#ifndef FEDLOG_TOOLS_OFFLINE_EVAL_NEWSITE_H_
#define FEDLOG_TOOLS_OFFLINE_EVAL_NEWSITE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/active/selector.h"
#include "common/fewshot/detector_choice.h"
#include "common/fewshot/fewshot.h"
#include "common/fewshot/session_kinds.h"
#include "common/fewshot/session_lookup.h"
#include "common/kinds/alarm_budget.h"
#include "common/novelty/scorer.h"

namespace fedlog::cli {
class Args;
}  // namespace fedlog::cli

namespace fedlog::offline {

// --federated (eval_newsite_federated.cc): a federation trained without the system's source type
// (the seed-labelled sources but that one, and the other real-labelled systems; --fed-sibling adds
// one site that runs it, on disjoint data), then the system joins with the federation's encoder
// against the same encoder trained by the site alone.
struct NewsiteFederatedOptions {
  bool enabled = false;
  std::vector<std::string> systems = {"bgl", "hdfs"};  // of NewsiteOptions::systems: bgl2k, bgl, hdfs, hadoop
  // The per-round work of `eval federated` (30 contrastive steps, 10 meta-iterations) over half its
  // rounds, so both systems' arms fit in a few minutes on 2 cores.
  int rounds = 5;              // federated rounds; the site alone trains as many local rounds
  int contrastive_steps = 30;  // per site and round (model::LocalWork)
  int meta_iterations = 10;    // per site and round (federation sites with labels)
  int seed_sites = 3;          // sites the seed-labelled sources are dealt into
  int max_train_lines = 5000;  // per site and for the new site's own training lines (seeded subsample)
  int novelty_memory = 1000;   // pool lines the embedding-novelty score compares each line with
  int threads = 1;             // torch intra-op threads
  // The federation's own seed (initial weights, site splits, local rounds); 0: NewsiteOptions::seed.
  // Label draws keep NewsiteOptions::seed, so runs with several federation seeds share their labels.
  uint64_t seed = 0;
  // The fused support detector (model::FusedFewShotDetector): a unit takes its nearest labelled
  // unit's class when their cosine similarity is at least the match_quantiles[0] quantile of the
  // pool units' nearest-neighbour similarities under the same encoder; further values add rows
  // (for tuning on bgl2k). Chosen on bgl2k only (docs/EVALUATION.md).
  std::vector<double> match_quantiles = {0.5};
  // Token-overlap alignment weight of every round's local work (model::LocalWork::jaccard_weight),
  // for the federation, the tuned and the alone arm alike; 0: off.
  float jaccard_weight = 0;
  // The "prototype prior" rows (eval_newsite_federated_prior.cc, model::PrototypePrior): the
  // weight w of the prototypes' rank against the product's k = 0 detector's,
  // (1 - w) * Q(base) + w * Q(prior). The first value is the "prototype prior" row; further values
  // add rows "prototype prior w=W" (for tuning on bgl2k). 0.1 chosen on bgl2k only, by a rule fixed
  // before the run (the best mean F1 of the federated arm over k = 0, 5, 10; 0.1, 0.25, 0.5, 0.75, 1
  // tried; docs/EVALUATION.md "Session 12").
  std::vector<double> prior_weights = {0.1};
  // Pseudo-lines per class of the global prototypes against the site's labels
  // (model::PrototypePriorOptions::prior_count).
  double prior_count = 5;
  // The "fewshot + encoder" rows (eval_newsite_federated_encoder.cc): common/fewshot's
  // encoder_weight. The first value is the "fewshot + encoder" row; further values add rows
  // "fewshot + encoder w=W" (for tuning on bgl2k; 0 is the encoder-free product rule on the same
  // units). 0.05 chosen on bgl2k only, by a rule written before the run (the best mean F1 of the
  // federated and alone arms over random and active k = 5 and 10; 0, 0.05, 0.1, 0.2, 0.3, 0.5 tried;
  // docs/EVALUATION.md "Session 13").
  std::vector<double> encoder_weights = {0.05};
  // The "choice" rows (eval_newsite_federated_choice.cc): detect.detector_choice = auto's margin
  // (fewshot::ChoiceOptions::margin). The first value is the "choice" row; further values add rows
  // "choice m=M" (for tuning on bgl2k; docs/EVALUATION.md "Session 14").
  std::vector<double> choice_margins = {fewshot::ChoiceOptions().margin};
  // The choice rows' leave-one-out units (--choice-compare templates|lines;
  // fewshot::ChoiceOptions::compare, detect.detector_choice_compare).
  fewshot::CompareUnits choice_compare = fewshot::ChoiceOptions().compare;
  // --fed-sibling: the federation also holds ONE site running the new site's own system, with its
  // own labels, on data disjoint from the new site's stream (LoadNewsiteFederation): for bgl the
  // loghub-2k BGL source less the lines that occur verbatim in BGL-20k; for bgl2k BGL-20k less the
  // lines in loghub-2k BGL; for hdfs one half of HDFS_2pct's blocks (NewsitePart), the new site
  // keeping the other. Off: no federation site runs the new site's source type.
  bool sibling = false;
  // --fed-kind-labels N: the sibling's kind sketch (LoadFederationKinds) counts N of its labelled
  // units, a seeded random draw (seed: NewsiteOptions::seed), instead of all of them (0): how many labels a
  // labelling site needs before its kind verdicts carry (docs/EVALUATION.md "Session 17").
  int kind_labels = 0;
  // Who the federation's kind sketch comes from and how far it is trusted (eval_newsite_federated_trust.cc;
  // docs/EVALUATION.md "Session 18"). --fed-kind-defence on|off: each site's sketch capped at
  // kinds::kSiteBucketCap and the verdicts' site rule (on, the product), or session 17's uncapped sum with
  // one site enough for either verdict (off). --fed-kind-silence-sites / --fed-kind-alarm-sites: the sites a
  // normal / anomalous verdict needs with the defence on (kinds::KindVerdictOptions; 2 and 1). --fed-siblings
  // 1|2: the sibling's labelled units as one honest site or as two (its first and second half, in stream
  // order). --fed-liar none|invert|silence|alarm: one more site, a copy of the sibling's labelled units with
  // every label inverted / normal / anomalous, each unit counted kLiarRepeat times. --fed-kind-trust-rows:
  // k = 0 rows for a fixed set of these settings in the same run (KindTrustVariants).
  // --fed-kind-alarm-budget S: the new site's alarm budget (kinds::AlarmBudget; detect.kind_alarm_budget), a
  // share in [0, 1], 0 = off; default the product's. --fed-kind-alarm-exempt-sites N: its exempt sites (0, or
  // 2..8). --fed-kind-alarm-budgets S[,S...] (with --fed-kind-trust-rows): more trust rows, each share with
  // the honest siblings and the alarm liar (docs/EVALUATION.md "Session 19: ..."). --fed-kind-alarm-mass
  // all|quiet: what a kind weighs in that budget (kinds::AlarmBudgetMass; detect.kind_alarm_budget_mass);
  // default the product's. The budget rows come with each mass (docs/EVALUATION.md "Session 20: ...").
  struct KindTrust {
    bool defence = true;
    int silence_sites = 2;
    int alarm_sites = 1;
    int siblings = 1;
    std::string liar = "none";
    bool rows = false;
    double alarm_budget = kinds::kDefaultAlarmBudget;
    int exempt_sites = 0;
    std::vector<double> budget_rows;
    kinds::AlarmBudgetMass mass = kinds::kDefaultAlarmBudgetMass;
  };
  KindTrust kind_trust;
};

// --federated, --fed-systems, --fed-rounds, --fed-steps, --fed-meta, --fed-max-lines, --fed-seed,
// --fed-match-quantile, --fed-jaccard-weight, --fed-prior-weight, --encoder-weight, --threads,
// --choice-margin, --fed-sibling, --fed-kind-labels into
// `o` (eval_newsite_federated_options.cc); InvalidArgument naming the flag.
absl::Status ParseNewsiteFederatedArgs(const cli::Args& args, NewsiteFederatedOptions* o);
// True when the federated arm is on and names `system`.
bool WantsFederatedArm(const NewsiteFederatedOptions& o, const std::string& system);

struct NewsiteOptions {
  std::string data_dir;
  std::string out_dir;
  std::vector<std::string> systems = {"bgl2k", "bgl", "hdfs", "hadoop"};
  novelty::NoveltyOptions detector;  // expected_alert_rate is the site's budget
  std::vector<double> budget_sweep = {0.001, 0.005, 0.01, 0.02, 0.05, 0.1};
  // k > 0 (eval_newsite_fewshot.cc): labels per class drawn from the units that start in the first
  // `label_part` of the stream; every method is measured on the units that start after it.
  std::vector<int> shots = {5, 10, 30};
  int seeds = 5;            // random draws per k (the median is reported)
  uint64_t seed = 1;        // first seed
  double label_part = 0.3;  // in (0, 1)
  // > 0 (the k > 0 rows, the session rows with labels and --ceiling): the labelling pool is drawn
  // from the whole stream instead: the stream is cut into 2 x pool_blocks equal blocks of lines, the
  // units starting in the even blocks (0, 2, ...) form the pool and the rest the test part
  // (label_part and test_end are then unused there). A unit goes whole to the block of its first
  // line, sessions with their unit. What the labels allow when the pool holds the test part's kinds
  // of anomaly (docs/EVALUATION.md "Session 12", and "Session 13" for sessions). 0: the first
  // label_part / the rest.
  int pool_blocks = 0;
  // With pool_blocks: tuning inside that pool: labels from the units starting in blocks 0, 4, 8,
  // ..., measured on those starting in blocks 2, 6, 10, ...; the odd blocks are not used
  // (--pool-tune). Without: labels from the first half of the label_part, measured on its second
  // half; the units after label_part are not used.
  bool pool_tune = false;
  // With pool_tune: 1 swaps the pool's two halves (--pool-tune-fold): labels from the second half
  // of the label_part (or blocks 2, 6, 10, ...), measured on its first half (blocks 0, 4, 8, ...);
  // the test part is still not used. A second tuning fold inside the same pool. 0: as above.
  int pool_tune_fold = 0;
  std::string strategy = "both";  // "random", "active" (common/active) or "both"
  // The line selector's active::SelectorOptions::coverage_weight for the active rows
  // (--active-coverage; its default is the selector's).
  double active_coverage_weight = active::SelectorOptions{}.coverage_weight;
  // ... and its margin_probability_share (--active-margin-share).
  double active_margin_share = active::SelectorOptions{}.margin_probability_share;
  // ... and its opinion_ramp (--active-ramp).
  double active_opinion_ramp = active::SelectorOptions{}.opinion_ramp;
  // ... and its mean_uncertainty_share (--active-mean-uncertainty; line units only, session units keep 0).
  double active_mean_uncertainty = active::SelectorOptions{}.mean_uncertainty_share;
  // ... and its neighbour_match (--active-neighbour-match; line units only, sessions keep 0; its
  // neighbour_keep_match is the few-shot rule's keep_alert_match of the run) and diversity_match
  // (--active-diversity).
  double active_neighbour_match = active::SelectorOptions{}.neighbour_match;
  double active_diversity = active::SelectorOptions{}.diversity_match;
  // ... and its size_weight (--active-size-weight; line units only, session units keep 0).
  double active_size_weight = active::SelectorOptions{}.size_weight;
  // Sessions with labels (eval_newsite_session_labels.cc): the active session selector's weight of
  // a group's alerted share (active::SessionSelectorOptions::alert_weight), and, for tuning inside
  // the label pool, the end of the measured part (units starting before test_end of the stream;
  // 1 = all after label_part). The session rows only.
  double session_alert_weight = 1.0;
  double test_end = 1.0;
  // Session 10's rule for the comparison row: a normal group verdict silences the group's broken
  // sessions too, whether or not the labelled session was broken (novelty::SessionGroups).
  bool verdict_silences_broken = false;
  fewshot::FewShotOptions fewshot;
  // fewshot.normal_match for session units (HDFS blocks, Hadoop applications; lines keep
  // fewshot's): --session-normal-match, chosen on the session systems' tuning parts
  // (fewshot::FewShotOptions::normal_match, docs/EVALUATION.md "Session 11").
  double session_normal_match = 0.9;
  // The product's session detector with labels (eval_newsite_session_lookup.cc): the least token
  // similarity at which a labelled unit's class overrides the session verdicts' decision on a
  // unit; 0 = off (the verdicts alone; the default). --session-lookup-match; live:
  // detect.session_lookup_match.
  double session_lookup_match = fewshot::SessionLookup::kDefaultMatch;
  // Unit-kind verdicts over the session verdicts (fewshot::SessionKinds; --session-kind-rule; live:
  // detect.session_kind_rule): a verdict labels its key's exact template counts at its session's
  // close, and a later session whose key has a kind labelled normal only is silenced (kSilence; with
  // kSilenceAndRaise one labelled anomalous only alerts). The rows of every rule are reported; this
  // one is the product's "session detector + labels": kExact, chosen on tuning parts inside the label
  // pool by a rule written first (docs/EVALUATION.md "Session 13").
  fewshot::KindRule session_kind_rule = fewshot::KindRule::kExact;
  // The kinds of whole units (at the stream's end) instead of at each session's close: a final
  // verdict live detection cannot give; for the bound row only.
  bool session_kinds_whole = false;
  // Whole-unit decisions (fewshot::SessionWholeUnits; --session-whole-unit; live:
  // detect.session_whole_unit): at each later piece of a session key the kind rule judges the key's
  // union, withdrawing or raising the key's alert. The product row is then the units' final decision;
  // the alerts raised (withdrawn ones included) get a row of their own.
  bool session_whole_unit = false;
  // --ceiling: the pool's ceiling rows (eval_newsite_ceiling.cc) after the k > 0 rows.
  bool ceiling = false;
  bool dump = false;  // --dump: write the per-unit and active-pick CSVs beside results.md
  NewsiteFederatedOptions federated;
};

// One system's stream as the new site sees it, with the ground truth per unit.
struct NewsiteStream {
  std::string system;   // "bgl2k", "bgl", "hdfs", "hadoop"
  std::string unit;     // "line", "block", "application"
  std::string format;   // LineParser name
  std::string session_pattern;  // EventOptions::session_pattern ("" = host)
  std::vector<std::string> lines;             // raw lines in stream order, without labels
  std::vector<std::vector<int32_t>> units;    // units each line belongs to (line protocols: itself)
  std::vector<uint64_t> line_session;         // non-empty: explicit session of each line (containers)
  std::vector<int> y;                         // per unit, 1 = anomalous
  std::vector<std::string> notes;
};

// Which part of a system's data a stream holds. --fed-sibling splits HDFS_2pct's labelled blocks in
// two by a fixed hash of the block id (HdfsSiblingBlock): the federation's sibling site gets one half,
// the new site's stream the other (the whole run for that system: label-free rows and every arm).
// Systems other than hdfs have one part only (kAll; another part is InvalidArgument).
enum class NewsitePart { kAll, kNewSiteHalf, kSiblingHalf };
// True when the block goes to the sibling's half (FNV-1a of the id, its top bit).
bool HdfsSiblingBlock(std::string_view block_id);

// NotFound when the system's data is absent; InvalidArgument for an unknown system. For hdfs with a
// half, a line goes to the half of the first labelled block it mentions (as eval federated's HDFS
// sites), keeps only that half's blocks as units, and lines mentioning no labelled block stay in the
// new site's half (the sibling's loader drops them).
absl::StatusOr<NewsiteStream> LoadNewsiteStream(const std::string& system, const std::string& data_dir,
                                                NewsitePart part = NewsitePart::kAll);
// The part of `system` a run's streams hold: kNewSiteHalf for hdfs when the federated arm runs it
// with a sibling (o.federated.sibling), else kAll.
NewsitePart NewsiteStreamPart(const NewsiteOptions& o, const std::string& system);

// Per line of a stream, what the detector and the baselines said (in stream order).
struct ScoredStream {
  std::vector<double> fused;                 // NoveltyScorer score
  std::vector<uint8_t> alert;                // at options.detector.expected_alert_rate
  std::vector<uint32_t> fired;               // signals that fired
  std::vector<std::vector<double>> signal;   // [signal][line] raw value
  std::vector<uint8_t> severity_rule;        // FATAL/FAILURE/SEVERE/ERROR in the line
  std::vector<int32_t> template_id;          // Drain template of each line (online)
  // Per line: the threshold that decided it (LineScore / HeldVerdict threshold, a held line's at its
  // release) and whether the budget window withheld its alert (--dump's threshold and withheld).
  std::vector<double> threshold;
  std::vector<uint8_t> withheld;
  int64_t templates = 0;                     // Drain templates at the end
  // Per unit: its tokens and label-free signals for the k > 0 detectors (fused score and each raw
  // signal, maximum over the unit's lines), and its first line (stream order).
  std::vector<fewshot::Unit> units;
  std::vector<int64_t> unit_first_line;
  std::string final_stage;   // the threshold stage at the end of the stream (StageName)
  double adapted_rate = 0;   // the adapted alert rate at the end (0: not adapted)
  double final_threshold = 0;  // the label-free threshold in force at the end
  // Sessions (lines with a session key: HDFS blocks, Hadoop containers). Per line its session key
  // (has_session 0: none); per unit the maximum score of the sessions its lines belong to (-1: no
  // session) and whether one of them alerted; every session's score as it closed.
  std::vector<uint8_t> has_session;
  std::vector<uint64_t> session;
  std::vector<double> unit_session_score;
  std::vector<uint8_t> unit_session_alert;
  std::vector<std::vector<double>> unit_session_signal;  // [session signal][unit] raw maximum
  std::vector<novelty::SessionScore> sessions;
  std::vector<int64_t> session_close_line;  // per entry of `sessions`: the line it closed on (n: at the end)
  std::vector<std::vector<int32_t>> session_units;  // per entry of `sessions`, its units
  std::string session_stage;  // the session threshold's stage at the end (StageName)
  double session_adapted_rate = 0;
};

// The window of NewsiteRow::worst_window_normal_rate: the detector's budget window when it is on,
// else the default one (novelty::NoveltyOptions::budget_window), so that runs with and without it
// report the same windows.
int64_t ReportWindow(const NewsiteOptions& options);

// Parses, mines templates online (Drain Add) and scores every line in order.
absl::StatusOr<ScoredStream> ScoreNewsiteStream(const NewsiteStream& stream,
                                                const NewsiteOptions& options);

// One evaluated method on one system.
struct NewsiteRow {
  std::string method;     // "novelty", "severity-rule", "template-rarity", "signal:<name>", ...
  double budget = 0;      // the alert budget of the threshold (0: the method has its own rule)
  bool ranking_only = false;  // no operating threshold (single signals)
  double auroc = 0, pr_auc = 0;
  double precision = 0, recall = 0, f1 = 0;
  double oracle_f1 = 0;   // best F1 over thresholds chosen WITH the test labels (ranking quality only)
  double alerts_per_10k = 0;       // line alerts per 10,000 lines
  double normal_line_alert_rate = 0;  // alerted lines among lines of normal units
  double normal_unit_alert_rate = 0;  // alerted normal units (sessions / applications; = line rate)
  // The highest normal_line_alert_rate over every run of ReportWindow(options) consecutive lines
  // (the whole stream when shorter): the budget as a site sees it over a stretch of its stream
  // (novelty::NoveltyOptions::budget_window). < 0: not measured (rows without line alerts).
  double worst_window_normal_rate = -1;
};

struct NewsiteSystemResult {
  std::string system, unit;
  int64_t lines = 0, units = 0, anomalous_units = 0, templates = 0;
  std::vector<NewsiteRow> rows;
  std::vector<std::string> notes;
  std::vector<std::pair<std::string, int64_t>> fired_counts;  // signal -> alerted lines it fired on
  double seconds = 0;
};

// The session rows (eval_newsite_session.cc), for a stream with sessions: the session detector at
// the site threshold (unit = max over its sessions), each session signal alone, and the
// DeepLog-style baseline: an n-gram next-event model (novelty::NgramModel, h = 10, g = 9) trained on
// the NORMAL sessions of units that start in the first `label_part` of the stream (it uses those
// labels, as DeepLog's protocol does), scored on the units after it, beside the session detector on
// the same units. `equal` is the same stream scored with equal weights, `no_wait` with incomplete
// sessions closing at the usual quiet time (session 9's detector); either may be null.
absl::Status AddSessionRows(const NewsiteStream& stream, const ScoredStream& scored,
                            const ScoredStream* equal, const ScoredStream* no_wait,
                            const NewsiteOptions& options, NewsiteSystemResult* result);

// Metrics of every method on one scored stream (eval_newsite_verb.cc).
absl::StatusOr<NewsiteSystemResult> EvaluateNewsite(const NewsiteStream& stream,
                                                    const ScoredStream& scored,
                                                    const NewsiteOptions& options);

// One method at one k on the units after the labelled part (medians over the seeds for random).
struct KShotRow {
  std::string method;    // "fewshot", "jaccard-1nn", "xgboost", "novelty (k=0)", ...
  std::string strategy;  // "random", "active", "-" (k = 0)
  int k = 0;             // labels per class asked for (active: 2k labels in all; -1: every pool label)
  double labels = 0;     // labels actually used (median)
  double auroc = 0, pr_auc = 0, precision = 0, recall = 0, f1 = 0;
  double alerts_per_10k = 0;      // alerted units per 10,000 lines of the test part
  double normal_alert_rate = 0;   // alerted normal units among normal units
  int runs = 0;                   // seeds that produced a row
};

struct KShotResult {
  int64_t pool_units = 0, pool_anomalous = 0, test_units = 0, test_anomalous = 0, test_lines = 0;
  std::vector<KShotRow> rows;
  std::vector<std::string> notes;
};

// The k > 0 protocol on one scored stream (eval_newsite_fewshot.cc).
absl::StatusOr<KShotResult> EvaluateKShot(const NewsiteStream& stream, const ScoredStream& scored,
                                          const NewsiteOptions& options);
// The few-shot options for `stream`'s units: options.fewshot, with session_normal_match as
// normal_match when the units are not lines.
fewshot::FewShotOptions KShotFewShotOptions(const NewsiteStream& stream, const NewsiteOptions& options);
// The pool's ceiling (eval_newsite_ceiling.cc, --ceiling): every unit of the labelling pool
// labelled, on the test units: the few-shot detector and Jaccard 1-NN with the whole pool as
// support, XGBoost and logistic regression on a hashed token bag plus the label-free signals; rows
// with strategy "every pool label" (k = -1), each score's oracle F1 and a template-lookup count as
// notes. What no choice of k labels from this pool can beat with these features.
absl::Status AddPoolCeilingRows(const NewsiteStream& stream, const ScoredStream& scored,
                                const NewsiteOptions& options, KShotResult* out);
// Issue 14's half-labels check on the few-shot rows: the highest F1 both strategies reach and the
// fewest labels each needs for it (a note; empty when a strategy has no row).
std::string HalfLabelsNote(const KShotResult& r);
// Sessions with labels (eval_newsite_session_labels.cc), for a stream with sessions and k > 0 rows:
// the session detector at k = 0 on the test units, then with each k's verdicts on sessions (from
// the random unit draws of the other methods, from the active session selection, and the pool's
// best verdicts as an oracle): a verdict settles its shape group (novelty::SessionGroups), the
// verdicts' scores move the session threshold (novelty::LabelledThreshold), and a labelled
// anomalous unit's rare templates mark the test units that have one; on the test part and the
// whole stream. Rows are added to `out`.
absl::Status AddSessionLabelRows(const NewsiteStream& stream, const ScoredStream& scored,
                                 const NewsiteOptions& options, KShotResult* out);

// The pieces of the k > 0 protocol that other arms reuse (eval_newsite_fewshot.cc), so every arm
// is measured on the same units with the same label draws.
struct NewsiteSplit {
  std::vector<size_t> pool, test;  // units starting in the first label_part of the stream / after it
                                   // (with pool_blocks: in the even / odd blocks)
  std::vector<int> test_y;
  int64_t test_lines = 0;
};
NewsiteSplit MakeNewsiteSplit(const NewsiteStream& s, const ScoredStream& sc, double label_part,
                              int pool_blocks = 0);
// The split of the k > 0 rows for `o`: label_part, or pool_blocks (and pool_tune).
NewsiteSplit KShotSplit(const NewsiteStream& s, const ScoredStream& sc, const NewsiteOptions& o);
// A note saying where the labelling pool and the measured units lie in the stream (label_part,
// pool_blocks, pool_tune, pool_tune_fold).
std::string PoolBlocksNote(const NewsiteOptions& o);
// Metrics of per-test-unit scores and alerts (in NewsiteSplit::test order).
absl::StatusOr<KShotRow> MeasureKShot(const NewsiteSplit& sp, const std::vector<double>& score,
                                      const std::vector<int>& alert);
// MeasureKShot on per-unit values (indexed by unit, as ScoredStream's unit vectors): the test units' scores and
// alerts taken in NewsiteSplit::test order.
template <typename Alert>
absl::StatusOr<KShotRow> MeasureTestUnits(const NewsiteSplit& sp, const std::vector<double>& unit_score,
                                          const std::vector<Alert>& unit_alert) {
  std::vector<double> score;
  std::vector<int> alert;
  score.reserve(sp.test.size());
  alert.reserve(sp.test.size());
  for (size_t u : sp.test) {
    score.push_back(unit_score[u]);
    alert.push_back(static_cast<int>(unit_alert[u]));
  }
  return MeasureKShot(sp, score, alert);
}
// Per class (0, 1), the pool units in the random order of draw `seed`; k labels per class are the
// first k of each.
std::vector<std::vector<size_t>> RandomLabelOrder(const NewsiteStream& s, const NewsiteSplit& sp,
                                                  uint64_t seed);
// The active picks (common/active with the few-shot detector), in the order picked, up to `budget`.
std::vector<size_t> ActiveLabelOrder(const NewsiteStream& s, const ScoredStream& sc,
                                     const NewsiteSplit& sp, const NewsiteOptions& o, size_t budget);
// Per method (the same order in every run), the median of each figure over the runs.
void AppendKShotMedians(const std::vector<std::vector<KShotRow>>& runs, int k,
                        const std::string& strategy, std::vector<KShotRow>* rows);

// --dump: one row per unit (label, pool 0 / test 1, label-free score and alert, token group, rank
// in the active order, tokens as hex hashes), for looking at what the k > 0 detectors see.
std::string KShotUnitsCsv(const NewsiteStream& s, const ScoredStream& sc, const NewsiteOptions& o);
// --dump: the active picks in order (as the selector ranked each: group, size, margin, uncertainty,
// disagreement, anomaly probability, expected corrections, priority) with the pool and measured units
// the few-shot detector decides right after each round of picks, for looking at what a pick turned.
std::string ActivePicksCsv(const NewsiteStream& s, const ScoredStream& sc, const NewsiteOptions& o);
std::string KShotMarkdown(const std::string& system, const std::string& unit, const KShotResult& r);
// F1 of the few-shot detector (and Jaccard 1-NN) against labels used, random vs active, one panel
// per system.
std::string LearningCurveSvg(const std::vector<std::pair<std::string, KShotResult>>& results);

// An extra arm run per system after k > 0 (the federated arm, eval_newsite_federated.h): its
// section of results.md and its JSON value. The torch-free verb takes it as a function so this
// library links no torch; `fedlog` passes FederatedNewsiteArm.
struct NewsiteArmResult {
  std::string markdown;
  std::string json;
};
using NewsiteArmFn = std::function<absl::StatusOr<NewsiteArmResult>(
    const NewsiteStream&, const ScoredStream&, const NewsiteOptions&)>;

// The verb's command line (eval_newsite_args.cc): its usage text, and `argv` parsed into `o` (every
// flag checked; InvalidArgument naming the flag, or "--out is required").
const char* NewsiteUsage();
absl::Status ParseNewsiteCommandLine(const std::vector<std::string>& argv, NewsiteOptions* o);

// `fedlog eval newsite` (eval_newsite_verb.cc). `federated_arm` runs for the systems
// options.federated names when --federated is given; without it --federated is refused.
int RunEvalNewsite(const std::vector<std::string>& args, const NewsiteArmFn& federated_arm = nullptr);

}  // namespace fedlog::offline

#endif  // FEDLOG_TOOLS_OFFLINE_EVAL_NEWSITE_H_
