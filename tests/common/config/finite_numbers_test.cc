// No NaN or infinity gets into a config or a peer's message: every float and double field of ClientConfig and
// ServerConfig, reached by reflection through their nested messages, is refused as nan / inf / -inf in YAML with
// its path named (yaml_proto.cc); CheckFiniteNumbers (finite_numbers.h) finds a non-finite number anywhere in a
// run plan or an update header, maps and repeated fields included.
#include "common/config/finite_numbers.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/config/yaml_proto.h"
#include "fedlog/v1/admin.pb.h"
#include "fedlog/v1/config.pb.h"
#include "fedlog/v1/federation.pb.h"
#include "gtest/gtest.h"

namespace fedlog::config {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

struct NumberField {
  std::string path;  // as errors name it: "detect.threshold", "sources[0].x"
  std::string yaml;  // a document that sets it to VALUE
};

// Every float/double field under `d` (depth-bounded: config messages do not recurse), with a YAML document that
// sets it to the marker VALUE through its enclosing messages (a repeated message as a one-element list).
void Collect(const Descriptor* d, const std::string& path, const std::string& open, const std::string& close,
             int depth, std::vector<NumberField>* out) {
  if (depth > 6) return;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_map()) continue;  // not configurable (yaml_proto.cc refuses maps)
    const std::string name = path.empty() ? f->name() : absl::StrCat(path, ".", f->name());
    const bool number =
        f->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE || f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT;
    if (number) {
      out->push_back({f->is_repeated() ? absl::StrCat(name, "[0]") : name,
                      absl::StrCat(open, f->name(), f->is_repeated() ? ": [VALUE]" : ": VALUE", close)});
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      Collect(f->message_type(), f->is_repeated() ? absl::StrCat(name, "[0]") : name,
              absl::StrCat(open, f->name(), f->is_repeated() ? ": [{" : ": {"), absl::StrCat(f->is_repeated() ? "}]" : "}", close),
              depth + 1, out);
    }
  }
}

template <typename Config>
void ExpectEveryNumberFieldRefusesNonFinite(size_t at_least) {
  std::vector<NumberField> fields;
  Collect(Config::descriptor(), "", "", "", 0, &fields);
  ASSERT_GE(fields.size(), at_least) << Config::descriptor()->name();
  for (const NumberField& field : fields) {
    for (const char* bad : {"nan", "inf", "-inf"}) {
      std::string yaml = field.yaml;
      yaml.replace(yaml.find("VALUE"), 5, bad);
      Config c;
      const absl::Status st = ParseYamlToMessage(yaml, &c);
      ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << yaml;
      EXPECT_NE(st.message().find(absl::StrCat(field.path, ": expected a finite number")), std::string::npos)
          << yaml << " -> " << st;
    }
    std::string yaml = field.yaml;
    yaml.replace(yaml.find("VALUE"), 5, "0.5");
    Config c;
    EXPECT_TRUE(ParseYamlToMessage(yaml, &c).ok()) << yaml;  // the document itself is well formed
  }
}

TEST(FiniteNumbersTest, EveryClientConfigNumberRefusesNanAndInfinity) {
  ExpectEveryNumberFieldRefusesNonFinite<v1::ClientConfig>(20);  // detect alone has dozens
}

TEST(FiniteNumbersTest, EveryServerConfigNumberRefusesNanAndInfinity) {
  ExpectEveryNumberFieldRefusesNonFinite<v1::ServerConfig>(1);
}

TEST(FiniteNumbersTest, FindsANonFiniteNumberAnywhereInAMessage) {
  v1::RunPlan plan;
  plan.set_rounds(3);
  plan.set_sample_fraction(0.5);
  plan.mutable_training()->set_fedprox_mu(0.01f);
  EXPECT_TRUE(CheckFiniteNumbers(plan, "run plan").ok());
  plan.mutable_training()->set_fedprox_mu(std::numeric_limits<float>::quiet_NaN());
  absl::Status st = CheckFiniteNumbers(plan, "run plan");
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("run plan: training.fedprox_mu must be a finite number"), std::string::npos) << st;
  plan.mutable_training()->set_fedprox_mu(0.01f);
  plan.set_trim_fraction(-std::numeric_limits<double>::infinity());
  EXPECT_NE(CheckFiniteNumbers(plan, "run plan").message().find("trim_fraction"), std::string::npos);

  v1::UpdateHeader h;
  h.set_train_loss(1.5);
  (*h.mutable_metrics())["f1"] = 0.9;
  EXPECT_TRUE(CheckFiniteNumbers(h, "update header").ok());
  (*h.mutable_metrics())["auroc"] = std::numeric_limits<double>::infinity();
  st = CheckFiniteNumbers(h, "update header");
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("update header: metrics["), std::string::npos) << st;
}

}  // namespace
}  // namespace fedlog::config
