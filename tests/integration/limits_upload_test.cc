// One bad site must not overwrite or outgrow the others (issue 16, findings 5-6 and the path half of 9):
// concurrent uploads of one site never replace an accepted update; uploads are capped per site, end when idle
// and at their round's deadline; spool and download-variant disk use stay bounded; no file is named after a
// site. Downloads and stalls: limits_test.cc; the fixture: limits_env.h. Real mTLS on loopback.
#include "tests/integration/limits_env.h"

namespace fedlog::testing {
namespace {

// to reach the storage race), the refused one never touches the accepted one, and no file is named after a site.
TEST_F(LimitsTest, ARefusedConcurrentUploadNeverReplacesTheAcceptedOne) {
  SetLimit(&config_, "max_uploads_per_site", 2);
  StartServer();
  RawSite a(pki_, "site-a", port()), b(pki_, "site-b", port());
  v1::RunStatus run = StartRun(2);
  v1::RoundTask ta = a.WaitTask(), tb = b.WaitTask();
  auto model = a.session.Download(ta.model_version());
  ASSERT_TRUE(model.ok());

  const std::string poison = *fl::EncodeBundle(Filled(model->bundle, 100.0f));
  OpenUpload held(a.stub.get());
  ASSERT_TRUE(held.Header(SizedHeader(ta, poison)));
  ASSERT_TRUE(held.Data(poison));  // every byte sent; the stream is not closed yet
  const std::string incoming = JoinPath(JoinPath(dir_, "agg"), "updates/incoming");
  bool spooling = false;
  for (int i = 0; i < 200 && !spooling; ++i) {
    std::error_code ec;
    spooling = !std::filesystem::is_empty(incoming, ec);
    if (!spooling) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(spooling);
  EXPECT_TRUE(FilesNamed("site-a").empty()) << "a spool file is named after the site: " << FilesNamed("site-a")[0];

  ASSERT_TRUE(a.Upload(ta, Filled(model->bundle, 0.001f)).ok());
  grpc::Status st = held.Close();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::ALREADY_EXISTS) << st.error_message();
  ASSERT_TRUE(b.Upload(tb, Filled(model->bundle, 0.003f)).ok());
  v1::RunStatus done = WaitDone(run.run_id());
  ASSERT_EQ(done.state(), "done");
  EXPECT_EQ(done.rounds(0).sites(), 2);
  auto next = a.session.Download(0);
  ASSERT_TRUE(next.ok());
  EXPECT_NEAR(next->bundle.tensors[0].values[0], model->bundle.tensors[0].values[0] + 0.002f, 1e-6);
  EXPECT_TRUE(FilesNamed("site-").empty()) << "a stored file is named after a site: " << FilesNamed("site-")[0];
  EXPECT_TRUE(FilesNamed(".part").empty());
}

// Finding 6: one upload at a time per site (a second is refused at once, before it costs a thread for long),
// an upload that sends nothing ends after the idle timeout, and the spool quota refuses what does not fit.
TEST_F(LimitsTest, UploadsArePerSiteCappedAndIdleOnesEnd) {
  SetLimit(&config_, "stream_idle_timeout_s", 1);
  StartServer();
  RawSite a(pki_, "site-a", port());
  v1::RunStatus run = StartRun(1);
  v1::RoundTask ta = a.WaitTask();
  auto model = a.session.Download(ta.model_version());
  ASSERT_TRUE(model.ok());
  const std::string bytes = *fl::EncodeBundle(Filled(model->bundle, 0.001f));

  const int threads_before = ThreadCount();
  const Clock::time_point opened = Clock::now();
  auto idle = std::make_unique<OpenUpload>(a.stub.get(), 8000);
  ASSERT_TRUE(idle->Header(SizedHeader(ta, bytes)));
  // The aggregator holds it once it spools it.
  const std::string incoming = JoinPath(JoinPath(dir_, "agg"), "updates/incoming");
  std::error_code ec;
  for (int i = 0; i < 200 && std::filesystem::is_empty(incoming, ec); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(std::filesystem::is_empty(incoming, ec));
  std::vector<std::unique_ptr<OpenUpload>> more;
  for (int i = 0; i < 30; ++i) {
    more.push_back(std::make_unique<OpenUpload>(a.stub.get(), 8000));
    more.back()->Header(SizedHeader(ta, bytes));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int threads_during = ThreadCount();
  int exhausted = 0;
  for (auto& u : more) {
    exhausted += u->writer->Finish().error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ? 1 : 0;
  }
  EXPECT_EQ(exhausted, 30);
  EXPECT_LT(threads_during - threads_before, 15) << "threads: " << threads_before << " -> " << threads_during;

  grpc::Status st = idle->writer->Finish();  // no WritesDone: only the aggregator can end it before 8 s
  const double lasted = SecondsSince(opened);
  EXPECT_FALSE(st.ok());
  EXPECT_LT(lasted, 4.0) << "an idle upload lasted " << lasted << " s";
  idle.reset();

  // The site sees its stream end a moment before the aggregator's handler lets go of the slot: a retry may be
  // refused as busy (the daemon backs off) until then.
  absl::Status st2 = absl::ResourceExhaustedError("not tried");
  for (int i = 0; i < 20 && absl::IsResourceExhausted(st2); ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    st2 = a.Upload(ta, Filled(model->bundle, 0.001f));
  }
  ASSERT_TRUE(st2.ok()) << st2;
  EXPECT_EQ(WaitDone(run.run_id()).state(), "done");
}

TEST_F(LimitsTest, SpoolQuotaRefusesWhatDoesNotFit) {
  SetLimit(&config_, "max_spool_bytes_per_site", 1000);
  StartServer();
  RawSite a(pki_, "site-a", port());
  StartRun(1);
  v1::RoundTask ta = a.WaitTask();
  auto model = a.session.Download(ta.model_version());
  ASSERT_TRUE(model.ok());
  absl::Status st = a.Upload(ta, Filled(model->bundle, 0.001f));
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  EXPECT_TRUE(FilesNamed(".part").empty());
}

// Finding 6: an upload trickling chunks (never idle) is ended at its round's deadline.
TEST_F(LimitsTest, AnUploadNeverOutlivesItsRound) {
  StartServer();
  RawSite a(pki_, "site-a", port());
  StartRun(1, /*deadline_s=*/2);
  v1::RoundTask ta = a.WaitTask();
  const std::string bytes(8 << 20, 'x');
  OpenUpload up(a.stub.get(), 15000);
  ASSERT_TRUE(up.Header(SizedHeader(ta, bytes)));
  const auto deadline = std::chrono::system_clock::time_point(std::chrono::milliseconds(ta.deadline_ms()));
  bool ended = false;
  size_t off = 0;
  while (std::chrono::system_clock::now() < deadline + std::chrono::seconds(3) && off < bytes.size()) {
    if (!up.Data(bytes.substr(off, 1 << 16))) {
      ended = true;
      break;
    }
    off += 1 << 16;
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  const auto stopped = std::chrono::system_clock::now();
  EXPECT_TRUE(ended) << "the upload was still open 3 s after its round's deadline";
  EXPECT_LT(std::chrono::duration<double>(stopped - deadline).count(), 1.5);
  up.ctx.TryCancel();
  up.writer->Finish().IgnoreError();
}

// Finding 7: declaring a new source set per Hello no longer leaves a model-sized file per set: variants are a
// bounded cache whose evicted files are deleted, and every download still matches its manifest.
TEST_F(LimitsTest, DownloadVariantsStayBoundedOnDisk) {
  constexpr int kOut = 8, kAdapter = 4;
  SetLimit(&config_, "max_download_variants", 3);
  ASSERT_TRUE(UseTinyLineEncoder(&config_, kOut, kAdapter));
  StartServer();
  RawSite a(pki_, "site-a", port());
  v1::RunStatus run = StartRun(1);
  v1::RoundTask ta = a.WaitTask();
  auto m = a.session.Download(ta.model_version());
  ASSERT_TRUE(m.ok()) << m.status();
  fl::TensorBundle d = Filled(m->bundle, 0.0f);
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    fl::NamedTensor t{name, std::move(shape), {}};
    t.values.assign(static_cast<size_t>(t.NumElements()), 0.5f);
    d.tensors.push_back(std::move(t));
  };
  add("adapter.HDFS.down.weight", {kAdapter, kOut});
  add("adapter.HDFS.down.bias", {kAdapter});
  add("adapter.HDFS.up.weight", {kOut, kAdapter});
  add("adapter.HDFS.up.bias", {kOut});
  add("adapter.HDFS.prototypes", {2, kOut});
  ASSERT_TRUE(a.Upload(ta, d).ok());
  ASSERT_EQ(WaitDone(run.run_id()).state(), "done");

  // The model now holds HDFS's adapter; every other declared source set gets a variant without it.
  for (int i = 0; i < 12; ++i) {
    v1::HelloRequest hello;
    hello.add_sources()->set_name(absl::StrCat("S", i));
    ASSERT_TRUE(a.session.Hello(hello).ok());
    auto got = a.session.Download(0);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->bundle.Find("adapter.HDFS.down.weight"), nullptr);
  }
  EXPECT_LE(FilesNamed(".src-").size(), 3u);
}

}  // namespace
}  // namespace fedlog::testing
