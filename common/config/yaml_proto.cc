#include "common/config/yaml_proto.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/base/suggest.h"
#include "common/base/status_macros.h"

namespace fedlog::config {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

absl::Status TypeError(const std::string& path, absl::string_view expected, const YAML::Node& node) {
  std::string got = node.IsScalar() ? absl::StrCat("'", node.Scalar(), "'") : (node.IsMap() ? "a map" : "a list");
  return absl::InvalidArgumentError(absl::StrCat(path, ": expected ", expected, ", got ", got));
}

absl::Status SetMessage(const YAML::Node& node, Message* msg, const std::string& path);

absl::StatusOr<int64_t> ParseInt(const YAML::Node& node, const std::string& path, int64_t lo, int64_t hi) {
  int64_t v;
  if (!node.IsScalar() || !absl::SimpleAtoi(node.Scalar(), &v)) return TypeError(path, "an integer", node);
  if (v < lo || v > hi) return absl::InvalidArgumentError(absl::StrCat(path, ": ", v, " is out of range"));
  return v;
}

absl::Status SetScalar(const YAML::Node& node, Message* msg, const FieldDescriptor* f, const std::string& path) {
  const Reflection* r = msg->GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      if (!node.IsScalar()) return TypeError(path, "a string", node);
      rep ? r->AddString(msg, f, node.Scalar()) : r->SetString(msg, f, node.Scalar());
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      FEDLOG_ASSIGN_OR_RETURN(int64_t v, ParseInt(node, path, std::numeric_limits<int32_t>::min(),
                                                  std::numeric_limits<int32_t>::max()));
      rep ? r->AddInt32(msg, f, static_cast<int32_t>(v)) : r->SetInt32(msg, f, static_cast<int32_t>(v));
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      FEDLOG_ASSIGN_OR_RETURN(int64_t v, ParseInt(node, path, std::numeric_limits<int64_t>::min(),
                                                  std::numeric_limits<int64_t>::max()));
      rep ? r->AddInt64(msg, f, v) : r->SetInt64(msg, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v;
      if (!node.IsScalar() || !absl::SimpleAtoi(node.Scalar(), &v)) {
        return TypeError(path, "a non-negative integer", node);
      }
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32) {
        if (v > std::numeric_limits<uint32_t>::max()) {
          return absl::InvalidArgumentError(absl::StrCat(path, ": ", v, " is out of range"));
        }
        rep ? r->AddUInt32(msg, f, static_cast<uint32_t>(v)) : r->SetUInt32(msg, f, static_cast<uint32_t>(v));
      } else {
        rep ? r->AddUInt64(msg, f, v) : r->SetUInt64(msg, f, v);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_FLOAT:
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      double v;
      // SimpleAtod accepts nan and inf, which pass range checks written as `x < lo || x > hi`.
      if (!node.IsScalar() || !absl::SimpleAtod(node.Scalar(), &v) || !std::isfinite(v)) {
        return TypeError(path, "a finite number", node);
      }
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
        rep ? r->AddFloat(msg, f, static_cast<float>(v)) : r->SetFloat(msg, f, static_cast<float>(v));
      } else {
        rep ? r->AddDouble(msg, f, v) : r->SetDouble(msg, f, v);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      std::string s = node.IsScalar() ? absl::AsciiStrToLower(node.Scalar()) : "";
      bool v;
      if (s == "true" || s == "yes" || s == "on") {
        v = true;
      } else if (s == "false" || s == "no" || s == "off") {
        v = false;
      } else {
        return TypeError(path, "true or false", node);
      }
      rep ? r->AddBool(msg, f, v) : r->SetBool(msg, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      if (!node.IsScalar()) return TypeError(path, "an enum name", node);
      const auto* value = f->enum_type()->FindValueByName(node.Scalar());
      if (value == nullptr) return TypeError(path, absl::StrCat("a value of ", f->enum_type()->name()), node);
      rep ? r->AddEnum(msg, f, value) : r->SetEnum(msg, f, value);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      Message* sub = rep ? r->AddMessage(msg, f) : r->MutableMessage(msg, f);
      return SetMessage(node, sub, path);
    }
  }
  return absl::InternalError(absl::StrCat(path, ": unsupported field type"));
}

absl::Status SetField(const YAML::Node& node, Message* msg, const FieldDescriptor* f, const std::string& path) {
  if (f->is_map()) return absl::UnimplementedError(absl::StrCat(path, ": map fields are not configurable"));
  if (!f->is_repeated()) return SetScalar(node, msg, f, path);
  if (!node.IsSequence()) return TypeError(path, "a list", node);
  for (size_t i = 0; i < node.size(); ++i) {
    FEDLOG_RETURN_IF_ERROR(SetScalar(node[i], msg, f, absl::StrCat(path, "[", i, "]")));
  }
  return absl::OkStatus();
}

absl::Status SetMessage(const YAML::Node& node, Message* msg, const std::string& path) {
  if (node.IsNull()) return absl::OkStatus();
  if (!node.IsMap()) return TypeError(path.empty() ? "config" : path, "a map", node);
  const auto* desc = msg->GetDescriptor();
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    std::string sub = path.empty() ? key : absl::StrCat(path, ".", key);
    const FieldDescriptor* f = desc->FindFieldByName(key);
    if (f == nullptr) f = desc->FindFieldByCamelcaseName(key);
    if (f == nullptr) {
      std::vector<std::string> known;
      for (int i = 0; i < desc->field_count(); ++i) known.push_back(desc->field(i)->name());
      return absl::InvalidArgumentError(absl::StrCat(sub, ": unknown key", DidYouMean(key, known)));
    }
    if (kv.second.IsNull()) continue;
    FEDLOG_RETURN_IF_ERROR(SetField(kv.second, msg, f, sub));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseYamlToMessage(const std::string& yaml_text, Message* message) {
  message->Clear();
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("invalid YAML: ", e.what()));
  }
  try {
    return SetMessage(root, message, "");
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("invalid YAML: ", e.what()));
  }
}

absl::Status LoadYamlFile(const std::string& path, Message* message) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return Annotate(ParseYamlToMessage(*text, message), path);
}

std::string ResolveRelative(const std::string& config_path, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  std::filesystem::path base = std::filesystem::path(config_path).parent_path();
  return (base / path).lexically_normal().string();
}

}  // namespace fedlog::config
