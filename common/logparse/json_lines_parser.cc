// JSON lines: one object per line. A small hand-written scanner walks the top-level object once, remembers
// the raw spans of the configured keys and skips everything else (nested objects and arrays included).
// Strings without escapes stay views into the line; escaped ones are decoded into ParsedLine::scratch.
#include <string>
#include <vector>

#include "common/logparse/parsers_internal.h"

namespace fedlog::logparse::internal {
namespace {

enum Field { kMessage, kTime, kLevel, kComponent, kNumFields };

struct Span {
  std::string_view raw;  // string contents without quotes, or the literal text of a number
  bool is_string = false;
  bool escaped = false;
};

class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}
  void SkipWs() {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\t' || s_[p_] == '\n' || s_[p_] == '\r')) ++p_;
  }
  bool Consume(char c) {
    SkipWs();
    if (p_ < s_.size() && s_[p_] == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool AtEnd() {
    SkipWs();
    return p_ == s_.size();
  }
  // A string at p_ (after the opening quote check). Fills contents and whether it holds escapes.
  bool String(Span* out) {
    if (!Consume('"')) return false;
    size_t start = p_;
    bool escaped = false;
    while (p_ < s_.size() && s_[p_] != '"') {
      if (s_[p_] == '\\') {
        escaped = true;
        ++p_;
      }
      ++p_;
    }
    if (p_ >= s_.size()) return false;
    *out = {s_.substr(start, p_ - start), true, escaped};
    ++p_;
    return true;
  }
  // Any value; containers are skipped with a depth counter (strings inside them honoured).
  bool Value(Span* out) {
    SkipWs();
    if (p_ >= s_.size()) return false;
    char c = s_[p_];
    if (c == '"') return String(out);
    if (c == '{' || c == '[') return SkipContainer();
    size_t start = p_;
    while (p_ < s_.size() && s_[p_] != ',' && s_[p_] != '}' && s_[p_] != ']' && s_[p_] != ' ') ++p_;
    if (p_ == start) return false;
    *out = {s_.substr(start, p_ - start), false, false};
    return true;
  }

 private:
  bool SkipContainer() {
    int depth = 0;
    Span ignored;
    while (p_ < s_.size()) {
      char c = s_[p_];
      if (c == '"') {
        if (!String(&ignored)) return false;
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (--depth == 0) {
          ++p_;
          return true;
        }
      }
      ++p_;
    }
    return false;
  }

  std::string_view s_;
  size_t p_ = 0;
};

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

int Hex4(std::string_view s, size_t i) {
  if (i + 4 > s.size()) return -1;
  int v = 0;
  for (size_t k = i; k < i + 4; ++k) {
    char c = s[k];
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

// Decodes JSON escapes of `raw` onto the end of `out` (whose capacity the caller reserved).
void Unescape(std::string_view raw, std::string* out) {
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c != '\\' || i + 1 >= raw.size()) {
      out->push_back(c);
      continue;
    }
    char e = raw[++i];
    switch (e) {
      case 'n': out->push_back('\n'); break;
      case 't': out->push_back('\t'); break;
      case 'r': out->push_back('\r'); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 'u': {
        int cp = Hex4(raw, i + 1);
        if (cp < 0) {
          out->push_back('u');
          break;
        }
        i += 4;
        uint32_t code = static_cast<uint32_t>(cp);
        if (cp >= 0xD800 && cp < 0xDC00 && i + 2 < raw.size() && raw[i + 1] == '\\' && raw[i + 2] == 'u') {
          int lo = Hex4(raw, i + 3);
          if (lo >= 0xDC00 && lo < 0xE000) {
            code = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          }
        }
        AppendUtf8(code, out);
        break;
      }
      default: out->push_back(e);  // \" \\ \/ and anything unknown
    }
  }
}

int64_t JsonTime(const Span& s) {
  std::string_view v = s.raw;
  bool numeric = !v.empty();
  for (char c : v) numeric = numeric && ((c >= '0' && c <= '9') || c == '.');
  if (!numeric) return ParseIso8601(v);
  int64_t whole = 0;
  size_t i = 0;
  for (; i < v.size() && v[i] != '.'; ++i) whole = whole * 10 + (v[i] - '0');
  if (whole >= 100000000000LL) return whole;  // already milliseconds
  int64_t ms = 0, scale = 100;
  for (++i; i < v.size() && scale > 0; ++i, scale /= 10) ms += (v[i] - '0') * scale;
  return whole * 1000 + ms;
}

class JsonLinesParser : public LineParser {
 public:
  JsonLinesParser(const ParserOptions& o, std::string name) : name_(std::move(name)) {
    keys_[kMessage] = o.json_message_fields;
    keys_[kTime] = o.json_time_fields;
    keys_[kLevel] = o.json_level_fields;
    keys_[kComponent] = o.json_component_fields;
    names_ = {"Content", "Time", "Level", "Component"};
  }

  void Parse(std::string_view raw, ParsedLine* out) const override {
    std::string_view line = StripCr(raw);
    out->Reset(line);
    Span found[kNumFields];
    int rank[kNumFields] = {1 << 20, 1 << 20, 1 << 20, 1 << 20};  // lower = earlier in the key list
    if (!Scan(line, found, rank)) return;
    out->scratch.clear();
    out->scratch.reserve(line.size());  // unescaped text is never longer, so views below stay valid
    std::string_view values[kNumFields];
    for (int f = 0; f < kNumFields; ++f) {
      if (!found[f].escaped) {
        values[f] = found[f].raw;
        continue;
      }
      size_t start = out->scratch.size();
      Unescape(found[f].raw, &out->scratch);
      values[f] = std::string_view(out->scratch).substr(start);
    }
    out->matched = true;
    out->num_fields = kNumFields;
    for (int f = 0; f < kNumFields; ++f) out->fields[f] = values[f];
    out->content = rank[kMessage] < (1 << 20) ? values[kMessage] : line;
    out->level = values[kLevel];
    out->component = values[kComponent];
    if (rank[kTime] < (1 << 20)) out->time_ms = JsonTime(found[kTime]);
  }

  const std::vector<std::string>& field_names() const override { return names_; }
  const std::string& name() const override { return name_; }

 private:
  bool Scan(std::string_view line, Span* found, int* rank) const {
    Scanner sc(line);
    if (!sc.Consume('{')) return false;
    if (sc.Consume('}')) return sc.AtEnd();
    do {
      Span key, value;
      if (!sc.String(&key) || !sc.Consume(':') || !sc.Value(&value)) return false;
      for (int f = 0; f < kNumFields; ++f) {
        for (size_t k = 0; k < keys_[f].size() && static_cast<int>(k) < rank[f]; ++k) {
          if (keys_[f][k] == key.raw) {
            found[f] = value;
            rank[f] = static_cast<int>(k);
          }
        }
      }
    } while (sc.Consume(','));
    return sc.Consume('}') && sc.AtEnd();
  }

  std::string name_;
  std::vector<std::string> keys_[kNumFields];
  std::vector<std::string> names_;
};

}  // namespace

std::unique_ptr<LineParser> NewJsonLinesParser(const ParserOptions& options, std::string name) {
  return std::make_unique<JsonLinesParser>(options, std::move(name));
}

}  // namespace fedlog::logparse::internal
