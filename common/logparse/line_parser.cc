#include "common/logparse/line_parser.h"

#include <cstring>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/base/status_macros.h"
#include "common/logparse/format_pattern.h"
#include "common/logparse/parsers_internal.h"

namespace fedlog::logparse {
namespace {

// Field names follow loghub's _structured.csv columns except where loghub's name is misleading: Linux's
// "Level" is the host name, OpenSSH's "Component" is the host and its "sshd" a literal.
const std::vector<BuiltinFormat>& Table() {
  static const auto* kTable = new std::vector<BuiltinFormat>{
      {"Android", "<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>", "Date Time",
       "MM-dd HH:mm:ss.SSS", "Level", "Component"},
      {"Apache", "\\[<Time>\\] \\[<Level>\\] <Content>", "Time", "EEE MMM dd HH:mm:ss yyyy", "Level", ""},
      {"BGL", "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>",
       "Time", "yyyy-MM-dd-HH.mm.ss.SSS", "Level", "Component"},
      {"HDFS", "<Date> <Time> <Pid> <Level> <Component>: <Content>", "Date Time", "yyMMdd HHmmss", "Level",
       "Component"},
      {"HPC", "<LogId> <Node> <Component> <State> <Time> <Flag> <Content>", "Time", "epoch", "",
       "Component"},
      {"Hadoop", "<Date> <Time> <Level> \\[<Process>\\] <Component>: <Content>", "Date Time",
       "yyyy-MM-dd HH:mm:ss,SSS", "Level", "Component"},
      {"HealthApp", "<Time>\\|<Component>\\|<Pid>\\|<Content>", "Time", "yyyyMMdd-HH:mm:ss:SSS", "",
       "Component"},
      {"Linux", "<Month> <Date> <Time> <Host> <Component>(\\[<PID>\\])?: <Content>", "Month Date Time",
       "MMM d HH:mm:ss", "", "Component"},
      {"Mac", "<Month>  <Date> <Time> <User> <Component>\\[<PID>\\]( \\(<Address>\\))?: <Content>",
       "Month Date Time", "MMM d HH:mm:ss", "", "Component"},
      {"OpenSSH", "<Month> <Day> <Time> <Host> <Component>\\[<Pid>\\]: <Content>", "Month Day Time",
       "MMM d HH:mm:ss", "", "Component"},
      {"OpenStack", "<Logrecord> <Date> <Time> <Pid> <Level> <Component> \\[<ADDR>\\] <Content>", "Date Time",
       "yyyy-MM-dd HH:mm:ss.SSS", "Level", "Component"},
      {"Proxifier", "\\[<Time>\\] <Program> - <Content>", "Time", "MM.dd HH:mm:ss", "", "Program"},
      {"Spark", "<Date> <Time> <Level> <Component>: <Content>", "Date Time", "yy/MM/dd HH:mm:ss", "Level",
       "Component"},
      {"Thunderbird",
       "<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location> <Component>(\\[<PID>\\])?: <Content>",
       "Date Time", "yyyy.MM.dd HH:mm:ss", "", "Component"},
      {"Windows", "<Date> <Time>, <Level> <Component> <Content>", "Date Time", "yyyy-MM-dd HH:mm:ss", "Level",
       "Component"},
      {"Zookeeper", "<Date> <Time> - <Level> \\[<Node>:<Component>@<Id>\\] - <Content>", "Date Time",
       "yyyy-MM-dd HH:mm:ss,SSS", "Level", "Component"},
  };
  return *kTable;
}

// A format-string parser: header fields by FormatPattern, time by TimePattern over the joined time fields.
class FormatLineParser : public LineParser {
 public:
  FormatLineParser(std::string name, FormatPattern pattern, std::vector<int> time_fields,
                   std::optional<TimePattern> time, int level, int component, int content, int default_year)
      : name_(std::move(name)), pattern_(std::move(pattern)), time_fields_(std::move(time_fields)),
        time_(std::move(time)), level_(level), component_(component), content_(content),
        default_year_(default_year) {}

  void Parse(std::string_view raw, ParsedLine* out) const override {
    std::string_view line = StripCr(raw);
    out->Reset(line);
    if (!pattern_.Match(line, &out->fields)) return;
    out->matched = true;
    out->num_fields = static_cast<int>(pattern_.field_names().size());
    if (content_ >= 0) out->content = out->fields[content_];
    if (level_ >= 0) out->level = out->fields[level_];
    if (component_ >= 0) out->component = out->fields[component_];
    if (time_) out->time_ms = ParseTime(*out);
  }

  const std::vector<std::string>& field_names() const override { return pattern_.field_names(); }
  const std::string& name() const override { return name_; }

 private:
  int64_t ParseTime(const ParsedLine& p) const {
    if (time_fields_.size() == 1) return time_->Parse(p.fields[time_fields_[0]], default_year_);
    char buf[160];
    size_t n = 0;
    for (int f : time_fields_) {
      std::string_view v = p.fields[f];
      if (n + v.size() + 1 > sizeof(buf)) return kNoTime;
      if (n > 0) buf[n++] = ' ';
      std::memcpy(buf + n, v.data(), v.size());
      n += v.size();
    }
    return time_->Parse(std::string_view(buf, n), default_year_);
  }

  std::string name_;
  FormatPattern pattern_;
  std::vector<int> time_fields_;
  std::optional<TimePattern> time_;
  int level_, component_, content_, default_year_;
};

absl::StatusOr<std::vector<int>> ResolveFields(const FormatPattern& p, const std::vector<std::string>& names) {
  std::vector<int> out;
  for (const std::string& n : names) {
    int idx = p.FieldIndex(n);
    if (idx < 0) return absl::InvalidArgumentError("time field <" + n + "> is not in format " + p.format());
    out.push_back(idx);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<LineParser>> NewFormatParser(std::string name, std::string_view format,
                                                            std::vector<std::string> time_fields,
                                                            std::string_view time_pattern,
                                                            std::string_view level, std::string_view component,
                                                            int default_year) {
  FEDLOG_ASSIGN_OR_RETURN(FormatPattern pattern, FormatPattern::Compile(format));
  std::optional<TimePattern> time;
  std::vector<int> time_idx;
  if (!time_pattern.empty()) {
    FEDLOG_ASSIGN_OR_RETURN(TimePattern tp, TimePattern::Compile(time_pattern));
    time = tp;
    if (time_fields.empty()) {
      for (const std::string& n : pattern.field_names()) {
        if (n == "Date" || n == "Month" || n == "Day" || n == "Time" || n == "Timestamp") time_fields.push_back(n);
      }
    }
    FEDLOG_ASSIGN_OR_RETURN(time_idx, ResolveFields(pattern, time_fields));
    if (time_idx.empty()) return absl::InvalidArgumentError("time pattern given but no time field in " + name);
  }
  const int level_idx = level.empty() ? -1 : pattern.FieldIndex(level);
  const int component_idx = component.empty() ? -1 : pattern.FieldIndex(component);
  const int content_idx = pattern.FieldIndex("Content");
  return std::make_unique<FormatLineParser>(std::move(name), std::move(pattern), std::move(time_idx),
                                            std::move(time), level_idx, component_idx, content_idx,
                                            default_year);
}

}  // namespace

const std::vector<BuiltinFormat>& BuiltinFormats() { return Table(); }

const BuiltinFormat* FindBuiltinFormat(std::string_view name) {
  for (const BuiltinFormat& f : Table()) {
    if (absl::EqualsIgnoreCase(f.name, absl::string_view(name.data(), name.size()))) return &f;
  }
  return nullptr;
}

std::vector<std::string> KnownParserNames() {
  std::vector<std::string> names;
  for (const BuiltinFormat& f : Table()) names.push_back(f.name);
  for (const char* n : {"syslog", "rfc3164", "rfc5424", "jsonl"}) names.push_back(n);
  return names;
}

absl::StatusOr<std::unique_ptr<LineParser>> CreateLineParser(std::string_view name,
                                                             const ParserOptions& options) {
  const int year = options.default_year != 0 ? options.default_year : CurrentUtcYear();
  std::string lower = absl::AsciiStrToLower(absl::string_view(name.data(), name.size()));
  if (absl::StartsWith(lower, "format:")) {
    std::string_view format = name.substr(7);
    return NewFormatParser(std::string(name), format, options.time_fields, options.time_pattern,
                           options.level_field, options.component_field, year);
  }
  if (const BuiltinFormat* f = FindBuiltinFormat(name)) {
    std::vector<std::string> time_fields = absl::StrSplit(f->time_fields, ' ', absl::SkipEmpty());
    return NewFormatParser(f->name, f->format, time_fields, f->time_pattern, f->level_field,
                           f->component_field, year);
  }
  using internal::SyslogVariant;
  if (lower == "syslog") return internal::NewSyslogParser(SyslogVariant::kAuto, year, "syslog");
  if (lower == "rfc3164") return internal::NewSyslogParser(SyslogVariant::kRfc3164, year, "rfc3164");
  if (lower == "rfc5424") return internal::NewSyslogParser(SyslogVariant::kRfc5424, year, "rfc5424");
  if (lower == "jsonl" || lower == "json") return internal::NewJsonLinesParser(options, "jsonl");
  return absl::NotFoundError(absl::StrCat("unknown log format '", std::string(name), "'; known: ",
                                          absl::StrJoin(KnownParserNames(), ", "),
                                          ", or format:<FORMAT STRING>"));
}

}  // namespace fedlog::logparse
