#include "client/detect/tailer.h"

#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "absl/time/clock.h"
#include "common/base/logging.h"

namespace fedlog::client::detect {
namespace {

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Splits complete lines off `partial` (whose first byte sits at file offset `base`) and emits them.
bool EmitLines(int source, const std::string& path, uint64_t dev, uint64_t ino, int64_t base,
               std::string* partial, const EmitFn& emit) {
  size_t start = 0;
  bool ok = true;
  const int64_t now = SteadyNs();
  for (size_t nl = partial->find('\n'); nl != std::string::npos; nl = partial->find('\n', start)) {
    RawLine line{source,
                 path,
                 dev,
                 ino,
                 base + static_cast<int64_t>(nl) + 1,
                 partial->substr(start, nl - start),
                 now};
    start = nl + 1;
    if (!emit(std::move(line))) {
      ok = false;
      break;
    }
  }
  partial->erase(0, start);
  return ok;
}

}  // namespace

Tailer::Tailer(std::vector<SourceOptions> sources, std::vector<FileOffset> saved,
               TailerOptions options)
    : sources_(std::move(sources)), saved_(std::move(saved)), options_(options) {
  buf_.resize(options_.read_chunk);
}

Tailer::~Tailer() {
  for (Followed& f : files_) close(f.fd);
}

std::vector<Tailer::Match> Tailer::Expand(int source) const {
  std::vector<Match> out;
  for (const std::string& pattern : sources_[source].paths) {
    if (pattern == "-") continue;
    glob_t g{};
    if (glob(pattern.c_str(), 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) {
        struct stat st;
        if (stat(g.gl_pathv[i], &st) != 0 || !S_ISREG(st.st_mode)) continue;
        out.push_back({g.gl_pathv[i], static_cast<uint64_t>(st.st_dev),
                       static_cast<uint64_t>(st.st_ino), static_cast<int64_t>(st.st_size)});
      }
    }
    globfree(&g);
  }
  return out;
}

const FileOffset* Tailer::Saved(int source, uint64_t dev, uint64_t ino) const {
  for (const FileOffset& f : saved_) {
    if (f.source == sources_[source].name && f.dev == dev && f.ino == ino) return &f;
  }
  return nullptr;
}

void Tailer::Open(int source, const std::string& path, uint64_t dev, uint64_t ino, int64_t offset) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    FEDLOG_LOG(WARNING) << "detect: cannot open " << path << ": " << std::strerror(errno);
    return;
  }
  files_.push_back({source, dev, ino, path, fd, offset, "", "", absl::Now(), true});
  ++counters_.files_opened;
}

// A saved file whose inode is no longer under any match was renamed while the daemon was down; look
// for it beside its old path and finish it first.
void Tailer::FindOrphans(int source, const std::vector<Match>& matches) {
  for (const FileOffset& f : saved_) {
    if (f.source != sources_[source].name) continue;
    bool present = false;
    for (const Match& m : matches) present |= m.dev == f.dev && m.ino == f.ino;
    if (present) continue;
    std::error_code ec;
    const auto dir = std::filesystem::path(f.path).parent_path();
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      struct stat st;
      if (stat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      if (static_cast<uint64_t>(st.st_dev) != f.dev || static_cast<uint64_t>(st.st_ino) != f.ino)
        continue;
      if (st.st_size > f.offset) Open(source, entry.path().string(), f.dev, f.ino, f.offset);
      break;
    }
  }
}

// True when `f` was truncated (and maybe rewritten past the old size) since the last read: it
// shrank, or its first bytes changed. `f.head` keeps the first kHead bytes seen (taken when the
// file is opened, also at a resumed offset: a saved file with the same inode and enough bytes is
// taken as unchanged).
bool Tailer::Truncated(Followed& f) {
  constexpr size_t kHead = 128;
  struct stat st;
  if (fstat(f.fd, &st) != 0) return false;
  if (st.st_size < f.read_pos) return true;
  char now[kHead];
  const ssize_t n = pread(f.fd, now, kHead, 0);
  if (n < 0) return false;
  const size_t common = std::min(f.head.size(), static_cast<size_t>(n));
  if (std::memcmp(now, f.head.data(), common) != 0) return true;
  if (static_cast<size_t>(n) > f.head.size()) f.head.assign(now, static_cast<size_t>(n));
  return false;
}

bool Tailer::Read(Followed& f, const EmitFn& emit) {
  if (Truncated(f)) {
    FEDLOG_LOG(INFO) << "detect: " << f.path
                     << " was truncated (copytruncate); reading it from the start";
    ++counters_.truncations;
    f.read_pos = 0;
    f.partial.clear();
    f.head.clear();
    Truncated(f);  // takes the new head
  }
  for (;;) {
    const ssize_t n = pread(f.fd, buf_.data(), buf_.size(), f.read_pos);
    if (n <= 0) return true;
    f.read_pos += n;
    counters_.bytes_read += n;
    f.partial.append(buf_.data(), static_cast<size_t>(n));
    const int64_t base = f.read_pos - static_cast<int64_t>(f.partial.size());
    if (!EmitLines(f.source, f.path, f.dev, f.ino, base, &f.partial, emit)) return false;
    // A "line" this long is not a log line (binary data, a missing newline): cut it, so memory
    // stays bounded; the offset of the cut counts as a line end. (EmitLines left no newline in
    // `partial`.)
    while (f.partial.size() > kMaxLineBytes) {
      const int64_t start = f.read_pos - static_cast<int64_t>(f.partial.size());
      RawLine cut{f.source,
                  f.path,
                  f.dev,
                  f.ino,
                  start + static_cast<int64_t>(kMaxLineBytes),
                  f.partial.substr(0, kMaxLineBytes),
                  SteadyNs()};
      f.partial.erase(0, kMaxLineBytes);
      ++counters_.long_lines_cut;
      if (!emit(std::move(cut))) return false;
    }
  }
}

bool Tailer::Poll(const EmitFn& emit) {
  const absl::Time now = absl::Now();
  for (Followed& f : files_) f.matched = false;
  for (int s = 0; s < static_cast<int>(sources_.size()); ++s) {
    const std::vector<Match> matches = Expand(s);
    if (first_poll_) FindOrphans(s, matches);
    for (const Match& m : matches) {
      bool known = false;
      for (Followed& f : files_) {
        if (f.source == s && f.dev == m.dev && f.ino == m.ino) {
          known = f.matched = true;
          f.path = m.path;
          f.last_match = now;
        }
      }
      if (known) continue;
      const FileOffset* saved = Saved(s, m.dev, m.ino);
      int64_t offset = 0;
      if (saved != nullptr && saved->offset <= m.size) {
        offset = saved->offset;
      } else if (saved == nullptr && first_poll_ && options_.start_at_end) {
        offset = m.size;
      }
      Open(s, m.path, m.dev, m.ino, offset);
    }
  }
  first_poll_ = false;
  for (Followed& f : files_) {
    if (!Read(f, emit)) return false;
  }
  // Close files renamed away (or deleted) once the writer had its grace period; each was just read
  // to its end. A last line without newline is emitted then.
  for (auto it = files_.begin(); it != files_.end();) {
    if (it->matched || now - it->last_match < absl::Milliseconds(options_.rotate_grace_ms)) {
      ++it;
      continue;
    }
    if (!it->partial.empty()) {
      it->partial.push_back('\n');
      const int64_t base = it->read_pos - static_cast<int64_t>(it->partial.size()) + 1;
      if (!EmitLines(it->source, it->path, it->dev, it->ino, base, &it->partial, emit))
        return false;
    }
    close(it->fd);
    ++counters_.files_closed;
    it = files_.erase(it);
  }
  return true;
}

void ReadStdin(int source, const std::atomic<bool>& stop, const EmitFn& emit) {
  std::string partial;
  char buf[1 << 16];
  int64_t consumed = 0;
  while (!stop.load()) {
    struct pollfd p {
      0, POLLIN, 0
    };
    const int r = poll(&p, 1, 100);
    if (r < 0 && errno != EINTR) return;
    if (r <= 0) continue;
    const ssize_t n = read(0, buf, sizeof(buf));
    if (n <= 0) break;  // EOF
    const int64_t base = consumed - static_cast<int64_t>(partial.size());
    partial.append(buf, static_cast<size_t>(n));
    consumed += n;
    if (!EmitLines(source, "-", 0, 0, base, &partial, emit)) return;
  }
  if (!partial.empty()) {
    partial.push_back('\n');
    EmitLines(source, "-", 0, 0, consumed - static_cast<int64_t>(partial.size()) + 1, &partial,
              emit);
  }
}

}  // namespace fedlog::client::detect
