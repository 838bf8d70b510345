// Maps operator-written YAML onto protobuf messages (the config.proto schema) by field name, so one schema
// validates YAML and JSON configs alike. Unknown keys, wrong types and out-of-range numbers are errors that
// name the offending path ("sources[1].max_lines: expected an integer, got 'ten'"). Thread-safe (stateless).
#ifndef FEDLOG_COMMON_CONFIG_YAML_PROTO_H_
#define FEDLOG_COMMON_CONFIG_YAML_PROTO_H_

#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace fedlog::config {

// Parses `yaml_text` (YAML 1.2, which includes JSON) into `message`, which is cleared first.
absl::Status ParseYamlToMessage(const std::string& yaml_text, google::protobuf::Message* message);

// Reads `path` and parses it; errors are prefixed with the path.
absl::Status LoadYamlFile(const std::string& path, google::protobuf::Message* message);

// Resolves a relative `path` against the directory of the config file `config_path`.
std::string ResolveRelative(const std::string& config_path, const std::string& path);

}  // namespace fedlog::config

#endif  // FEDLOG_COMMON_CONFIG_YAML_PROTO_H_
