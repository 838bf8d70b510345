// A routine INFO line of component "svc" and template `tpl` for the novelty tests (hold_test, rank_cut_test,
// scorer_test, budget_window_test); `time_ms` < 0: no time, as LineEvent's default. Severe: the same line at
// level FATAL with its own content.
#ifndef FEDLOG_TESTS_COMMON_NOVELTY_ROUTINE_EVENT_H_
#define FEDLOG_TESTS_COMMON_NOVELTY_ROUTINE_EVENT_H_

#include <cstdint>
#include <string_view>

#include "common/novelty/scorer.h"

namespace fedlog::novelty::testing {

inline LineEvent Routine(int32_t tpl, int64_t time_ms = -1) {
  LineEvent e;
  e.template_id = tpl;
  e.time_ms = time_ms;
  e.level = "INFO";
  e.component = "svc";
  e.content = "routine work done";
  return e;
}

inline LineEvent Severe(int32_t tpl, std::string_view content) {
  LineEvent e = Routine(tpl);
  e.level = "FATAL";
  e.content = content;
  return e;
}

}  // namespace fedlog::novelty::testing

#endif  // FEDLOG_TESTS_COMMON_NOVELTY_ROUTINE_EVENT_H_
