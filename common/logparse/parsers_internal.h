// Factories of the concrete LineParser classes, shared by line_parser.cc. Not part of the public API.
#ifndef FEDLOG_COMMON_LOGPARSE_PARSERS_INTERNAL_H_
#define FEDLOG_COMMON_LOGPARSE_PARSERS_INTERNAL_H_

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/logparse/line_parser.h"

namespace fedlog::logparse::internal {

enum class SyslogVariant { kAuto, kRfc3164, kRfc5424 };

std::unique_ptr<LineParser> NewSyslogParser(SyslogVariant variant, int default_year, std::string name);
std::unique_ptr<LineParser> NewJsonLinesParser(const ParserOptions& options, std::string name);

}  // namespace fedlog::logparse::internal

#endif  // FEDLOG_COMMON_LOGPARSE_PARSERS_INTERNAL_H_
