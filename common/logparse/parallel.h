// Running the parse pipeline (LineParser -> Drain -> parameters) over whole sources, one thread per source.
// Drain is thread-compatible, so each job owns its Drain; LineParser is thread-safe and may be shared.
#ifndef FEDLOG_COMMON_LOGPARSE_PARALLEL_H_
#define FEDLOG_COMMON_LOGPARSE_PARALLEL_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/logparse/drain.h"
#include "common/logparse/line_parser.h"

namespace fedlog::logparse {

struct SourceJob {
  const LineParser* parser = nullptr;  // not owned
  Drain* drain = nullptr;              // not owned; used by this job only
  std::string_view data;               // the source's bytes, '\n'-separated lines
  std::vector<int32_t>* template_ids = nullptr;  // optional: the template id of every line, in order
  bool extract_parameters = true;
  // Filled by the run:
  ParseStats stats;
  int64_t parameters = 0;  // parameters extracted in all
};

// Parses one source on the calling thread.
void RunSourceJob(SourceJob* job);

// Runs every job, at most `max_threads` at a time (<= 0: one thread per job). Returns when all are done.
void ParseSourcesInParallel(std::vector<SourceJob>* jobs, int max_threads);

}  // namespace fedlog::logparse

#endif  // FEDLOG_COMMON_LOGPARSE_PARALLEL_H_
