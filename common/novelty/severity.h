// Severity vocabulary: how alarming a line's own words are, from its level field and its message.
// A fixed, source-independent vocabulary (no labels, nothing learnt): the level field's value
// (syslog / log4j / BGL level names) and alarm words in the message ("error", "failed", "exception",
// "refused", ...). The label-free detector (scorer.h) ranks this value against the site's own history,
// so a source where every line says ERROR gains little from it.
// Within a level (scorer.h's severity term): the message's alarm words still count on a line whose
// level is already severe, and a severe line that only reports a value (EndsInBareValue: a register or
// counter dump, "machine state register: 0x00002000") is told apart from one that reports an event,
// and so is one whose variable part is a file path (IsPathValue) or one that gives a named field's value
// (IsFieldReport).
// Also the severity-word baseline of `fedlog eval newsite`. Thread-safety: pure functions.
#ifndef FEDLOG_COMMON_NOVELTY_SEVERITY_H_
#define FEDLOG_COMMON_NOVELTY_SEVERITY_H_

#include <string_view>

namespace fedlog::novelty {

// Severity of a level name, case-insensitive: 1.0 for FATAL/CRITICAL/EMERG/ALERT/PANIC/SEVERE/
// FAILURE, 0.75 for ERROR/ERR, 0.35 for WARN/WARNING, 0 otherwise (INFO, DEBUG, unknown, empty).
double LevelSeverity(std::string_view level);

// Severity of the message words, case-insensitive, on word boundaries: 0.6 for failure words
// ("error", "fail", "failed", "failure", "fatal", "exception", "panic", "abort", "crash", "corrupt",
// "refused", "denied", "unreachable", "severed", "timeout", "killed", ...), 0.3 for "warn"/"warning",
// "retry", "lost", "unable", "cannot", "invalid", "not found"; 0 otherwise. The highest word wins.
double ContentSeverity(std::string_view content);

// max(LevelSeverity(level), ContentSeverity(content)).
double LineSeverity(std::string_view level, std::string_view content);

// The severity of `level` and `content` together, within the level: max(L, C) + within * min(L, C)
// for L = LevelSeverity(level), C = ContentSeverity(content) when the level is severe (L >= 0.75,
// ERROR and above); max(L, C) otherwise. within = 0 gives LineSeverity.
double WithinLevelSeverity(std::string_view level, std::string_view content, double within);

// True when the message's last token (tokens split at whitespace, '.', ':', '=', ',') is a bare
// number: decimal or hexadecimal digits with an optional 0x, at least one decimal digit, e.g.
// "store operation.............1" or "data address: 0x00000002". Such a line reports a value (a
// register or counter dump) rather than an event.
bool EndsInBareValue(std::string_view content);

// A value report: the message ends in a bare value (EndsInBareValue) and names no failure word
// (ContentSeverity below 0.6): "instruction address: 0x00004ed8", not "Error receiving packet ...
// (softheader=0064588e)". A dump line describes the state at an event; it is not the event.
bool IsValueReport(std::string_view content);

// A field report: a short line (at most 8 words, runs of letters) that gives the value of a named
// field, the value bound to its name by ':', '=' or a run of dots ("machine state register:
// 0x00003000", "store operation.............1", "0:000008ce 1:00086000", "exception syndrome
// register: 0x00800000"), or that heads a list of them (ends in ':': "general purpose registers:").
// A field's name is a short noun phrase, failure words or not; an event is told in a sentence, so
// neither "rts: kernel terminated for reason 1004" (bound by a space) nor "Error receiving packet on
// tree network, expecting type 57 instead of type 3 ... PIXF=00000007" (a sentence) is one. A dump
// prints such lines whenever it is printed, so their repeats count dumps, not an event of their own
// (scorer.h, NoveltyOptions::field_report_weight).
bool IsFieldReport(std::string_view content);

// True when `value` (a template parameter's value) is a file path: it holds a '/' and a letter, e.g.
// "/home/u/app.rts" or "chdir(/p/gb1/run)". A severe message whose variable part is a path reports
// one job's or one user's file, not an event of the system.
bool IsPathValue(std::string_view value);

// The severity-word rule of issue 14's baseline: true when any whitespace-separated token of `line`,
// stripped of punctuation, is FATAL, FAILURE, SEVERE or ERROR (case-insensitive).
bool HasSeverityWord(std::string_view line);

}  // namespace fedlog::novelty

#endif  // FEDLOG_COMMON_NOVELTY_SEVERITY_H_
