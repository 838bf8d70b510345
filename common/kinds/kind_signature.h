// fedlog::kinds: a log message's KIND, as a signature two sites compute alike without sharing their
// logs or their parsers' state. The signature is taken from the message content itself (the
// LineParser's `content`, no header fields), not from the site's Drain template: two sites' Drain
// clusters of the same message differ with their settings, their history and their merges, while
// the content's constant words do not. Rule: lowercase; split on whitespace; strip leading and
// trailing punctuation (.,;:()[]{}<>"'=!?*); drop a token that is then empty, holds a digit
// (numbers, ids, addresses, node names, core.NNN) or a path separator ('/' or '\'); Drain's "<*>"
// vanishes by the same rule. The kept tokens, in order, are the kind; its signature is FNV-1a 64
// over them joined by 0x1F. A message with no token left has no kind. Two sites agree on a message
// whose variable parts hold digits or slashes, whatever their parsers learnt (a variable made of
// plain words, e.g. a user name, splits a kind; it never merges two).
// Torch-free, gRPC-free. Thread-safe (pure functions).
#ifndef FEDLOG_COMMON_KINDS_KIND_SIGNATURE_H_
#define FEDLOG_COMMON_KINDS_KIND_SIGNATURE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fedlog::kinds {

// The kind's tokens of `content` in order (see the header comment); empty when it has none.
std::vector<std::string> KindTokens(std::string_view content);
// The signature of `content`'s kind; nullopt when it has no token.
std::optional<uint64_t> KindSignature(std::string_view content);

}  // namespace fedlog::kinds

#endif  // FEDLOG_COMMON_KINDS_KIND_SIGNATURE_H_
