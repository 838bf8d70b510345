#include "client/local_data.h"

#include <algorithm>
#include <map>
#include <unordered_set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/line_labels.h"
#include "common/base/file_util.h"
#include "common/base/logging.h"
#include "common/base/status_macros.h"
#include "common/logparse/drain.h"
#include "common/logparse/line_parser.h"

namespace fedlog::client {
absl::StatusOr<SourceLines> ParseSourceLines(const std::string& name, const std::string& format,
                                             const std::vector<std::string>& raw_lines) {
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<logparse::LineParser> parser, logparse::CreateLineParser(format));
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<logparse::Drain> drain, logparse::Drain::Create({}));
  SourceLines s;
  s.name = name;
  s.format = format;
  s.contents.reserve(raw_lines.size());
  std::unordered_set<int32_t> templates;
  logparse::ParsedLine parsed;
  for (const std::string& line : raw_lines) {
    parser->Parse(logparse::StripCr(line), &parsed);
    s.unmatched += parsed.matched ? 0 : 1;
    templates.insert(drain->Add(parsed.content).template_id);
    // Model input: level and component carry signal; timestamps, pids and hosts are per-line noise.
    std::string input;
    for (std::string_view part : {parsed.level, parsed.component, parsed.content}) {
      if (part.empty()) continue;
      if (!input.empty()) input.push_back(' ');
      input.append(part.data(), part.size());
    }
    s.contents.push_back(std::move(input));
  }
  s.templates = static_cast<int64_t>(templates.size());
  return s;
}

absl::StatusOr<std::vector<SourceLines>> ReadSources(const v1::ClientConfig& config) {
  std::vector<SourceLines> out;
  for (const auto& src : config.sources()) {
    absl::StatusOr<std::string> read_text = ReadFile(src.path());
    if (!read_text.ok()) return Annotate(read_text.status(), absl::StrCat("source '", src.name(), "' path"));
    std::string text = std::move(*read_text);
    std::map<int64_t, int> by_line;
    if (!src.labels().empty()) {
      absl::StatusOr<std::map<int64_t, int>> read = ReadLineLabels(src.labels());
      if (!read.ok()) return Annotate(read.status(), absl::StrCat("source '", src.name(), "' labels"));
      by_line = std::move(*read);
    }
    std::vector<std::string> raw;
    std::vector<int> labels;
    int64_t number = 0;  // 1-based line number in the file, as the labels file counts
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      ++number;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) continue;
      raw.emplace_back(line);
      auto label = by_line.find(number);
      labels.push_back(label == by_line.end() ? -1 : label->second);
      if (src.max_lines() > 0 && static_cast<int>(raw.size()) >= src.max_lines()) break;
    }
    if (raw.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("source '", src.name(), "' (", src.path(), ") has no lines"));
    }
    const int64_t labeled = std::count_if(labels.begin(), labels.end(), [](int y) { return y >= 0; });
    if (!src.labels().empty() && labeled == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("source '", src.name(), "': ", src.labels(), " labels none of the lines read"));
    }
    const std::string format = src.format().empty() ? src.name() : src.format();
    absl::StatusOr<SourceLines> s = ParseSourceLines(src.name(), format, raw);
    if (!s.ok()) return Annotate(s.status(), absl::StrCat("source '", src.name(), "'"));
    s->raw = std::move(raw);
    if (!src.labels().empty()) s->labels = std::move(labels);
    FEDLOG_LOG(INFO) << "source " << s->name << ": " << s->contents.size() << " lines, " << s->templates
                     << " templates, " << s->unmatched << " without a matching " << format << " header, "
                     << labeled << " labeled, from " << src.path();
    out.push_back(std::move(*s));
  }
  return out;
}

}  // namespace fedlog::client
