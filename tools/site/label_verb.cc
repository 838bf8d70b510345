// `fedlog label --config SITE.yaml [--count N]`: the fastest way to a site's first labels. The
// site's recent lines (its configured sources) are scored as live detection scores them and
// grouped by template; common/active's selector proposes one line per group, ranked by the
// detector's uncertainty and the group's size, and the operator answers anomaly / normal /
// whole template is normal / skip / quit. Each verdict is stored at once (label_verb_data.h), so
// quitting or Ctrl-C loses nothing; the running detector picks verdicts up within its poll
// interval and the next federated round trains with them. Modes:
//   (default)        terminal UI (label_verb_ui.h)
//   --batch          no terminal: candidates on stdout, one answer per stdin line
//   --answers-from   with --batch: answers from a ground-truth CSV instead of stdin (demos)
//   --list           the ranked candidates only, nothing asked or stored
//   --report         the detection live detection gives on these lines now (alerts, and with
//                    --truth precision / recall / F1), so a site can compare before and after
//   --lines          ask about lines even when the site's lines form sessions
// A site that sets detect.session_pattern (its lines carry a session key, e.g. an HDFS block id) is asked
// about sessions: one per group of sessions of the same shape (common/active/session_selector.h),
// and a verdict labels the session and its group (label_verb_data.h).
// docs/LABELING.md describes it.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/line_labels.h"
#include "common/novelty/scorer.h"
#include "common/novelty/session_scorer.h"
#include "tools/cli/args.h"
#include "tools/cli/verb.h"
#include "tools/site/label_verb_data.h"
#include "tools/site/label_verb_ui.h"

namespace fedlog::cli {
namespace {

int Fail(const absl::Status& st, int code) {
  std::fprintf(stderr, "fedlog label: %s\n", std::string(st.message()).c_str());
  return code;
}

// Ground truth of the lines of `site`'s first file: line number -> label (0 / 1).
struct Truth {
  std::string file;
  std::map<int64_t, int> labels;
  std::vector<bool> group_has_anomaly;  // per template group, over the labeled lines
};

absl::StatusOr<Truth> LoadTruth(const LabelSite& site, const std::string& path) {
  auto labels = client::ReadLineLabels(path);
  if (!labels.ok()) return labels.status();
  Truth t;
  t.file = site.lines().front().file;
  t.labels = std::move(*labels);
  t.group_has_anomaly.assign(site.groups().size(), false);
  for (const SiteLine& l : site.lines()) {
    if (l.file != t.file) continue;
    auto it = t.labels.find(l.line_no);
    if (it != t.labels.end() && it->second > 0) t.group_has_anomaly[l.group] = true;
  }
  return t;
}

// The answer ground truth gives: an anomalous line is an anomaly; a normal line whose template has
// no anomalous line is a whole normal template; else a normal line; unlabeled: skip.
char TruthAnswer(const LabelSite& site, const Truth& truth, size_t line) {
  const SiteLine& l = site.lines()[line];
  if (l.file != truth.file) return 's';
  auto it = truth.labels.find(l.line_no);
  if (it == truth.labels.end()) return 's';
  if (it->second > 0) return 'a';
  return truth.group_has_anomaly[l.group] ? 'n' : 't';
}

// A session's truth: anomalous when one of its labeled lines is, normal when it has labeled lines
// and none is; -1 (skip) without any.
int SessionTruth(const LabelSite& site, const Truth& truth, const SiteSession& s) {
  int y = -1;
  for (size_t i : s.lines) {
    const SiteLine& l = site.lines()[i];
    if (l.file != truth.file) continue;
    auto it = truth.labels.find(l.line_no);
    if (it != truth.labels.end()) y = std::max(y, it->second > 0 ? 1 : 0);
  }
  return y;
}

// Session alerts live detection would raise now, and with `truth` their precision and recall.
void ReportSessions(const LabelSite& site, const std::optional<Truth>& truth) {
  int64_t alerts = 0, tp = 0, fp = 0, fn = 0;
  for (const SiteSession& s : site.sessions()) {
    const bool alert = site.SessionWouldAlert(s);
    alerts += alert ? 1 : 0;
    const int y = truth ? SessionTruth(site, *truth, s) : -1;
    tp += alert && y == 1;
    fp += alert && y == 0;
    fn += !alert && y == 1;
  }
  std::printf("  sessions: %zu, %lld session alerts", site.sessions().size(),
              static_cast<long long>(alerts));
  if (truth) {
    const double p = tp + fp > 0 ? static_cast<double>(tp) / static_cast<double>(tp + fp) : 0;
    const double r = tp + fn > 0 ? static_cast<double>(tp) / static_cast<double>(tp + fn) : 0;
    std::printf("; against the truth (a session is anomalous when one of its lines is): "
                "precision %.3f recall %.3f F1 %.3f (TP %lld FP %lld FN %lld)",
                p, r, p + r > 0 ? 2 * p * r / (p + r) : 0.0, static_cast<long long>(tp),
                static_cast<long long>(fp), static_cast<long long>(fn));
  }
  std::printf("\n");
}

int Report(const LabelSite& site, const Args& args) {
  std::optional<Truth> truth;
  if (args.Has("truth")) {
    auto t = LoadTruth(site, args.Get("truth"));
    if (!t.ok()) return Fail(t.status(), 1);
    truth = std::move(*t);
  }
  int64_t alerts = 0, tp = 0, fp = 0, fn = 0, judged = 0;
  for (const SiteLine& l : site.lines()) {
    const bool alert = site.WouldAlert(l);
    alerts += alert ? 1 : 0;
    if (!truth || l.file != truth->file) continue;
    auto it = truth->labels.find(l.line_no);
    if (it == truth->labels.end()) continue;
    ++judged;
    const bool anomalous = it->second > 0;
    tp += alert && anomalous;
    fp += alert && !anomalous;
    fn += !alert && anomalous;
  }
  const double n = static_cast<double>(site.lines().size());
  std::printf("%s: %zu lines, %zu templates, %lld labels given; detector: %s; %lld alerts "
              "(%.1f per 10k lines)\n",
              args.Get("title", "detection now").c_str(), site.lines().size(),
              site.groups().size(), static_cast<long long>(site.labels_given()),
              site.model_version() > 0 ? absl::StrCat("model v", site.model_version()).c_str()
                                       : "label-free",
              static_cast<long long>(alerts), 1e4 * static_cast<double>(alerts) / n);
  if (truth) {
    const double p = tp + fp > 0 ? static_cast<double>(tp) / static_cast<double>(tp + fp) : 0;
    const double r = tp + fn > 0 ? static_cast<double>(tp) / static_cast<double>(tp + fn) : 0;
    std::printf("  against %s (%lld labeled lines, %lld anomalous): precision %.3f recall %.3f "
                "F1 %.3f (TP %lld FP %lld FN %lld)\n",
                args.Get("truth").c_str(), static_cast<long long>(judged),
                static_cast<long long>(tp + fn), p, r, p + r > 0 ? 2 * p * r / (p + r) : 0.0,
                static_cast<long long>(tp), static_cast<long long>(fp),
                static_cast<long long>(fn));
  }
  for (const std::string& note : site.detector_notes()) std::printf("  source %s\n", note.c_str());
  if (!site.sessions().empty()) ReportSessions(site, truth);
  return 0;
}

int List(const LabelSite& site, const std::vector<active::Pick>& picks) {
  std::printf("rank\tsource\tfile\tline\tgroup_lines\tscore\tthreshold\tsignals\ttemplate\n");
  for (size_t i = 0; i < picks.size(); ++i) {
    const SiteLine& l = site.lines()[picks[i].line];
    const std::string fired = novelty::FiredNames(l.signals);
    std::printf("%zu\t%s\t%s\t%lld\t%lld\t%.4f\t%.4f\t%s\t%s\n", i + 1,
                site.source_names()[l.source].c_str(), l.file.c_str(),
                static_cast<long long>(l.line_no),
                static_cast<long long>(picks[i].group_size), l.score, l.threshold,
                fired.empty() ? "-" : fired.c_str(), site.groups()[l.group].text.c_str());
  }
  return 0;
}

int ListSessions(const LabelSite& site, const std::vector<active::SessionPick>& picks) {
  std::printf("rank\tsource\tfile\tfirst_line\tlines\tgroup_sessions\tgroup_alerts\tscore\t"
              "threshold\tsignals\tshape\n");
  for (size_t i = 0; i < picks.size(); ++i) {
    const SiteSession& s = site.sessions()[picks[i].session];
    const SiteLine& first = site.lines()[s.lines.front()];
    const std::string fired = novelty::SessionFiredNames(s.fired);
    std::printf("%zu\t%s\t%s\t%lld\t%zu\t%lld\t%lld\t%.4f\t%.4f\t%s\t%s\n", i + 1,
                site.source_names()[s.source].c_str(), first.file.c_str(),
                static_cast<long long>(first.line_no), s.lines.size(),
                static_cast<long long>(picks[i].group_size),
                static_cast<long long>(picks[i].group_alerts), s.score, s.threshold,
                fired.empty() ? "-" : fired.c_str(), site.SessionShape(s).c_str());
  }
  return 0;
}

// The session questions (the site has sessions and --lines is not given): a, n, s or q; `t`
// counts as n (a session verdict covers its whole group anyway). Returns the exit code.
int AskSessions(LabelSite& site, const std::vector<active::SessionPick>& picks,
                const std::optional<Truth>& truth, Terminal* term, LabelProgress* progress) {
  RenderOptions ro;
  ro.ansi = term != nullptr;
  ro.width = term ? term->width() : 160;
  for (const active::SessionPick& pick : picks) {
    if (progress->answered() >= progress->wanted) break;
    const std::string screen = RenderSession(site, pick, *progress, ro);
    char answer = 0;
    if (term) {
      term->Show(screen);
      while (answer == 0 || std::string("anstq").find(answer) == std::string::npos) answer = term->ReadKey();
    } else {
      std::printf("\n%sanswer [a/n/s/q]? ", screen.c_str());
      if (truth) {
        const int y = SessionTruth(site, *truth, site.sessions()[pick.session]);
        answer = y < 0 ? 's' : y > 0 ? 'a' : 'n';
      } else {
        std::string input;
        while (answer == 0 && std::getline(std::cin, input)) {
          answer = AnswerOf(input);
          if (answer == 0) std::printf("'%s' is not an answer; a, n, s or q? ", input.c_str());
        }
        if (answer == 0) answer = 'q';
      }
      std::printf("%c\n", answer);
      std::fflush(stdout);
    }
    if (answer == 'q') break;
    if (answer == 's') {
      ++progress->skipped;
      continue;
    }
    const Verdict v = answer == 'a' ? Verdict::kAnomaly : Verdict::kNormal;
    if (absl::Status st = site.RecordSession(pick.session, v); !st.ok()) return Fail(st, 1);
    (answer == 'a' ? progress->anomalies : progress->normals) += 1;
  }
  return 0;
}

// Applies one answer; false on a store error (already reported).
bool Apply(LabelSite& site, size_t line, char answer, LabelProgress* p) {
  if (answer == 's') {
    ++p->skipped;
    return true;
  }
  const Verdict v = answer == 'a'   ? Verdict::kAnomaly
                    : answer == 'n' ? Verdict::kNormal
                                    : Verdict::kTemplateNormal;
  if (absl::Status st = site.Record(line, v); !st.ok()) {
    Fail(st, 1);
    return false;
  }
  (answer == 'a' ? p->anomalies : answer == 'n' ? p->normals : p->templates) += 1;
  return true;
}

// Says why there is no question to ask (on stderr, so --list's table stays parseable).
void NothingToAsk(const LabelSite& site, bool by_session) {
  if (site.lines().empty()) {
    std::fprintf(stderr, "fedlog label: nothing to ask: no line was read from the site's sources\n");
    return;
  }
  std::fprintf(stderr,
               "fedlog label: nothing to ask: every %s of the %zu line(s) read already has a label (%lld label(s) "
               "given); `fedlog label --report` shows the detection the site gets now\n",
               by_session ? "session shape" : "template", site.lines().size(),
               static_cast<long long>(site.labels_given()));
}

// The question loop of the three asking modes. Returns the exit code.
// With `sessions`, the questions are about those sessions (AskSessions) instead of `picks`.
int Ask(LabelSite& site, const std::vector<active::Pick>& picks,
        const std::vector<active::SessionPick>* sessions, const Args& args,
        LabelProgress* progress) {
  const bool batch = args.Has("batch");
  std::optional<Truth> truth;
  if (args.Has("answers-from")) {
    auto t = LoadTruth(site, args.Get("answers-from"));
    if (!t.ok()) return Fail(t.status(), 1);
    truth = std::move(*t);
    std::printf("answers from the ground truth in %s, not from an operator: %s\n",
                args.Get("answers-from").c_str(),
                sessions != nullptr
                    ? "a session is an anomaly when one of its labeled lines is, normal when it "
                      "has labeled lines and none is"
                    : "an anomalous line is an anomaly, a normal line is a whole normal template "
                      "when no labeled line of its template is anomalous");
  }
  std::unique_ptr<Terminal> term;
  if (!batch) {
    auto t = Terminal::Open();
    if (!t.ok()) return Fail(t.status(), 2);
    term = std::move(*t);
  }
  if (sessions != nullptr) {
    const int rc = AskSessions(site, *sessions, truth, term.get(), progress);
    term.reset();
    return rc;
  }
  RenderOptions ro;
  ro.ansi = !batch;
  ro.width = term ? term->width() : 160;
  for (const active::Pick& pick : picks) {
    if (progress->answered() >= progress->wanted) break;
    const std::string screen = RenderCandidate(site, pick, *progress, ro);
    char answer = 0;
    if (term) {
      term->Show(screen);
      answer = term->ReadKey();
    } else {
      std::printf("\n%sanswer [a/n/t/s/q]? ", screen.c_str());
      if (truth) {
        answer = TruthAnswer(site, *truth, pick.line);
      } else {
        std::string input;
        while (answer == 0 && std::getline(std::cin, input)) {
          answer = AnswerOf(input);
          if (answer == 0) std::printf("'%s' is not an answer; a, n, t, s or q? ", input.c_str());
        }
        if (answer == 0) answer = 'q';  // end of input
      }
      std::printf("%c\n", answer);
      std::fflush(stdout);
    }
    if (answer == 'q') break;
    if (!Apply(site, pick.line, answer, progress)) return 1;
  }
  term.reset();  // restores the terminal before the summary
  return 0;
}

int Label(const std::vector<std::string>& argv) {
  auto args = Args::Parse(argv, {{"config", "count", "patterns", "max-lines", "seed",
                                  "answers-from", "truth", "title"},
                                 {"batch", "list", "report", "lines"}});
  if (!args.ok()) return Fail(args.status(), 2);
  if (!args->Has("config")) return Fail(absl::InvalidArgumentError("--config SITE.yaml is required"), 2);
  if (args->Has("answers-from") && !args->Has("batch"))
    return Fail(absl::InvalidArgumentError("--answers-from needs --batch"), 2);
  auto count = args->GetInt("count", 10);
  auto max_lines = args->GetInt("max-lines", 20000);
  auto seed = args->GetInt("seed", 0);
  if (!count.ok() || !max_lines.ok() || !seed.ok() || *count < 1 || *max_lines < 1) {
    return Fail(absl::InvalidArgumentError("--count and --max-lines take a number >= 1, --seed a number"),
                2);
  }
  const bool asks = !args->Has("report") && !args->Has("list");
  if (asks && !args->Has("batch") && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
    return Fail(absl::FailedPreconditionError(
                    "stdin or stdout is not a terminal; use --batch to read answers from stdin"),
                2);
  }
  LabelSiteOptions options{args->Get("config"), args->Get("patterns"), *max_lines,
                           static_cast<uint64_t>(*seed)};
  auto site = LabelSite::Load(options);
  if (!site.ok()) return Fail(site.status(), 1);
  if (args->Has("report")) return Report(**site, *args);
  // Every uncovered group is a candidate: skips move on to the next one. A site with sessions is
  // asked about sessions (one per shape group) unless --lines is given.
  auto picks = (*site)->Candidates(0);
  if (!picks.ok()) return Fail(picks.status(), 1);
  auto sessions = (*site)->SessionCandidates(0);
  if (!sessions.ok()) return Fail(sessions.status(), 1);
  const bool by_session = !args->Has("lines") && !(*site)->sessions().empty();
  if (by_session ? sessions->empty() : picks->empty()) NothingToAsk(**site, by_session);
  if (args->Has("list")) {
    if (by_session) {
      if (sessions->size() > static_cast<size_t>(*count)) sessions->resize(static_cast<size_t>(*count));
      return ListSessions(**site, *sessions);
    }
    if (picks->size() > static_cast<size_t>(*count)) picks->resize(static_cast<size_t>(*count));
    return List(**site, *picks);
  }
  if (by_session ? sessions->empty() : picks->empty()) return 0;
  LabelProgress progress;
  progress.wanted = *count;
  progress.start = absl::Now();
  const int rc = Ask(**site, *picks, by_session ? &*sessions : nullptr, *args, &progress);
  if (rc == 2) return rc;  // no terminal after all: nothing was asked
  std::printf("%s\n%lld verdict(s) stored in %s (%lld candidates left unasked); the running "
              "detector uses them within its poll interval%s\n",
              ProgressLine(progress).c_str(), static_cast<long long>(progress.answered()),
              (*site)->store_path().c_str(),
              static_cast<long long>(by_session ? sessions->size() : picks->size()) -
                  progress.answered() - progress.skipped,
              by_session ? " (session verdicts: for the sessions of each shape, not for training)"
                         : ", the next federated round trains with them");
  return rc;
}

}  // namespace

void AddLabelVerb(std::vector<Verb>* verbs) {
  verbs->push_back(
      {"label",
       "label --config SITE.yaml [--count N] [--batch [--answers-from TRUTH.csv]] [--list] "
       "[--report [--truth TRUTH.csv]] [--lines] [--patterns FILE] [--max-lines N] [--seed S]",
       "asks the operator about the site's sessions (one per shape; --lines, or a site without "
       "sessions: lines, one per template) whose labels help most; verdicts become the site's labels",
       Label});
}

}  // namespace fedlog::cli
