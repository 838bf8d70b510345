#include "common/logparse/line_reader.h"

#include <zlib.h>

#include <algorithm>
#include <memory>

#include "common/base/file_util.h"
#include "common/base/status_macros.h"

namespace fedlog::logparse {
namespace {

absl::StatusOr<std::string> Gunzip(std::string_view gz) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return absl::InternalError("zlib inflateInit2 failed");
  std::string out;
  out.resize(gz.size() * 4 + 4096);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  int rc = Z_OK;
  size_t produced = 0;
  while (true) {
    if (produced == out.size()) out.resize(out.size() * 2);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(out.size() - produced);
    rc = inflate(&zs, Z_NO_FLUSH);
    produced = out.size() - zs.avail_out;
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      if (inflateReset(&zs) != Z_OK) break;  // concatenated gzip members: go on with the next one
      continue;
    }
    if (rc == Z_BUF_ERROR && zs.avail_out == 0) continue;
    if (rc != Z_OK) break;
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) return absl::DataLossError("corrupt or truncated gzip data");
  out.resize(produced);
  return out;
}

}  // namespace

absl::StatusOr<std::string> ReadLogFile(const std::string& path) {
  FEDLOG_ASSIGN_OR_RETURN(std::string data, ReadFile(path));
  const std::string_view head(data.data(), std::min<size_t>(data.size(), 2));
  if (head.size() == 2 && static_cast<unsigned char>(head[0]) == 0x1f && static_cast<unsigned char>(head[1]) == 0x8b) {
    absl::StatusOr<std::string> plain = Gunzip(data);
    if (!plain.ok()) return Annotate(plain.status(), path);
    return plain;
  }
  return data;
}

std::vector<std::string_view> SplitLines(std::string_view data) {
  std::vector<std::string_view> lines;
  ForEachLine(data, [&](std::string_view l) { lines.push_back(l); });
  return lines;
}

}  // namespace fedlog::logparse
