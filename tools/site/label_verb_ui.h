// The screen of `fedlog label` (label_verb.cc): one candidate line (or session) at a time, with its template,
// a few lines of context, the score against the threshold and the signals that fired, what the
// pattern library suggests, and a progress line; plus the terminal it runs on (plain ANSI escapes
// and termios raw mode, restored on every exit path, SIGTERM and SIGHUP included). In raw mode
// Ctrl-C reaches the program as a key and quits like `q` (every verdict is already stored).
// Thread-compatible: one Terminal per process, used by one thread.
#ifndef FEDLOG_TOOLS_SITE_LABEL_VERB_UI_H_
#define FEDLOG_TOOLS_SITE_LABEL_VERB_UI_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/active/selector.h"
#include "common/active/session_selector.h"
#include "tools/site/label_verb_data.h"

namespace fedlog::cli {

struct LabelProgress {
  int64_t wanted = 10;  // --count
  int64_t anomalies = 0, normals = 0, templates = 0, skipped = 0;
  absl::Time start;
  int64_t answered() const { return anomalies + normals + templates; }
};

struct RenderOptions {
  bool ansi = true;   // colours and bold; false in --batch
  int width = 100;    // long lines are cut to this many columns
  int context = 2;    // lines of context before and after the candidate
};

// The candidate's screen (ends with the keys line, without a prompt).
std::string RenderCandidate(const LabelSite& site, const active::Pick& pick,
                            const LabelProgress& progress, const RenderOptions& options);
// A session candidate's screen: its shape, its group (sessions of that shape here, alerted), score
// against the session threshold, the session signals that fired, and its first lines.
std::string RenderSession(const LabelSite& site, const active::SessionPick& pick,
                          const LabelProgress& progress, const RenderOptions& options);
// "label 3 of 10 · 0m42s · 2 anomaly, 1 normal, 0 whole templates · 1 skipped"
std::string ProgressLine(const LabelProgress& progress);

// The answers: 'a' anomaly, 'n' normal, 't' whole template is normal, 's' skip, 'q' quit.
// Maps a key or an answer word to one of them; 0 for anything else.
char AnswerOf(const std::string& input);

class Terminal {
 public:
  // Puts the controlling terminal of stdin in raw mode (no echo, byte by byte, no signals from
  // keys). FailedPrecondition when stdin is not a terminal (use --batch then).
  static absl::StatusOr<std::unique_ptr<Terminal>> Open();
  ~Terminal();  // restores the terminal

  // Clears the screen and writes `text`.
  void Show(const std::string& text);
  // The next key; 'q' at end of input, Ctrl-C or Ctrl-D.
  char ReadKey();
  int width() const;

 private:
  Terminal() = default;
};

}  // namespace fedlog::cli

#endif  // FEDLOG_TOOLS_SITE_LABEL_VERB_UI_H_
