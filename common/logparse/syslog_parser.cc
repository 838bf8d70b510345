// Syslog lines: RFC 3164 ("<34>Oct 11 22:14:15 host su[123]: msg", the <PRI> optional as in files written by
// rsyslog) and RFC 5424 ("<165>1 2003-10-11T22:14:15.003Z host app 123 ID47 [sd id="1"] msg").
#include <string>
#include <vector>

#include "common/logparse/parsers_internal.h"

namespace fedlog::logparse::internal {
namespace {

// Field order shared by both variants so that field_names() is one list.
enum Field { kPri, kTime, kHost, kApp, kProcId, kMsgId, kStructuredData, kContent, kNumFields };

std::string_view SeverityName(int severity) {
  static constexpr std::string_view kNames[] = {"emerg", "alert", "crit",   "err",
                                                "warning", "notice", "info", "debug"};
  return kNames[severity & 7];
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Consumes the next space-delimited word at *pos (and the single space after it).
std::string_view NextWord(std::string_view s, size_t* pos) {
  size_t start = *pos;
  size_t end = s.find(' ', start);
  if (end == std::string_view::npos) end = s.size();
  *pos = end < s.size() ? end + 1 : end;
  return s.substr(start, end - start);
}

// End of RFC 5424 structured data starting at `pos` ('[' elements or "-"), or npos when malformed.
size_t SkipStructuredData(std::string_view s, size_t pos) {
  if (pos < s.size() && s[pos] == '-') return pos + 1;
  while (pos < s.size() && s[pos] == '[') {
    bool quoted = false;
    for (++pos; pos < s.size(); ++pos) {
      if (s[pos] == '\\' && quoted) {
        ++pos;
      } else if (s[pos] == '"') {
        quoted = !quoted;
      } else if (s[pos] == ']' && !quoted) {
        break;
      }
    }
    if (pos >= s.size()) return std::string_view::npos;
    ++pos;
  }
  return pos;
}

class SyslogParser : public LineParser {
 public:
  SyslogParser(SyslogVariant variant, int default_year, std::string name)
      : variant_(variant), default_year_(default_year), name_(std::move(name)),
        time3164_(*TimePattern::Compile("MMM d HH:mm:ss")) {
    names_ = {"Pri", "Time", "Host", "Component", "Pid", "MsgId", "StructuredData", "Content"};
  }

  void Parse(std::string_view raw, ParsedLine* out) const override {
    std::string_view line = StripCr(raw);
    out->Reset(line);
    for (int i = 0; i < kNumFields; ++i) out->fields[i] = {};
    size_t pos = 0;
    int pri = -1;
    if (!line.empty() && line[0] == '<') {
      size_t close = line.find('>');
      if (close == std::string_view::npos || close < 2 || close > 4) return;
      pri = 0;
      for (size_t i = 1; i < close; ++i) {
        if (!IsDigit(line[i])) return;
        pri = pri * 10 + (line[i] - '0');
      }
      if (pri > 191) return;
      out->fields[kPri] = line.substr(1, close - 1);
      pos = close + 1;
    }
    bool is5424 = pos + 1 < line.size() && IsDigit(line[pos]) && line[pos + 1] == ' ';
    if (variant_ == SyslogVariant::kRfc5424 && !is5424) return;
    if (variant_ == SyslogVariant::kRfc3164 && is5424) is5424 = false;
    bool ok = is5424 ? Parse5424(line, pos + 2, out) : Parse3164(line, pos, out);
    if (!ok) {
      out->Reset(line);
      return;
    }
    out->matched = true;
    out->num_fields = kNumFields;
    if (pri >= 0) out->level = SeverityName(pri & 7);
    out->component = out->fields[kApp];
    out->content = out->fields[kContent];
  }

  const std::vector<std::string>& field_names() const override { return names_; }
  const std::string& name() const override { return name_; }

 private:
  bool Parse3164(std::string_view line, size_t pos, ParsedLine* out) const {
    // "Mmm dd hh:mm:ss" is 15 characters (day padded with a space).
    if (pos + 16 > line.size()) return false;
    std::string_view ts = line.substr(pos, 15);
    out->time_ms = time3164_.Parse(ts, default_year_);
    if (out->time_ms == kNoTime) return false;
    out->fields[kTime] = ts;
    pos += 15;
    while (pos < line.size() && line[pos] == ' ') ++pos;
    out->fields[kHost] = NextWord(line, &pos);
    // TAG[PID]: or TAG: ; anything else leaves the rest as content.
    size_t colon = line.find(": ", pos);
    size_t tag_end = colon == std::string_view::npos ? std::string_view::npos : colon;
    std::string_view tag = tag_end == std::string_view::npos ? std::string_view() : line.substr(pos, tag_end - pos);
    if (tag.empty() || tag.find(' ') != std::string_view::npos) {
      out->fields[kContent] = line.substr(pos);
      return true;
    }
    if (tag.back() == ']') {
      size_t open = tag.find('[');
      if (open != std::string_view::npos) {
        out->fields[kProcId] = tag.substr(open + 1, tag.size() - open - 2);
        tag = tag.substr(0, open);
      }
    }
    out->fields[kApp] = tag;
    out->fields[kContent] = line.substr(colon + 2);
    return true;
  }

  bool Parse5424(std::string_view line, size_t pos, ParsedLine* out) const {
    if (pos > line.size()) return false;
    std::string_view ts = NextWord(line, &pos);
    out->fields[kTime] = ts;
    if (ts != "-") {
      out->time_ms = ParseIso8601(ts);
      if (out->time_ms == kNoTime) return false;
    }
    auto nil = [](std::string_view w) { return w == "-" ? std::string_view() : w; };
    out->fields[kHost] = nil(NextWord(line, &pos));
    out->fields[kApp] = nil(NextWord(line, &pos));
    out->fields[kProcId] = nil(NextWord(line, &pos));
    out->fields[kMsgId] = nil(NextWord(line, &pos));
    size_t sd_end = SkipStructuredData(line, pos);
    if (sd_end == std::string_view::npos) return false;
    out->fields[kStructuredData] = nil(line.substr(pos, sd_end - pos));
    if (sd_end < line.size() && line[sd_end] == ' ') ++sd_end;
    std::string_view msg = line.substr(std::min(sd_end, line.size()));
    if (msg.size() >= 3 && msg.substr(0, 3) == "\xEF\xBB\xBF") msg.remove_prefix(3);  // the BOM of RFC 5424
    out->fields[kContent] = msg;
    return true;
  }

  SyslogVariant variant_;
  int default_year_;
  std::string name_;
  TimePattern time3164_;
  std::vector<std::string> names_;
};

}  // namespace

std::unique_ptr<LineParser> NewSyslogParser(SyslogVariant variant, int default_year, std::string name) {
  return std::make_unique<SyslogParser>(variant, default_year, std::move(name));
}

}  // namespace fedlog::logparse::internal
