// Every floating-point number a config file, an admin or a site sends must be finite: a NaN passes range checks
// written as `x < lo || x > hi` and then silently disables whatever it feeds (a NaN threshold never alerts, a NaN
// share never caps). CheckFiniteNumbers walks a whole protobuf message by reflection (nested messages, repeated
// fields and maps included), so a field added later is covered without a new check. Used by the aggregator for
// run plans and update headers (server/coordinator_admin.cc, coordinator_checks.cc); YAML configs are checked as
// they are parsed (yaml_proto.cc). Thread-safe (stateless).
#ifndef FEDLOG_COMMON_CONFIG_FINITE_NUMBERS_H_
#define FEDLOG_COMMON_CONFIG_FINITE_NUMBERS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace fedlog::config {

// OK when every float and double field set in `message` (recursively) is finite; otherwise InvalidArgument
// naming the first offending field as `what`.path (e.g. "run plan: training.fedprox_mu must be a finite number,
// got nan").
absl::Status CheckFiniteNumbers(const google::protobuf::Message& message, absl::string_view what);

}  // namespace fedlog::config

#endif  // FEDLOG_COMMON_CONFIG_FINITE_NUMBERS_H_
