#include "tests/fuzz/parse_fuzz_entry.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/logparse/drain.h"
#include "common/logparse/line_parser.h"
#include "common/logparse/line_reader.h"

namespace fedlog::logparse {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

// True when `v` lies inside `outer` (views into the line) or inside `scratch` (rewritten values).
bool Inside(std::string_view v, std::string_view outer, const std::string& scratch) {
  auto within = [&](std::string_view o) {
    return v.data() >= o.data() && v.data() + v.size() <= o.data() + o.size();
  };
  return v.empty() || within(outer) || within(scratch);
}

std::unique_ptr<LineParser> PickParser(uint8_t selector) {
  const std::vector<std::string> names = KnownParserNames();
  const size_t choice = selector % (names.size() + 1);
  ParserOptions o;
  o.default_year = 2024;
  if (choice == names.size()) {
    o.time_pattern = "yyyy-MM-dd HH:mm:ss.SSS";
    return *CreateLineParser("format:<Date> <Time> (\\[<Level>\\] )?<Component>: <Content>", o);
  }
  return *CreateLineParser(names[choice], o);
}

}  // namespace

int FuzzParseOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::unique_ptr<LineParser> parser = PickParser(data[0]);
  DrainOptions options;
  options.strict_words = (data[0] & 0x40) == 0;
  options.max_clusters = (data[0] & 0x80) ? 4 : 0;
  options.extra_delimiters = (data[0] & 0x20) ? ",=" : "";
  if (data[0] & 0x10) options.regex_masks.push_back({"[0-9a-f]{8}", "<ID>"});
  std::unique_ptr<Drain> drain = *Drain::Create(options);
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  ParsedLine parsed;
  std::vector<std::string_view> params;
  int64_t lines = ForEachLine(input, [&](std::string_view line) {
    parser->Parse(line, &parsed);
    Check(Inside(parsed.content, line, parsed.scratch), "content outside the line");
    Check(parsed.matched || parsed.content == StripCr(line), "unmatched line not kept whole");
    const DrainResult r = drain->Add(parsed.content);
    Check(r.template_id >= 0 && drain->Resolve(r.template_id) == r.template_id, "unresolved template id");
    drain->LastParameters(r.template_id, &params);
    for (std::string_view p : params) Check(p.size() <= parsed.content.size(), "parameter longer than content");
    Check(drain->Match(parsed.content).template_id >= -1, "match failed");
  });
  Check(lines >= 0, "negative line count");
  // A state that was written must load again, unchanged (restarts depend on the round trip).
  const std::string state = drain->Serialize();
  absl::StatusOr<std::unique_ptr<Drain>> restored = Drain::Restore(state, options);
  if (!restored.ok()) std::fprintf(stderr, "%s\n", restored.status().ToString().c_str());
  Check(restored.ok(), "saved state does not load");
  Check((*restored)->Serialize() == state, "state changed across save and load");
  return 0;
}

}  // namespace fedlog::logparse
