// Project-wide logging: one line per record on stderr, "2026-11-23T10:00:00.123Z I file.cc:42] message".
// Thread-safe: records are written whole under a mutex. The level is process-wide and set once from main().
// Libraries log through FEDLOG_LOG(INFO) << ...; nothing in a library writes to std::cout.
#ifndef FEDLOG_COMMON_BASE_LOGGING_H_
#define FEDLOG_COMMON_BASE_LOGGING_H_

#include <sstream>
#include <string>

#include "absl/strings/string_view.h"

namespace fedlog {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Records below `level` are dropped. Default kInfo; FEDLOG_LOG_LEVEL=debug|info|warning|error overrides it
// when ParseLogLevelFromEnv() is called (another value is logged as a warning and changes nothing).
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
void ParseLogLevelFromEnv();
// Prefix every record with "[tag] " (e.g. the site id), so interleaved process logs stay readable.
void SetLogTag(absl::string_view tag);

class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

}  // namespace fedlog

#define FEDLOG_LOG_LEVEL_DEBUG ::fedlog::LogLevel::kDebug
#define FEDLOG_LOG_LEVEL_INFO ::fedlog::LogLevel::kInfo
#define FEDLOG_LOG_LEVEL_WARNING ::fedlog::LogLevel::kWarning
#define FEDLOG_LOG_LEVEL_ERROR ::fedlog::LogLevel::kError

#define FEDLOG_LOG(severity)                                                 \
  if (FEDLOG_LOG_LEVEL_##severity < ::fedlog::GetLogLevel()) {               \
  } else                                                                     \
    ::fedlog::LogMessage(FEDLOG_LOG_LEVEL_##severity, __FILE__, __LINE__).stream()

#endif  // FEDLOG_COMMON_BASE_LOGGING_H_
