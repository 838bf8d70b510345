// The detector end to end (files -> queue -> pipeline -> alerts -> store): rotations and a restart
// in the middle lose and repeat no line; a model swap under load drops no line; a webhook that is
// down gets retries and the JSON lines file keeps every alert; feedback becomes a label; /metrics.
#include "client/detect/detector.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/base/file_util.h"
#include "gtest/gtest.h"
#include "tests/client/detect/test_model.h"

namespace fedlog::client::detect {
namespace {

using testing::FreshDir;
using testing::HdfsLine;

int FeatureDim() {
  auto p = LinePipeline::Create({{"HDFS", "HDFS", {}}});
  return (*p)->feature_dim();
}

struct Seen {
  absl::Mutex mu;
  std::vector<ScoredLine> lines;
  std::function<void(const ScoredLine&)> callback() {
    return [this](const ScoredLine& l) {
      absl::MutexLock lock(&mu);
      lines.push_back(l);
    };
  }
  size_t size() {
    absl::MutexLock lock(&mu);
    return lines.size();
  }
  std::vector<std::string> texts() {
    absl::MutexLock lock(&mu);
    std::vector<std::string> out;
    for (const auto& l : lines) out.push_back(l.line);
    return out;
  }
};

DetectOptions Options(const std::string& dir, const std::string& pattern, Seen* seen) {
  DetectOptions o;
  o.data_dir = dir + "/data";
  o.sources = {{"HDFS", "HDFS", {pattern}}};
  o.alerts_file = dir + "/alerts.jsonl";
  o.metrics_listen = "127.0.0.1:0";
  o.poll_interval_ms = 10;
  o.rotate_grace_ms = 50;
  o.queue_capacity = 64;  // small: the tailer meets backpressure
  o.batch_max = 16;
  o.on_scored = seen->callback();
  return o;
}

void Append(const std::string& path, int from, int to) {
  std::ofstream f(path, std::ios::app);
  for (int i = from; i < to; ++i) f << HdfsLine(i) << "\n";
}

std::vector<std::string> Lines(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(HdfsLine(i));
  return out;
}

bool WaitFor(const std::function<bool()>& done, absl::Duration limit = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + limit;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return done();
}

// Runs a detector on a thread for the scope's lifetime.
class Running {
 public:
  explicit Running(DetectOptions o) {
    auto d = Detector::Create(std::move(o));
    EXPECT_TRUE(d.ok()) << d.status();
    if (d.ok()) detector_ = std::move(*d);
    thread_ = std::thread([this] {
      if (detector_) status_ = detector_->Run();
    });
  }
  ~Running() { StopAndJoin().IgnoreError(); }
  absl::Status StopAndJoin() {
    if (detector_) detector_->Stop();
    if (thread_.joinable()) thread_.join();
    return status_;
  }
  Detector* operator->() { return detector_.get(); }

 private:
  std::unique_ptr<Detector> detector_;
  std::thread thread_;
  absl::Status status_;
};

TEST(DetectorTest, RotationsAndRestartLoseAndDuplicateNoLine) {
  const std::string dir = FreshDir("rotate");
  const std::string log = dir + "/app.log";
  Seen seen;
  Append(log, 0, 200);
  {
    Running d(Options(dir, log, &seen));
    ASSERT_TRUE(WaitFor([&] { return seen.size() == 200; }));
    Append(log, 200, 220);
    std::filesystem::rename(log, log + ".1");  // rotation by rename
    Append(log, 220, 300);
    ASSERT_TRUE(WaitFor([&] { return seen.size() == 300; }));
    std::filesystem::copy_file(log, dir + "/app.log.copy");  // rotation by copytruncate
    std::filesystem::resize_file(log, 0);
    Append(log, 300, 400);
    ASSERT_TRUE(WaitFor([&] { return seen.size() == 400; }));
    Append(log, 400, 450);  // maybe read before the stop, maybe after the restart
    ASSERT_TRUE(d.StopAndJoin().ok());
  }
  Append(log, 450, 500);  // written while stopped
  {
    Running d(Options(dir, log, &seen));
    ASSERT_TRUE(WaitFor([&] { return seen.size() >= 500; }));
    absl::SleepFor(absl::Milliseconds(100));  // a duplicate would show up here
    ASSERT_TRUE(d.StopAndJoin().ok());
  }
  EXPECT_EQ(seen.texts(), Lines(0, 500));
}

TEST(DetectorTest, ModelSwapUnderLoadDropsNoLine) {
  const std::string dir = FreshDir("swap");
  const std::string log = dir + "/app.log";
  Seen seen;
  DetectOptions o = Options(dir, log, &seen);
  const model::EncoderSpec spec = testing::SmallSpec(FeatureDim(), {"HDFS"});
  ASSERT_TRUE(MakeDirs(o.data_dir).ok());
  ASSERT_TRUE(
      testing::WritePromotedModel(o.data_dir, spec, testing::SmallWeights(spec, 1), 1).ok());
  Running d(std::move(o));
  ASSERT_TRUE(WaitFor([&] { return d->model_version() == 1; }));
  // Lines keep flowing before, during and after the swap: chunks until v2 is in use, then 500 more.
  std::atomic<bool> swapped{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    int after = 0;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (after < 500 && absl::Now() < deadline) {
      Append(log, written, written + 50);
      written += 50;
      if (swapped.load()) after += 50;
      absl::SleepFor(absl::Milliseconds(2));
    }
  });
  const bool flowing = WaitFor([&] { return seen.size() > 500; });
  const bool written_v2 =
      flowing &&
      testing::WritePromotedModel(dir + "/data", spec, testing::SmallWeights(spec, 2), 2).ok();
  const bool v2_in_use = written_v2 && WaitFor([&] { return d->model_version() == 2; });
  swapped = true;
  writer.join();
  ASSERT_TRUE(flowing);
  ASSERT_TRUE(written_v2);
  ASSERT_TRUE(v2_in_use);
  const int total = written.load();
  ASSERT_TRUE(WaitFor([&] { return seen.size() == static_cast<size_t>(total); }));
  ASSERT_TRUE(d.StopAndJoin().ok());
  EXPECT_EQ(seen.texts(), Lines(0, total));
  absl::MutexLock lock(&seen.mu);
  int v1 = 0, v2 = 0;
  for (const ScoredLine& l : seen.lines) {
    EXPECT_GE(l.score, 0.0f);  // every line was scored, by one model or the other
    (l.model_version == 1 ? v1 : v2) += 1;
  }
  EXPECT_GT(v1, 0);
  EXPECT_GT(v2, 0);
}

// A personal model of the promoted version, written after the detector started, replaces the
// promoted one without a restart, and /metrics says so; removing it goes back to the promoted one.
TEST(DetectorTest, ReloadsWhenThePersonalModelComesAndGoes) {
  const std::string dir = FreshDir("personal");
  Seen seen;
  DetectOptions o = Options(dir, dir + "/app.log", &seen);
  const model::EncoderSpec spec = testing::SmallSpec(FeatureDim(), {"HDFS"});
  ASSERT_TRUE(MakeDirs(o.data_dir).ok());
  ASSERT_TRUE(
      testing::WritePromotedModel(o.data_dir, spec, testing::SmallWeights(spec, 1), 4).ok());
  const std::string data_dir = o.data_dir;
  Running d(std::move(o));
  ASSERT_TRUE(WaitFor([&] { return d->model_version() == 4; }));
  EXPECT_EQ(d->metrics().model_personalised.load(), 0);
  ASSERT_TRUE(
      testing::WritePersonalModel(data_dir, spec, testing::SmallWeights(spec, 2), 4).ok());
  ASSERT_TRUE(WaitFor([&] { return d->metrics().model_personalised.load() == 1; }));
  httplib::Client client("127.0.0.1", d->metrics_port());
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("fedlog_detect_model_personalised 1"), std::string::npos);
  std::filesystem::remove(PersonalManifestPath(data_dir));
  ASSERT_TRUE(WaitFor([&] { return d->metrics().model_personalised.load() == 0; }));
  EXPECT_EQ(d->model_version(), 4);
}

// A port nothing listens on (connections are refused at once).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

TEST(DetectorTest, WebhookDownIsRetriedAndJsonlKeepsEveryAlert) {
  const std::string dir = FreshDir("webhook");
  const std::string log = dir + "/app.log";
  Seen seen;
  DetectOptions o = Options(dir, log, &seen);
  const int port = FreePort();
  o.webhook_url = "http://127.0.0.1:" + std::to_string(port) + "/alerts";
  o.webhook_backoff_initial_ms = 20;
  o.webhook_backoff_max_ms = 100;
  o.webhook_max_attempts = 1000;
  o.threshold = 1e-30f;  // every scored line is an alert (|raw| <= 40 with unit-norm vectors)
  o.dedup_window_s = -1;
  o.rate_limit_per_min = -1;
  const model::EncoderSpec spec = testing::SmallSpec(FeatureDim(), {"HDFS"});
  ASSERT_TRUE(MakeDirs(o.data_dir).ok());
  ASSERT_TRUE(
      testing::WritePromotedModel(o.data_dir, spec, testing::SmallWeights(spec, 1), 7).ok());
  Running d(std::move(o));
  ASSERT_TRUE(WaitFor([&] { return d->model_version() == 7; }));
  Append(log, 0, 20);
  ASSERT_TRUE(WaitFor([&] { return seen.size() == 20; }));
  ASSERT_TRUE(WaitFor([&] { return d->metrics().webhook_retries.load() >= 3; }));
  auto jsonl = ReadFile(dir + "/alerts.jsonl");
  ASSERT_TRUE(jsonl.ok());
  std::vector<std::string> written = absl::StrSplit(*jsonl, '\n', absl::SkipEmpty());
  ASSERT_EQ(written.size(), 20u);  // all in the file while the webhook is down
  EXPECT_EQ(d->metrics().webhook_sent.load(), 0);

  absl::Mutex mu;
  std::vector<std::string> received;
  httplib::Server hook;
  hook.Post("/alerts", [&](const httplib::Request& req, httplib::Response& res) {
    absl::MutexLock lock(&mu);
    received.push_back(req.body);
    res.status = 200;
  });
  ASSERT_TRUE(hook.bind_to_port("127.0.0.1", port));
  std::thread server([&] { hook.listen_after_bind(); });
  const bool all = WaitFor([&] {
    absl::MutexLock lock(&mu);
    return received.size() == 20;
  });
  hook.stop();
  server.join();
  ASSERT_TRUE(all);
  EXPECT_EQ(received, written);  // in order, each once
  EXPECT_EQ(d->metrics().webhook_sent.load(), 20);
  EXPECT_EQ(d->metrics().webhook_failed.load(), 0);
  EXPECT_NE(written[5].find("\"model_version\":7"), std::string::npos);
  EXPECT_NE(written[5].find("\"template\":"), std::string::npos);
  EXPECT_NE(written[5].find("\"context\":[\""), std::string::npos);
}

TEST(DetectorTest, DedupRateLimitFeedbackAndMetrics) {
  const std::string dir = FreshDir("feedback");
  const std::string log = dir + "/app.log";
  Seen seen;
  DetectOptions o = Options(dir, log, &seen);
  o.threshold = 1e-30f;
  o.dedup_window_s = 3600;  // one alert per template
  const model::EncoderSpec spec = testing::SmallSpec(FeatureDim(), {"HDFS"});
  ASSERT_TRUE(MakeDirs(o.data_dir).ok());
  ASSERT_TRUE(
      testing::WritePromotedModel(o.data_dir, spec, testing::SmallWeights(spec, 1), 3).ok());
  const std::string data_dir = o.data_dir;
  Running d(std::move(o));
  ASSERT_TRUE(WaitFor([&] { return d->model_version() == 3; }));
  Append(log, 0, 40);  // 4 templates
  ASSERT_TRUE(WaitFor([&] { return seen.size() == 40; }));
  auto jsonl = ReadFile(dir + "/alerts.jsonl");
  ASSERT_TRUE(jsonl.ok());
  std::vector<std::string> alerts = absl::StrSplit(*jsonl, '\n', absl::SkipEmpty());
  EXPECT_EQ(alerts.size(), 4u);
  EXPECT_EQ(d->metrics().alerts_suppressed_dedup.load(), 36);

  httplib::Client client("127.0.0.1", d->metrics_port());
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("fedlog_detect_lines_total{source=\"HDFS\"} 40"), std::string::npos);
  EXPECT_NE(metrics->body.find("fedlog_detect_model_version 3"), std::string::npos);
  EXPECT_NE(metrics->body.find("fedlog_detect_score_latency_seconds_count 40"), std::string::npos);
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  // The operator's verdict on the first alert becomes a label with the line's encoder input.
  const std::string id = alerts[0].substr(7, 16);  // {"id":"<16 hex>"
  auto store = DetectStore::Open(DetectStorePath(data_dir));
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->RecordFeedback(id, /*confirmed=*/true, 1).ok());
  EXPECT_FALSE((*store)->RecordFeedback("0000000000000000", true, 1).ok());
  // detect.db's copy of the alert is the line of the alerts file, with the time it was raised.
  auto row = (*store)->GetAlert(id);
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(row->json, alerts[0]);
  EXPECT_NE(row->json.find(",\"raised\":\""), std::string::npos) << row->json;
  auto labels = (*store)->LoadLabels("HDFS");
  ASSERT_TRUE(labels.ok());
  ASSERT_EQ(labels->size(), 1u);
  EXPECT_EQ((*labels)[0].label, 1);
  EXPECT_EQ(static_cast<int>((*labels)[0].dense.size()), spec.dense_dim);
  EXPECT_EQ((*labels)[0].line, HdfsLine(0));
  // The detector reloads its detectors with the new label as support.
  ASSERT_TRUE(WaitFor([&] { return d->metrics().model_loads.load() >= 2; }));
}

TEST(DetectorTest, LabeledLogsBecomeSupportLines) {
  const std::string dir = FreshDir("support");
  Seen seen;
  DetectOptions o = Options(dir, dir + "/app.log", &seen);
  Append(dir + "/train.log", 0, 12);
  o.labeled_logs.push_back({"HDFS", dir + "/train.log", {{2, 0}, {4, 1}, {7, 0}, {8, 3}, {99, 1}}});
  const model::EncoderSpec spec = testing::SmallSpec(FeatureDim(), {"HDFS"});
  ASSERT_TRUE(MakeDirs(o.data_dir).ok());
  ASSERT_TRUE(
      testing::WritePromotedModel(o.data_dir, spec, testing::SmallWeights(spec, 1), 1).ok());
  const std::string data_dir = o.data_dir;
  {
    Running d(std::move(o));
    ASSERT_TRUE(WaitFor([&] { return d->model_version() == 1; }));
  }
  auto store = DetectStore::Open(DetectStorePath(data_dir));
  ASSERT_TRUE(store.ok());
  auto labels = (*store)->LoadLabels("HDFS");
  ASSERT_TRUE(labels.ok());
  ASSERT_EQ(labels->size(), 4u);  // line 99 is past the end of the file
  EXPECT_EQ((*labels)[1].line, HdfsLine(3));
  EXPECT_EQ((*labels)[1].label, 1);
  EXPECT_EQ((*labels)[3].label, 1);  // anomaly type 3 -> anomalous
  EXPECT_EQ(static_cast<int>((*labels)[0].dense.size()), spec.dense_dim);
  // Both classes in the support set: the detector is built from them (k = 4 shots).
  auto model = LoadDetectionModel(data_dir, {"HDFS"}, *labels, 0);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->shots.at("HDFS"), 4);
}

TEST(DetectorTest, WaitsForAModelAndReportsUnhealthy) {
  const std::string dir = FreshDir("nomodel");
  Seen seen;
  Running d(Options(dir, dir + "/app.log", &seen));
  Append(dir + "/app.log", 0, 5);
  ASSERT_TRUE(WaitFor([&] { return seen.size() == 5; }));
  EXPECT_NE(d->Health(), "");
  EXPECT_EQ(d->metrics().unscored_lines.load(), 5);
}

}  // namespace
}  // namespace fedlog::client::detect
