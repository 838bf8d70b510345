// Tailer: follows the files of the detector's sources, like `tail -F` over globs, and hands out
// every complete line exactly once together with the byte offset just after it. Files are followed
// by identity (device, inode), not by name:
//   * rotation by rename: the renamed file is read to its end (and kept open rotate_grace_ms in
//   case
//     the writer still appends) before the new file at the path is read from its start;
//   * copytruncate: a file shorter than what was read, or whose first bytes changed (truncated and
//     rewritten past the old size between two polls), is read again from offset 0;
//   * a new file matching a glob is followed from its start;
//   * restart: a file with a saved offset resumes right after it; a saved file renamed away while
//   the
//     daemon was down is found again by its inode in the same directory and finished first.
// The caller commits the offsets of lines it has processed (DetectStore) and gives them back at
// start: that is what makes a restart lose and repeat no line.
// Thread-compatible: Poll from one thread. ReadStdin runs on its own thread.
#ifndef FEDLOG_CLIENT_DETECT_TAILER_H_
#define FEDLOG_CLIENT_DETECT_TAILER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/detect/detect_options.h"
#include "client/detect/detect_store.h"

namespace fedlog::client::detect {

struct RawLine {
  int source = 0;    // index into the detector's sources
  std::string file;  // path it was read under ("-" stdin)
  uint64_t dev = 0, ino = 0;
  int64_t end_offset = 0;  // byte offset just after the line's newline
  std::string text;        // without the newline
  int64_t read_ns = 0;     // steady-clock time it was read (latency metric)
};

// Returns false to stop reading (the consumer is gone). May block: that is the backpressure.
using EmitFn = std::function<bool(RawLine&&)>;

struct TailerOptions {
  bool start_at_end =
      false;  // files without a saved offset, seen at the first poll: from their end
  int rotate_grace_ms = 1000;
  size_t read_chunk = 1 << 16;
};

struct TailerCounters {
  int64_t files_opened = 0;
  int64_t files_closed = 0;
  int64_t truncations = 0;  // copytruncate (or any shrink) detected
  int64_t bytes_read = 0;
  int64_t long_lines_cut = 0;  // lines longer than kMaxLineBytes, cut there
};

// Longest line handed out; longer runs without a newline are cut into pieces of this size.
inline constexpr size_t kMaxLineBytes = size_t{1} << 20;

class Tailer {
 public:
  Tailer(std::vector<SourceOptions> sources, std::vector<FileOffset> saved, TailerOptions options);
  ~Tailer();
  Tailer(const Tailer&) = delete;
  Tailer& operator=(const Tailer&) = delete;

  // Reads what is new in every followed file and emits each complete line. False when emit said
  // stop.
  bool Poll(const EmitFn& emit);

  TailerCounters counters() const { return counters_; }
  int followed_files() const { return static_cast<int>(files_.size()); }

 private:
  struct Followed {
    int source;
    uint64_t dev, ino;
    std::string path;
    int fd;
    int64_t read_pos;     // bytes read from the file
    std::string partial;  // bytes after the last newline
    std::string head;     // the file's first bytes when read from offset 0 (copytruncate check)
    absl::Time last_match;
    bool matched;
  };
  struct Match {
    std::string path;
    uint64_t dev, ino;
    int64_t size;
  };

  std::vector<Match> Expand(int source) const;
  void Open(int source, const std::string& path, uint64_t dev, uint64_t ino, int64_t offset);
  void FindOrphans(int source, const std::vector<Match>& matches);
  const FileOffset* Saved(int source, uint64_t dev, uint64_t ino) const;
  bool Read(Followed& f, const EmitFn& emit);
  bool Truncated(Followed& f);

  std::vector<SourceOptions> sources_;
  std::vector<FileOffset> saved_;
  TailerOptions options_;
  std::vector<Followed> files_;  // oldest first: a renamed file drains before its successor
  bool first_poll_ = true;
  TailerCounters counters_;
  std::string buf_;
};

// Reads lines from standard input (fd 0) until EOF, `stop`, or emit returning false; lines carry
// file "-" and the running byte count as offset.
void ReadStdin(int source, const std::atomic<bool>& stop, const EmitFn& emit);

}  // namespace fedlog::client::detect

#endif  // FEDLOG_CLIENT_DETECT_TAILER_H_
