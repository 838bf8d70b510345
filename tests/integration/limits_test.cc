// One bad site must not starve or outlast the others (issue 16, findings 3, 4 and 7): stalled downloads and
// uploads hold at most their site's share and end when idle or when the site is revoked; chunk sizes are
// bounded. Uploads and disk: limits_upload_test.cc; the fixture: limits_env.h. Real mTLS on loopback.
#include "tests/integration/limits_env.h"

namespace fedlog::testing {
namespace {

// Finding 3: a site that opens downloads and stops reading holds at most its own share of the download slots;
// with it holding stalled downloads and uploads, an honest site's round takes at most twice its normal time.
TEST_F(LimitsTest, StalledStreamsOfOneSiteDoNotSlowAnHonestRound) {
  BigModel();
  config_.set_site_timeout_ms(1000);  // the bad site drops out of the rounds it does not poll for
  StartServer();
  RawSite honest(pki_, "site-a", port());
  std::vector<double> normal;
  for (int i = 0; i < 3; ++i) normal.push_back(HonestRound(&honest));

  // Four downloads that are never read (as many as the aggregator sends at once) and uploads that send nothing.
  auto bad = v1::Federation::NewStub(StallingChannel(pki_, "bad", port()));
  std::vector<std::unique_ptr<grpc::ClientContext>> ctxs;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::ModelChunk>>> downloads;
  for (int i = 0; i < 4; ++i) {
    ctxs.push_back(std::make_unique<grpc::ClientContext>());
    Deadline(ctxs.back().get(), 60000);
    v1::DownloadRequest req;
    downloads.push_back(bad->DownloadModel(ctxs.back().get(), req));
  }
  std::vector<std::unique_ptr<OpenUpload>> uploads;
  for (int i = 0; i < 3; ++i) uploads.push_back(std::make_unique<OpenUpload>(bad.get(), 60000));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // writes back up; the bad site goes offline

  std::vector<double> attacked;
  for (int i = 0; i < 3; ++i) attacked.push_back(HonestRound(&honest));
  const double base = Median(normal), slow = Median(attacked);
  std::printf("honest round: %.3f s normally, %.3f s with a site holding stalled streams\n", base, slow);
  EXPECT_LE(slow, 2 * base) << "normal rounds " << normal[0] << ", " << normal[1] << ", " << normal[2];

  // Beyond its share the bad site was refused at once.
  int refused = 0;
  for (size_t i = 0; i < downloads.size(); ++i) {
    v1::ModelChunk c;
    if (downloads[i]->Read(&c)) ctxs[i]->TryCancel();  // a stalled one: it still had data to send
    grpc::Status st = downloads[i]->Finish();
    refused += st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ? 1 : 0;
  }
  EXPECT_EQ(refused, 2);
  for (auto& u : uploads) u->ctx.TryCancel();
  for (auto& u : uploads) u->writer->Finish().IgnoreError();
}

// Finding 3: chunk sizes below the minimum are raised for downloads and refused for uploads.
TEST_F(LimitsTest, TinyChunksAreRaisedOrRefused) {
  SetLimit(&config_, "min_chunk_bytes", 1024);
  StartServer();
  RawSite a(pki_, "site-a", port());
  v1::RunStatus run = StartRun(1);
  v1::RoundTask task = a.WaitTask();
  Download d = DownloadWithin(a.stub.get(), task.model_version(), 10000, /*chunk_bytes=*/1);
  ASSERT_TRUE(d.status.ok()) << d.status.error_message();
  ASSERT_GT(d.bytes.size(), 2048u);
  int small = 0;
  for (size_t i = 0; i + 1 < d.chunk_sizes.size(); ++i) small += d.chunk_sizes[i] < 1024 ? 1 : 0;
  EXPECT_EQ(small, 0) << "of " << d.chunk_sizes.size() << " chunks";

  auto model = fl::DecodeBundle(d.bytes);
  ASSERT_TRUE(model.ok());
  const std::string bytes = *fl::EncodeBundle(Filled(*model, 0.0f));
  OpenUpload up(a.stub.get());
  ASSERT_TRUE(up.Header(SizedHeader(task, bytes)));
  for (size_t i = 0; i < 64 && up.Data(bytes.substr(i, 1)); ++i) {
  }
  grpc::Status st = up.Close();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_NE(st.error_message().find("below the minimum"), std::string::npos) << st.error_message();
  ASSERT_TRUE(a.Upload(task, Filled(*model, 0.0f)).ok());  // normal chunks still go through
  EXPECT_EQ(WaitDone(run.run_id()).state(), "done");
}

// Finding 4: revoking a site ends its live streams at once and frees their slots: a stalled download of it
// stops sending, its upload in flight is not accepted, and a download that waited for its slots proceeds.
TEST_F(LimitsTest, RevocationEndsLiveStreamsAndFreesTheirSlots) {
  BigModel();
  config_.set_max_concurrent_downloads(2);
  StartServer();
  RawSite honest(pki_, "site-a", port());
  auto bad = v1::Federation::NewStub(StallingChannel(pki_, "bad", port()));
  RawSite bad_site(pki_, "bad", port());
  ASSERT_TRUE(honest.session.GetTask(0).ok());
  v1::RunStatus run = StartRun(1);
  v1::RoundTask ta = honest.WaitTask(), tb = bad_site.WaitTask();
  Download base = DownloadWithin(honest.stub.get(), ta.model_version(), 20000);
  ASSERT_TRUE(base.status.ok());
  auto model = fl::DecodeBundle(base.bytes);
  ASSERT_TRUE(model.ok());

  // The bad site: two downloads that read the manifest and stop (every send slot), and half an upload of a
  // poisoned update.
  grpc::ClientContext d1, d2;
  Deadline(&d1, 30000);
  Deadline(&d2, 30000);
  auto r1 = bad->DownloadModel(&d1, {}), r2 = bad->DownloadModel(&d2, {});
  v1::ModelChunk chunk;
  ASSERT_TRUE(r1->Read(&chunk) && r2->Read(&chunk));
  const std::string poison = *fl::EncodeBundle(Filled(*model, 100.0f));
  OpenUpload up(bad.get());
  ASSERT_TRUE(up.Header(SizedHeader(tb, poison)));
  ASSERT_TRUE(up.Data(poison.substr(0, poison.size() / 2)));

  // An honest download now waits for a slot.
  Clock::time_point done_at;
  Download waited;
  std::thread t([&] {
    waited = DownloadWithin(honest.stub.get(), ta.model_version(), 8000);
    done_at = Clock::now();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  const Clock::time_point revoked_at = Clock::now();
  Revoke("bad");
  t.join();
  EXPECT_TRUE(waited.status.ok()) << waited.status.error_message();
  EXPECT_LT(std::chrono::duration<double>(done_at - revoked_at).count(), 1.5);

  // The revoked site's streams are over: reading on gets no more of the model, the rest of its upload is not
  // accepted.
  std::string rest;
  while (r1->Read(&chunk)) rest += chunk.data();
  EXPECT_FALSE(r1->Finish().ok());
  EXPECT_LT(rest.size(), base.bytes.size());
  d2.TryCancel();
  r2->Finish().IgnoreError();
  up.Data(poison.substr(poison.size() / 2));
  grpc::Status st = up.Close();
  EXPECT_FALSE(st.ok() && up.resp.accepted());

  ASSERT_TRUE(honest.Upload(ta, Filled(*model, 0.001f)).ok());
  ASSERT_EQ(WaitDone(run.run_id(), 1000).state(), "done");
  Download next = DownloadWithin(honest.stub.get(), 0, 20000);
  ASSERT_TRUE(next.status.ok());
  auto next_model = fl::DecodeBundle(next.bytes);
  ASSERT_TRUE(next_model.ok());
  EXPECT_NEAR(next_model->tensors[0].values[0], model->tensors[0].values[0] + 0.001f, 1e-5);
}

// Finding 5 (and the path half of 9): with two uploads of one site in flight (the per-site cap raised to two

}  // namespace
}  // namespace fedlog::testing
