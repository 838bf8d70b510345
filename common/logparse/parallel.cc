#include "common/logparse/parallel.h"

#include <atomic>
#include <thread>

#include "common/logparse/line_reader.h"

namespace fedlog::logparse {

void RunSourceJob(SourceJob* job) {
  ParsedLine parsed;
  std::vector<std::string_view> params;
  ForEachLine(job->data, [&](std::string_view line) {
    job->parser->Parse(line, &parsed);
    job->stats.Add(parsed);
    const DrainResult r = job->drain->Add(parsed.content);
    if (job->extract_parameters) {
      job->drain->LastParameters(r.template_id, &params);
      job->parameters += static_cast<int64_t>(params.size());
    }
    if (job->template_ids != nullptr) job->template_ids->push_back(r.template_id);
  });
}

void ParseSourcesInParallel(std::vector<SourceJob>* jobs, int max_threads) {
  const size_t n = jobs->size();
  const size_t threads = max_threads <= 0 ? n : std::min<size_t>(n, static_cast<size_t>(max_threads));
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) RunSourceJob(&(*jobs)[i]);
    });
  }
  for (std::thread& th : pool) th.join();
}

}  // namespace fedlog::logparse
