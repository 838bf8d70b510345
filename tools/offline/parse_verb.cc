// `fedlog parse --format NAME [--out-format csv|jsonl] [--out FILE] [--templates FILE] [--config FILE]
//  [--state FILE] FILE...`: one row per line (file, line number, time, level, component, template id,
// parameters), then the templates with their counts (to --templates, or to stderr).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/file_util.h"
#include "common/logparse/csv.h"
#include "common/logparse/drain_config.h"
#include "common/logparse/line_parser.h"
#include "common/logparse/line_reader.h"
#include "tools/cli/args.h"
#include "tools/offline/verbs.h"

namespace fedlog::offline {
namespace lp = ::fedlog::logparse;
namespace {

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
  return out;
}

std::string JsonArray(const std::vector<std::string_view>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) absl::StrAppend(&out, i ? "," : "", JsonString(v[i]));
  out.push_back(']');
  return out;
}

absl::StatusOr<std::unique_ptr<lp::Drain>> MakeDrain(const cli::Args& args, const std::string& format) {
  lp::DrainOptions options;
  if (args.Has("config")) {
    absl::StatusOr<lp::DrainConfig> config = lp::DrainConfig::LoadFile(args.Get("config"));
    if (!config.ok()) return config.status();
    absl::StatusOr<lp::DrainOptions> o = config->ForSource(format);
    if (!o.ok()) return o.status();
    options = *o;
  }
  const std::string state = args.Get("state");
  if (!state.empty() && FileExists(state)) return lp::Drain::Load(state, options);
  return lp::Drain::Create(options);
}

void WriteRow(std::ostream& out, bool jsonl, const std::string& file, int64_t line_no, const lp::ParsedLine& p,
              int32_t id, const std::vector<std::string_view>& params) {
  const std::string time = p.time_ms == lp::kNoTime ? "" : absl::StrCat(p.time_ms);
  if (jsonl) {
    out << "{\"file\":" << JsonString(file) << ",\"line\":" << line_no << ",\"time_ms\":"
        << (time.empty() ? "null" : time) << ",\"level\":" << JsonString(p.level)
        << ",\"component\":" << JsonString(p.component) << ",\"matched\":" << (p.matched ? "true" : "false")
        << ",\"template_id\":" << id << ",\"parameters\":" << JsonArray(params) << "}\n";
    return;
  }
  out << lp::CsvEscape(file) << ',' << line_no << ',' << time << ',' << lp::CsvEscape(p.level) << ','
      << lp::CsvEscape(p.component) << ',' << (p.matched ? 1 : 0) << ',' << id << ','
      << lp::CsvEscape(JsonArray(params)) << '\n';
}

}  // namespace

int RunParse(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args =
      cli::Args::Parse(argv, {{"format", "out-format", "out", "templates", "config", "state"}, {}});
  const std::string usage =
      "usage: fedlog parse --format NAME [--out-format csv|jsonl] [--out FILE] [--templates FILE] "
      "[--config FILE] [--state FILE] FILE...\n";
  if (!args.ok() || !args->Has("format") || args->positionals().empty()) {
    std::cerr << "fedlog parse: "
              << (args.ok() ? "--format and at least one FILE are required" : args.status().message()) << "\n"
              << usage;
    return 2;
  }
  const std::string out_format = args->Get("out-format", "csv");
  if (out_format != "csv" && out_format != "jsonl") {
    std::cerr << "fedlog parse: --out-format must be csv or jsonl\n" << usage;
    return 2;
  }
  // Every input is checked before anything is written, so a mistyped FILE leaves --out as it was and prints no
  // half table.
  for (const std::string& path : args->positionals()) {
    if (std::ifstream probe(path, std::ios::binary); !probe) {
      std::cerr << "fedlog parse: cannot open '" << path << "': " << std::strerror(errno) << "\n";
      return 1;
    }
  }
  absl::StatusOr<std::unique_ptr<lp::LineParser>> parser = lp::CreateLineParser(args->Get("format"));
  absl::StatusOr<std::unique_ptr<lp::Drain>> drain = parser.ok() ? MakeDrain(*args, args->Get("format"))
                                                                 : absl::StatusOr<std::unique_ptr<lp::Drain>>(parser.status());
  if (!drain.ok()) {
    std::cerr << "fedlog parse: " << drain.status().message() << "\n";
    return 1;
  }
  std::ofstream file_out;
  if (args->Has("out")) {
    file_out.open(args->Get("out"), std::ios::binary | std::ios::trunc);
    if (!file_out) {
      std::cerr << "fedlog parse: cannot write '" << args->Get("out") << "': " << std::strerror(errno) << "\n";
      return 1;
    }
  }
  std::ostream& out = args->Has("out") ? file_out : std::cout;
  const bool jsonl = out_format == "jsonl";
  if (!jsonl) out << "file,line,time_ms,level,component,matched,template_id,parameters\n";
  lp::ParsedLine parsed;
  lp::ParseStats stats;
  std::vector<std::string_view> params;
  for (const std::string& path : args->positionals()) {
    absl::StatusOr<std::string> data = lp::ReadLogFile(path);
    if (!data.ok()) {
      std::cerr << "fedlog parse: " << data.status().message() << "\n";
      return 1;
    }
    int64_t line_no = 0;
    lp::ForEachLine(*data, [&](std::string_view line) {
      (*parser)->Parse(line, &parsed);
      stats.Add(parsed);
      const int32_t id = (*drain)->Add(parsed.content).template_id;
      (*drain)->LastParameters(id, &params);
      WriteRow(out, jsonl, path, ++line_no, parsed, id, params);
    });
  }
  std::string templates = "template_id,count,template\n";
  for (const lp::TemplateInfo& t : (*drain)->Templates()) {
    absl::StrAppend(&templates, t.id, ",", t.size, ",", lp::CsvEscape(t.text), "\n");
  }
  absl::Status s = args->Has("templates") ? WriteFileAtomic(args->Get("templates"), templates) : absl::OkStatus();
  if (!args->Has("templates")) std::cerr << templates;
  if (s.ok() && args->Has("state")) s = (*drain)->Save(args->Get("state"));
  std::cerr << absl::StrFormat("parsed %d lines, %d without a matching header, %d templates\n", stats.lines,
                               stats.unmatched, (*drain)->Templates().size());
  if (!s.ok() || !out.good()) {
    std::cerr << "fedlog parse: " << (s.ok() ? "write failed" : s.message()) << "\n";
    return 1;
  }
  return 0;
}

}  // namespace fedlog::offline
