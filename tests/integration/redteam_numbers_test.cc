// Every number a site sends, at the values an attacker tries first (0, -1, the type's extremes, NaN, +-Inf), over
// real mTLS (docs/SECURITY.md, "What is enforced where"): each invalid value is refused with a clear status before it
// is used or stored, and counted when it is an upload's; nothing of it reaches the round, and the site that sent
// them still takes part. Valid extremes that are clamped where they are used are not listed here (the strategy
// clamps distinct_templates and imbalance_ratio; the server caps wait_ms and chunk_bytes).
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/federation_session.h"
#include "gtest/gtest.h"
#include "tests/integration/hand_site.h"
#include "tests/integration/test_env.h"

namespace fedlog {
namespace {

using Site = testing::HandSite;

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();
constexpr int32_t kI32Max = std::numeric_limits<int32_t>::max();

class RedteamNumbersTest : public testing::HandAggregatorTest {
 protected:
  void SetUp() override { SetUpAggregator("fedlog_redteam_numbers", {"site-a", "mallory"}); }
  int port() { return server_->port(); }
};

struct HeaderCase {
  std::string what;
  std::function<void(v1::UpdateHeader*)> edit;
  absl::StatusCode code;
  bool this_run = true;  // false: the header names another run, whose record (none) the refusal goes to
};

std::vector<HeaderCase> HeaderCases() {
  using H = v1::UpdateHeader;
  const auto bad = absl::StatusCode::kInvalidArgument, closed = absl::StatusCode::kFailedPrecondition;
  std::vector<HeaderCase> cases = {
      {"run_id 0", [](H* h) { h->set_run_id(0); }, closed, false},
      {"run_id -1", [](H* h) { h->set_run_id(-1); }, closed, false},
      {"run_id max", [](H* h) { h->set_run_id(kI64Max); }, closed, false},
      {"round -1", [](H* h) { h->set_round(-1); }, closed},
      {"round max", [](H* h) { h->set_round(kI32Max); }, closed},
      {"base_version -1", [](H* h) { h->set_base_version(-1); }, closed},
      {"base_version max", [](H* h) { h->set_base_version(kI64Max); }, closed},
      {"num_samples 0", [](H* h) { h->set_num_samples(0); }, bad},
      {"num_samples -1", [](H* h) { h->set_num_samples(-1); }, bad},
      {"num_samples min", [](H* h) { h->set_num_samples(kI64Min); }, bad},
      {"num_samples max", [](H* h) { h->set_num_samples(kI64Max); }, bad},
      {"distinct_templates -1", [](H* h) { h->set_distinct_templates(-1); }, bad},
      {"distinct_templates min", [](H* h) { h->set_distinct_templates(kI64Min); }, bad},
      {"class_sum_noise_shares -1", [](H* h) { h->set_class_sum_noise_shares(-1); }, bad},
      {"class_sum_noise_shares max", [](H* h) { h->set_class_sum_noise_shares(kI32Max); }, bad},
  };
  // Every double field of the header at each non-finite value, and at -1 where it must not be negative.
  const std::vector<std::pair<std::string, std::function<void(H*, double)>>> doubles = {
      {"train_loss", [](H* h, double v) { h->set_train_loss(v); }},
      {"imbalance_ratio", [](H* h, double v) { h->set_imbalance_ratio(v); }},
      {"dp_epsilon", [](H* h, double v) { h->set_dp_epsilon(v); }},
      {"line_dp_epsilon", [](H* h, double v) { h->set_line_dp_epsilon(v); }},
      {"line_dp_count_noise", [](H* h, double v) { h->set_line_dp_count_noise(v); }},
      {"metrics", [](H* h, double v) { (*h->mutable_metrics())["val_f1"] = v; }},
  };
  for (const auto& [name, set] : doubles) {
    for (double v : {kNan, kInf, -kInf}) {
      cases.push_back({absl::StrCat(name, " ", v), [set = set, v](H* h) { set(h, v); }, bad});
    }
    if (name != "train_loss" && name != "metrics") {
      cases.push_back({absl::StrCat(name, " -1"), [set = set](H* h) { set(h, -1); }, bad});
    }
  }
  cases.push_back({"line_dp_count_noise 1e300", [](H* h) { h->set_line_dp_count_noise(1e300); }, bad});
  cases.push_back({"dp_epsilon 1e300", [](H* h) { h->set_dp_epsilon(1e300); }, bad});
  return cases;
}

TEST_F(RedteamNumbersTest, EveryNumberASiteSendsIsValidatedAndTheSiteStillTakesPart) {
  Site a(pki_, "site-a", port()), m(pki_, "mallory", port());
  // Hello: counts and versions out of range are refused, and nothing of them is stored.
  const std::vector<std::pair<std::string, std::function<void(v1::HelloRequest*)>>> hellos = {
      {"lines -1", [](v1::HelloRequest* h) { h->mutable_sources(0)->set_lines(-1); }},
      {"lines max", [](v1::HelloRequest* h) { h->mutable_sources(0)->set_lines(kI64Max); }},
      {"threads -1", [](v1::HelloRequest* h) { h->mutable_capabilities()->set_threads(-1); }},
      {"threads max", [](v1::HelloRequest* h) { h->mutable_capabilities()->set_threads(kI32Max); }},
      {"promoted_version -1", [](v1::HelloRequest* h) { h->set_promoted_version(-1); }},
      {"promoted_version min", [](v1::HelloRequest* h) { h->set_promoted_version(kI64Min); }},
  };
  for (const auto& [what, edit] : hellos) {
    v1::HelloRequest h;
    h.add_sources()->set_name("HDFS");
    edit(&h);
    EXPECT_EQ(m.session.Hello(h).status().code(), absl::StatusCode::kInvalidArgument) << what;
  }

  v1::RunPlan plan;
  plan.set_rounds(1);
  plan.set_min_sites(2);
  plan.set_round_deadline_s(60);
  const v1::RunStatus run = Start(plan);
  v1::RoundTask ta = a.WaitTask(), tm = m.WaitTask();
  auto base = a.session.Download(ta.model_version());
  ASSERT_TRUE(base.ok()) << base.status();
  const fl::TensorBundle delta = testing::Filled(base->bundle, 0.001f);

  int refused = 0;
  for (const HeaderCase& c : HeaderCases()) {
    v1::UpdateHeader h = Site::Header(tm);
    c.edit(&h);
    absl::Status st = m.Upload(h, delta);
    EXPECT_EQ(st.code(), c.code) << c.what << ": " << st;
    if (c.this_run) ++refused;
  }
  // Evaluations and declines with numbers out of range or naming no open round.
  v1::EvaluationReport eval;
  eval.set_run_id(tm.run_id());
  eval.set_round(tm.round());
  eval.set_model_version(tm.model_version());
  for (int64_t n : {int64_t{-1}, kI64Min, kI64Max}) {
    eval.set_num_samples(n);
    EXPECT_EQ(m.session.ReportEvaluation(eval).code(), absl::StatusCode::kInvalidArgument) << n;
  }
  eval.set_num_samples(10);
  for (int64_t v : {int64_t{-1}, kI64Max}) {
    eval.set_model_version(v);
    EXPECT_EQ(m.session.ReportEvaluation(eval).code(), absl::StatusCode::kFailedPrecondition) << v;
  }
  EXPECT_EQ(m.session.DeclineRound(tm.run_id(), -1, "x").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(m.session.DeclineRound(-1, tm.round(), "x").code(), absl::StatusCode::kFailedPrecondition);
  // Downloads of versions that do not exist.
  for (int64_t v : {int64_t{-1}, kI64Min, kI64Max}) {
    EXPECT_EQ(m.session.Download(v).status().code(), absl::StatusCode::kNotFound) << v;
  }

  // None of it marked mallory: both updates are taken and the round is their mean.
  ASSERT_TRUE(a.Upload(ta, testing::Filled(base->bundle, 0.001f)).ok());
  ASSERT_TRUE(m.Upload(tm, testing::Filled(base->bundle, 0.003f)).ok());
  v1::RunStatus done = WaitDone(run.run_id());
  ASSERT_EQ(done.rounds_size(), 1);
  EXPECT_EQ(done.rounds(0).sites(), 2);
  EXPECT_EQ(done.refused_updates(), refused);
  EXPECT_TRUE(std::isfinite(done.rounds(0).mean_train_loss()));
  auto next = a.session.Download(done.rounds(0).model_version());
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_NEAR(next->bundle.tensors[0].values[0] - base->bundle.tensors[0].values[0], 0.002f, 1e-6);
}

}  // namespace
}  // namespace fedlog
