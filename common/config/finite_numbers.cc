#include "common/config/finite_numbers.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace fedlog::config {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

absl::Status NotFinite(absl::string_view what, const std::string& path, double v) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", path, " must be a finite number, got ", v));
}

absl::Status Check(const Message& m, absl::string_view what, const std::string& prefix, int depth) {
  if (depth > 64) return absl::InvalidArgumentError(absl::StrCat(what, ": nested too deeply"));
  const Reflection* r = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);  // set fields only
  for (const FieldDescriptor* f : fields) {
    const std::string path = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
    for (int i = 0; i < n; ++i) {
      const std::string at = f->is_repeated() ? absl::StrCat(path, "[", i, "]") : path;
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_DOUBLE: {
          const double v = f->is_repeated() ? r->GetRepeatedDouble(m, f, i) : r->GetDouble(m, f);
          if (!std::isfinite(v)) return NotFinite(what, at, v);
          break;
        }
        case FieldDescriptor::CPPTYPE_FLOAT: {
          const float v = f->is_repeated() ? r->GetRepeatedFloat(m, f, i) : r->GetFloat(m, f);
          if (!std::isfinite(v)) return NotFinite(what, at, v);
          break;
        }
        case FieldDescriptor::CPPTYPE_MESSAGE: {
          const Message& sub = f->is_repeated() ? r->GetRepeatedMessage(m, f, i) : r->GetMessage(m, f);
          if (absl::Status st = Check(sub, what, at, depth + 1); !st.ok()) return st;
          break;
        }
        default:
          break;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckFiniteNumbers(const Message& message, absl::string_view what) {
  return Check(message, what, "", 0);
}

}  // namespace fedlog::config
