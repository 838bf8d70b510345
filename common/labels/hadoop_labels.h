// Application-level ground truth of loghub's Hadoop set. abnormal_label.txt lists applications per
// workload
// ("### WordCount") under fault headings ("Normal:", "Machine down:", "Network disconnection:",
// "Disk full:"), one "+ application_<cluster ts>_<seq>" per line; free text before the first "###"
// is ignored. Container logs are grouped to applications by their file name
// (container_[e<epoch>_]<ts>_<seq>_<attempt>_<n>) or, failing that, by an application_<ts>_<seq>
// directory in their path. Thread-safety: pure functions.
#ifndef FEDLOG_COMMON_LABELS_HADOOP_LABELS_H_
#define FEDLOG_COMMON_LABELS_HADOOP_LABELS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/labels/label.h"

namespace fedlog::labels {

enum class HadoopFault { kNormal, kMachineDown, kNetworkDisconnection, kDiskFull };

// "normal", "machine_down", "network_disconnection", "disk_full".
absl::string_view HadoopFaultName(HadoopFault fault);

struct HadoopAppLabel {
  std::string application_id;  // "application_1445087491445_0005"
  std::string workload;        // the "###" heading, e.g. "WordCount"
  HadoopFault fault = HadoopFault::kNormal;
  int64_t line = 0;
  bool anomalous() const { return fault != HadoopFault::kNormal; }
};

// Applications in file order. InvalidArgument (with the line) for an unknown heading, an entry
// before any workload or fault heading, a malformed application id, a duplicate, or any other line
// after the first "###".
absl::StatusOr<std::vector<HadoopAppLabel>> ParseHadoopAppLabels(absl::string_view text);
absl::StatusOr<std::vector<HadoopAppLabel>> ReadHadoopAppLabels(const std::string& path);

// "…/application_1445062781478_0011/container_1445062781478_0011_01_000001.log" ->
// "application_1445062781478_0011". InvalidArgument when neither the file name nor a directory
// names one.
absl::StatusOr<std::string> ApplicationIdFromContainerPath(absl::string_view path);

Label ToLabel(const HadoopAppLabel& app);  // anomaly type = HadoopFaultName(fault)

}  // namespace fedlog::labels

#endif  // FEDLOG_COMMON_LABELS_HADOOP_LABELS_H_
