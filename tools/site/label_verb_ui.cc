#include "tools/site/label_verb_ui.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <csignal>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/novelty/scorer.h"
#include "common/novelty/session_scorer.h"

namespace fedlog::cli {
namespace {

// The terminal settings to restore. A signal handler can reach only static storage; it is written
// once, before raw mode is entered, and read by the handler and the destructor.
struct termios g_saved_termios;
volatile sig_atomic_t g_raw_mode = 0;

void RestoreTerminal() {
  if (g_raw_mode) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
    g_raw_mode = 0;
    static const char kReset[] = "\x1b[0m\n";
    (void)!write(STDOUT_FILENO, kReset, sizeof(kReset) - 1);
  }
}

void OnTerminate(int sig) {
  RestoreTerminal();
  signal(sig, SIG_DFL);
  raise(sig);
}

std::string Style(const RenderOptions& o, const char* code, const std::string& text) {
  if (!o.ansi) return text;
  return absl::StrCat("\x1b[", code, "m", text, "\x1b[0m");
}

std::string Cut(const std::string& text, int width) {
  if (width <= 3 || static_cast<int>(text.size()) <= width) return text;
  return text.substr(0, static_cast<size_t>(width - 3)) + "...";
}

// The candidate's neighbours in its file (the lines were read in file order).
std::string Context(const LabelSite& site, size_t index, const RenderOptions& o) {
  const std::vector<SiteLine>& lines = site.lines();
  const SiteLine& c = lines[index];
  std::string out;
  const size_t from = index >= static_cast<size_t>(o.context) ? index - o.context : 0;
  const size_t to = std::min(lines.size() - 1, index + static_cast<size_t>(o.context));
  for (size_t i = from; i <= to; ++i) {
    if (lines[i].file != c.file || lines[i].source != c.source) continue;
    const std::string row =
        Cut(absl::StrFormat("%s %6d  %s", i == index ? ">" : " ", lines[i].line_no, lines[i].text),
            o.width);
    absl::StrAppend(&out, i == index ? Style(o, "1", row) : Style(o, "2", row), "\n");
  }
  return out;
}

}  // namespace

std::string ProgressLine(const LabelProgress& p) {
  const int64_t secs = absl::ToInt64Seconds(absl::Now() - p.start);
  return absl::StrFormat("label %d of %d · %dm%02ds · %d anomaly, %d normal, %d whole template%s"
                         " · %d skipped",
                         std::min(p.answered() + 1, p.wanted), p.wanted, secs / 60, secs % 60,
                         p.anomalies, p.normals, p.templates, p.templates == 1 ? "" : "s",
                         p.skipped);
}

std::string RenderCandidate(const LabelSite& site, const active::Pick& pick,
                            const LabelProgress& progress, const RenderOptions& o) {
  const SiteLine& l = site.lines()[pick.line];
  const TemplateGroup& g = site.groups()[l.group];
  std::string out = Style(o, "1;36", ProgressLine(progress));
  absl::StrAppend(&out, "\n\n");
  absl::StrAppend(&out, "source   ", site.source_names()[l.source], "   ", l.file, ":", l.line_no,
                  "\n");
  absl::StrAppend(&out, "template ", Style(o, "1", Cut(g.text, o.width - 9)), "\n");
  absl::StrAppend(&out, "         ", g.lines, " line(s) of this template here, ", g.alerts,
                  " at or above the threshold\n");
  const bool above = l.score >= l.threshold && l.score > 0;
  const std::string fired = novelty::FiredNames(l.signals);
  absl::StrAppend(
      &out,
      absl::StrFormat("score    %.3f  threshold %.3f  (%s)  by %s\n", l.score, l.threshold,
                      above ? Style(o, "31", "live detection alerts on it")
                            : Style(o, "32", "below: no alert"),
                      site.model_version() > 0
                          ? absl::StrCat("model v", site.model_version())
                          : std::string("the label-free detector")),
      "signals  ", fired.empty() ? "none fired" : fired,
      absl::StrFormat("   (uncertainty %.2f, disagreement %.2f, a verdict turns ~%.0f line(s))\n",
                      pick.uncertainty, pick.disagreement, pick.corrections));
  const std::vector<std::string> suggestions = site.Suggestions(l.text);
  absl::StrAppend(&out, "patterns ",
                  !site.has_patterns()      ? "no pattern library configured"
                  : suggestions.empty()     ? "no rule matches"
                                            : Style(o, "33", absl::StrJoin(suggestions, "; ")),
                  "\n\n", Context(site, pick.line, o), "\n");
  absl::StrAppend(&out, Style(o, "1", "[a]"), " anomaly  ", Style(o, "1", "[n]"), " normal  ",
                  Style(o, "1", "[t]"), " whole template is normal  ", Style(o, "1", "[s]"),
                  " skip  ", Style(o, "1", "[q]"), " quit\n");
  return out;
}

std::string RenderSession(const LabelSite& site, const active::SessionPick& pick,
                          const LabelProgress& progress, const RenderOptions& o) {
  const SiteSession& s = site.sessions()[pick.session];
  const SiteLine& first = site.lines()[s.lines.front()];
  const SiteLine& last = site.lines()[s.lines.back()];
  std::string out = Style(o, "1;36", ProgressLine(progress));
  absl::StrAppend(&out, "\n\n");
  absl::StrAppend(&out, "source   ", site.source_names()[s.source], "   session of ", s.lines.size(),
                  " line(s)   ", first.file, ":", first.line_no, "-", last.line_no, "\n");
  absl::StrAppend(&out, "shape    ", Style(o, "1", Cut(site.SessionShape(s), o.width - 9)), "\n");
  absl::StrAppend(&out, "         ", pick.group_size, " session(s) of this shape here, ",
                  pick.group_alerts, " alerted; the verdict applies to all of them\n");
  const std::string fired = novelty::SessionFiredNames(s.fired);
  absl::StrAppend(
      &out,
      absl::StrFormat("score    %.3f  threshold %s  (%s)  by the session detector\n", s.score,
                      std::isfinite(s.threshold) ? absl::StrFormat("%.3f", s.threshold)
                                                 : std::string("none yet (warm-up)"),
                      s.alert ? Style(o, "31", "live detection alerts on it")
                              : Style(o, "32", "below: no alert")),
      "signals  ", fired.empty() ? "none fired" : fired,
      absl::StrFormat("   (%d count relation(s) broken, uncertainty %.2f)\n\n", s.violated,
                      pick.uncertainty));
  const size_t shown = std::min<size_t>(s.lines.size(), static_cast<size_t>(2 * o.context + 4));
  for (size_t k = 0; k < shown; ++k) {
    const SiteLine& l = site.lines()[s.lines[k]];
    absl::StrAppend(&out, Cut(absl::StrFormat("  %6d  %s", l.line_no, l.text), o.width), "\n");
  }
  if (shown < s.lines.size()) absl::StrAppend(&out, "  ... ", s.lines.size() - shown, " more\n");
  absl::StrAppend(&out, "\n", Style(o, "1", "[a]"), " anomaly  ", Style(o, "1", "[n]"),
                  " normal (this kind of session)  ", Style(o, "1", "[s]"), " skip  ",
                  Style(o, "1", "[q]"), " quit\n");
  return out;
}

char AnswerOf(const std::string& input) {
  const std::string a = absl::AsciiStrToLower(absl::StripAsciiWhitespace(input));
  if (a == "a" || a == "anomaly") return 'a';
  if (a == "n" || a == "normal") return 'n';
  if (a == "t" || a == "template") return 't';
  if (a == "s" || a == "skip") return 's';
  if (a == "q" || a == "quit") return 'q';
  return 0;
}

absl::StatusOr<std::unique_ptr<Terminal>> Terminal::Open() {
  if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
    return absl::FailedPreconditionError(
        "stdin or stdout is not a terminal; use --batch to read answers from stdin");
  }
  if (tcgetattr(STDIN_FILENO, &g_saved_termios) != 0)
    return absl::FailedPreconditionError("cannot read the terminal's settings");
  struct termios raw = g_saved_termios;
  raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ISIG);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  struct sigaction sa {};
  sa.sa_handler = OnTerminate;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGTERM, SIGHUP, SIGQUIT}) sigaction(sig, &sa, nullptr);
  if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) != 0)
    return absl::FailedPreconditionError("cannot put the terminal in raw mode");
  g_raw_mode = 1;
  return std::unique_ptr<Terminal>(new Terminal());
}

Terminal::~Terminal() { RestoreTerminal(); }

void Terminal::Show(const std::string& text) {
  const std::string out = "\x1b[2J\x1b[H" + text;  // output processing stays on: \n is \r\n
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

char Terminal::ReadKey() {
  for (;;) {
    unsigned char c = 0;
    const ssize_t n = read(STDIN_FILENO, &c, 1);
    if (n <= 0 || c == 3 || c == 4) return 'q';  // end of input, Ctrl-C, Ctrl-D
    const char a = AnswerOf(std::string(1, static_cast<char>(std::tolower(c))));
    if (a != 0) return a;
  }
}

int Terminal::width() const {
  struct winsize ws {};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
  return 100;
}

}  // namespace fedlog::cli
