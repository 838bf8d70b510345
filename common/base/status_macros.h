// Propagation macros for absl::Status / absl::StatusOr. Debian's Abseil (20220623) ships none, so they live
// here once. Thread-safe: they are pure control flow.
#ifndef FEDLOG_COMMON_BASE_STATUS_MACROS_H_
#define FEDLOG_COMMON_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define FEDLOG_STATUS_CONCAT_INNER_(a, b) a##b
#define FEDLOG_STATUS_CONCAT_(a, b) FEDLOG_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function with the status of `expr` when it is not OK.
#define FEDLOG_RETURN_IF_ERROR(expr)                  \
  do {                                                \
    ::absl::Status fedlog_status_ = (expr);           \
    if (!fedlog_status_.ok()) return fedlog_status_;  \
  } while (0)

// `lhs = value of expr` when expr (a StatusOr) is OK, otherwise returns its status.
// lhs may declare a variable: FEDLOG_ASSIGN_OR_RETURN(auto x, MakeX());
#define FEDLOG_ASSIGN_OR_RETURN(lhs, expr) \
  FEDLOG_ASSIGN_OR_RETURN_IMPL_(FEDLOG_STATUS_CONCAT_(fedlog_statusor_, __LINE__), lhs, expr)

#define FEDLOG_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

namespace fedlog {

// Prefixes the message of a non-OK status with context, keeping its code: Annotate(s, "reading x.yaml").
absl::Status Annotate(const absl::Status& status, absl::string_view context);

}  // namespace fedlog

#endif  // FEDLOG_COMMON_BASE_STATUS_MACROS_H_
