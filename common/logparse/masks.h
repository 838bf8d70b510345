// Built-in token masks for Drain: hand-written scanners (no regex) that recognise variable tokens and name
// them: <IP>, <NUM>, <HEX>, <PATH>, <BLK>. A mask applies to a token's core, i.e. the token without
// surrounding brackets, quotes and trailing punctuation, so "[10.0.0.1]," becomes "[<IP>],".
// Thread-safe: pure functions.
#ifndef FEDLOG_COMMON_LOGPARSE_MASKS_H_
#define FEDLOG_COMMON_LOGPARSE_MASKS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace fedlog::logparse {

// kWildcard: numeric parametrisation; kRegex: a placeholder a user regex wrote ("<UUID>").
enum class MaskKind : uint8_t { kNone = 0, kBlk, kIp, kHex, kNum, kPath, kWildcard, kRegex };

// Bits of DrainOptions::masks.
inline constexpr uint32_t kMaskBlk = 1u << static_cast<int>(MaskKind::kBlk);
inline constexpr uint32_t kMaskIp = 1u << static_cast<int>(MaskKind::kIp);
inline constexpr uint32_t kMaskHex = 1u << static_cast<int>(MaskKind::kHex);
inline constexpr uint32_t kMaskNum = 1u << static_cast<int>(MaskKind::kNum);
inline constexpr uint32_t kMaskPath = 1u << static_cast<int>(MaskKind::kPath);
inline constexpr uint32_t kAllMasks = kMaskBlk | kMaskIp | kMaskHex | kMaskNum | kMaskPath;

// "<IP>", "<NUM>", ...; "<*>" for kWildcard; "" for kNone.
std::string_view MaskPlaceholder(MaskKind kind);

// Parses a comma-separated list of mask names ("ip,num,hex,path,blk", "all", "none") into mask bits.
absl::StatusOr<uint32_t> ParseMaskList(std::string_view list);

// Where a token's core starts and ends: leading "([{<'\"" and trailing ")]}>,;:.'\"" are cut off.
struct TokenCore {
  size_t begin = 0;
  size_t end = 0;
};
TokenCore FindCore(std::string_view token);

// The first enabled mask whose scanner accepts all of `core`, in the order BLK, IP, HEX, NUM, PATH;
// kNone when none does.
MaskKind ClassifyCore(std::string_view core, uint32_t enabled);

// True when `s` is a placeholder: "<", upper-case letters, digits, '_' or one '*', ">".
bool IsPlaceholder(std::string_view s);

}  // namespace fedlog::logparse

#endif  // FEDLOG_COMMON_LOGPARSE_MASKS_H_
