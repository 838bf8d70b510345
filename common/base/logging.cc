#include "common/base/logging.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "absl/strings/ascii.h"
#include "absl/synchronization/mutex.h"

namespace fedlog {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

struct LogSink {
  absl::Mutex mu;
  std::string tag ABSL_GUARDED_BY(mu);
};

LogSink& Sink() {
  static LogSink* sink = new LogSink();  // never destroyed: logging works during static teardown
  return *sink;
}

char LevelChar(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return 'D';
    case LogLevel::kInfo: return 'I';
    case LogLevel::kWarning: return 'W';
    case LogLevel::kError: return 'E';
  }
  return '?';
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed)); }

void ParseLogLevelFromEnv() {
  const char* env = std::getenv("FEDLOG_LOG_LEVEL");
  if (env == nullptr) return;
  std::string v = absl::AsciiStrToLower(env);
  if (v == "debug") {
    SetLogLevel(LogLevel::kDebug);
  } else if (v == "info") {
    SetLogLevel(LogLevel::kInfo);
  } else if (v == "warning") {
    SetLogLevel(LogLevel::kWarning);
  } else if (v == "error") {
    SetLogLevel(LogLevel::kError);
  } else {
    // A typo must not pass silently: the operator asked for another level than the one in force.
    FEDLOG_LOG(WARNING) << "FEDLOG_LOG_LEVEL='" << env << "' is none of debug, info, warning, error; the level "
                        << "stays " << (GetLogLevel() == LogLevel::kDebug     ? "debug"
                                        : GetLogLevel() == LogLevel::kInfo    ? "info"
                                        : GetLogLevel() == LogLevel::kWarning ? "warning"
                                                                              : "error");
  }
}

void SetLogTag(absl::string_view tag) {
  LogSink& sink = Sink();
  absl::MutexLock lock(&sink.mu);
  sink.tag = std::string(tag);
}

LogMessage::LogMessage(LogLevel level, const char* file, int line) : level_(level) {
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  int millis = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  const char* base = std::strrchr(file, '/');
  char ms[8];
  std::snprintf(ms, sizeof(ms), ".%03dZ", millis);
  stream_ << buf << ms << ' ' << LevelChar(level_) << ' ' << (base ? base + 1 : file) << ':' << line
          << "] ";
}

LogMessage::~LogMessage() {
  LogSink& sink = Sink();
  absl::MutexLock lock(&sink.mu);
  std::string record = stream_.str();
  if (!sink.tag.empty()) {
    std::fprintf(stderr, "[%s] %s\n", sink.tag.c_str(), record.c_str());
  } else {
    std::fprintf(stderr, "%s\n", record.c_str());
  }
  std::fflush(stderr);
}

}  // namespace fedlog
