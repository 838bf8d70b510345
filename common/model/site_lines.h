// A site's lines from one configured log source, as the site read them: the input every network a
// federation can train (common/model/site_model.h) prepares its own features from. Read and parsed
// by the site (client/local_data.h); raw lines never leave the site. Thread-compatible value type.
#ifndef FEDLOG_COMMON_MODEL_SITE_LINES_H_
#define FEDLOG_COMMON_MODEL_SITE_LINES_H_

#include <cstdint>
#include <string>
#include <vector>

namespace fedlog::model {

struct SourceLines {
  std::string name;
  std::string format;
  std::vector<std::string> contents;  // model input per line: "level component content" (the whole
                                      // line when the header is unknown)
  int64_t templates = 0;              // distinct Drain templates among the lines
  int64_t unmatched = 0;  // lines whose header did not match the format (kept whole, counted)
  std::vector<std::string> raw;  // the lines as read, in file order (the line encoder parses them
                                 // itself)
  std::vector<int> labels;       // empty without a labels file; else per line: -1 unlabeled,
                                 // 0 normal, >= 1 anomalous (LogSourceConfig.labels)
};

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_SITE_LINES_H_
