#include "tests/integration/hand_site.h"

#include <algorithm>
#include <filesystem>
#include <thread>

#include "common/base/file_util.h"
#include "common/fl/bundle_codec.h"
#include "gtest/gtest.h"
#include "tests/integration/test_env.h"

namespace fedlog::testing {

void HandAggregatorTest::SetUpAggregator(const std::string& prefix, const std::vector<std::string>& sites) {
  dir_ = MakeTempDir(prefix);
  pki_ = JoinPath(dir_, "pki");
  ASSERT_TRUE(MakePki(pki_, sites));
  auto s = server::AggregatorServer::Start(ServerConfigFor(pki_, JoinPath(dir_, "agg")));
  ASSERT_TRUE(s.ok()) << s.status();
  server_ = std::move(*s);
}

void HandAggregatorTest::TearDown() {
  if (server_) server_->Shutdown();
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

v1::RunStatus HandAggregatorTest::Start(const v1::RunPlan& plan) {
  v1::StartRunRequest req;
  *req.mutable_plan() = plan;
  v1::RunStatus resp;
  grpc::ClientContext ctx;
  grpc::Status st = AdminStub(pki_, server_->port())->StartRun(&ctx, req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return resp;
}

v1::RunStatus HandAggregatorTest::WaitRun(int64_t run_id, const std::function<bool(const v1::RunStatus&)>& ready) {
  return testing::WaitRun(AdminStub(pki_, server_->port()).get(), run_id, ready);
}

v1::RunStatus HandAggregatorTest::WaitDone(int64_t run_id) {
  return WaitRun(run_id, [](const v1::RunStatus& s) { return s.state() == "done"; });
}

std::vector<v1::RoundTask> WaitRoundTasks(const std::vector<HandSite*>& sites) {
  std::vector<v1::RoundTask> tasks(sites.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < sites.size(); ++i) {
    threads.emplace_back([&, i] { tasks[i] = WaitRoundTask(&sites[i]->session); });
  }
  for (auto& t : threads) t.join();
  return tasks;
}

fl::TensorBundle Filled(const fl::TensorBundle& like, float v) {
  fl::TensorBundle b = like;
  for (auto& t : b.tensors) std::fill(t.values.begin(), t.values.end(), v);
  return b;
}

client::SecAggClientOptions HandSite::SecAggOptions() const {
  client::SecAggClientOptions o;
  o.site_id = id;
  o.key_file = key_file;
  o.ca_file = ca_file;
  o.poll_wait_ms = 500;
  return o;
}

HandSite::HandSite(const std::string& pki, const std::string& name, int port,
                   const std::vector<std::string>& sources, int64_t declared_lines)
    : key_file(JoinPath(pki, name + ".key")), ca_file(JoinPath(pki, "ca.crt")), session(SiteChannel(pki, name, port)) {
  v1::HelloRequest hello;
  for (const std::string& source : sources) {
    v1::SourceInfo* info = hello.add_sources();
    info->set_name(source);
    info->set_lines(declared_lines);
  }
  absl::StatusOr<v1::HelloResponse> r = session.Hello(hello);
  EXPECT_TRUE(r.ok()) << r.status();
  if (r.ok()) id = r->site_id();
}

v1::UpdateHeader HandSite::Header(const v1::RoundTask& task, int64_t samples) {
  v1::UpdateHeader h;
  h.set_run_id(task.run_id());
  h.set_round(task.round());
  h.set_base_version(task.model_version());
  h.set_num_samples(samples);
  h.set_train_loss(1.0);
  return h;
}

v1::RoundTask HandSite::WaitTask() { return WaitRoundTask(&session); }

absl::Status HandSite::Upload(const v1::UpdateHeader& header, const fl::TensorBundle& delta) {
  absl::StatusOr<std::string> bytes = fl::EncodeBundle(delta);
  if (!bytes.ok()) return bytes.status();
  return session.Upload(header, *bytes);
}

absl::Status SecAggRelay::UploadMasked(const v1::UpdateHeader& h, const std::string& bytes) {
  sent = bytes;
  if (drop_after_masking) return absl::UnavailableError("site dropped (test)");
  return inner_->UploadMasked(h, bytes);
}

absl::StatusOr<v1::SecAggPollResponse> SecAggRelay::Poll(const v1::SecAggPollRequest& r) {
  absl::StatusOr<v1::SecAggPollResponse> resp = inner_->Poll(r);
  if (forge_unmask && resp.ok() && resp->has_unmask() && resp->unmask().survivors_size() > 1) {
    resp->mutable_unmask()->add_dropped(resp->unmask().survivors(1));  // both shares of one site
  }
  return resp;
}

}  // namespace fedlog::testing
