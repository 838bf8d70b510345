// The site's data preparation for the line encoder (client/site_trainer.h, client/line_labels.h,
// client/local_data.h): labels files, line numbering, the held-out split, support sampling, the
// spec from the protocol, the round's work and the uploaded delta, personalisation, and the client
// config's checks.
#include "client/site_trainer.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/detect/detect_store.h"
#include "client/line_labels.h"
#include "client/site_daemon.h"
#include "client/local_data.h"
#include "common/model/contrastive_trainer.h"
#include "common/model/encoder_site_data.h"
#include "common/model/site_model.h"
#include "common/base/file_util.h"
#include "gtest/gtest.h"

namespace fedlog::client {
namespace {

// The line encoder's data and protocol helpers live with the model (common/model/encoder_site_data.h).
using model::BuildEncoderData;
using model::EncoderSpecFromProto;
using model::SampleSupport;
using model::UpdateDelta;
using model::WorkFromPlan;

std::string TempPath(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / name).string();
}

// Apache error-log lines; every 4th is an error (label 1).
std::string ApacheLog(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += i % 4 == 3
               ? absl::StrCat("[Sun Dec 04 04:47:", 10 + i % 50,
                              " 2005] [error] mod_jk child workerEnv in error state ", i % 7, "\n")
               : absl::StrCat("[Sun Dec 04 04:47:", 10 + i % 50,
                              " 2005] [notice] jk2_init() Found child ", 1000 + i,
                              " in scoreboard slot ", i % 9, "\n");
  }
  return out;
}

TEST(LineLabelsTest, ReadsBothColumnSpellingsAndRejectsBadFiles) {
  const std::string a = TempPath("a.csv");
  ASSERT_TRUE(WriteFileAtomic(a, "LineId,Content,AnomalyLabel\n1,\"x, y\",0\n3,z,2\n").ok());
  auto labels = ReadLineLabels(a);
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_EQ(*labels, (std::map<int64_t, int>{{1, 0}, {3, 2}}));
  const std::string b = TempPath("b.csv");
  ASSERT_TRUE(WriteFileAtomic(b, "line,label,kind\n2,1,burst\n").ok());
  EXPECT_EQ(ReadLineLabels(b)->at(2), 1);

  for (const char* bad : {"LineId,Level\n1,0\n", "line,label\n0,1\n", "line,label\n1,x\n",
                          "line,label\n1,0\n1,1\n"}) {
    ASSERT_TRUE(WriteFileAtomic(b, bad).ok());
    EXPECT_EQ(ReadLineLabels(b).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ReadLineLabels(TempPath("missing.csv")).status().code(), absl::StatusCode::kNotFound);
}

TEST(ReadSourcesTest, LabelsFollowFileLineNumbersAcrossBlankLines) {
  const std::string log = TempPath("apache.log");
  ASSERT_TRUE(WriteFileAtomic(log,
                              "[Sun Dec 04 04:47:44 2005] [notice] a\n\n"
                              "[Sun Dec 04 04:47:45 2005] [error] b\n"
                              "[Sun Dec 04 04:47:46 2005] [notice] c\n")
                  .ok());
  const std::string csv = TempPath("apache.csv");
  ASSERT_TRUE(WriteFileAtomic(csv, "line,label\n3,1\n4,0\n").ok());
  v1::ClientConfig config;
  v1::LogSourceConfig* s = config.add_sources();
  s->set_name("Apache");
  s->set_path(log);
  s->set_labels(csv);
  auto sources = ReadSources(config);
  ASSERT_TRUE(sources.ok()) << sources.status();
  ASSERT_EQ((*sources)[0].raw.size(), 3u);
  EXPECT_EQ((*sources)[0].labels, (std::vector<int>{-1, 1, 0}));

  ASSERT_TRUE(WriteFileAtomic(csv, "line,label\n9,1\n").ok());
  EXPECT_EQ(ReadSources(config).status().code(), absl::StatusCode::kInvalidArgument);

  // A mistyped path names the source and the key, beside the file.
  s->set_path(TempPath("apache.lgo"));
  const absl::Status missing = ReadSources(config).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("source 'Apache' path"), std::string::npos) << missing;
  EXPECT_NE(missing.message().find("apache.lgo"), std::string::npos) << missing;
}

std::vector<SourceLines> TwoSources(int n) {
  const std::vector<std::string> a = absl::StrSplit(ApacheLog(n), '\n', absl::SkipEmpty());
  const std::vector<std::string> b = absl::StrSplit(ApacheLog(n / 2), '\n', absl::SkipEmpty());
  auto labeled = ParseSourceLines("Apache", "Apache", a);
  auto other = ParseSourceLines("Web", "Apache", b);
  EXPECT_TRUE(labeled.ok() && other.ok());
  labeled->raw = a;
  for (int i = 0; i < n; ++i) labeled->labels.push_back(i % 4 == 3 ? 1 : 0);
  other->raw = b;
  return {*labeled, *other};
}

TEST(BuildEncoderDataTest, HoldsOutLabeledLinesForValidationAndTest) {
  const std::vector<SourceLines> sources = TwoSources(200);
  auto data = BuildEncoderData(sources, 0, 20, 7);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->sources, (std::vector<std::string>{"Apache", "Web"}));
  EXPECT_EQ(data->held_out, 60);
  EXPECT_EQ(data->train.size(), 240);
  EXPECT_EQ(data->train.labels.size(), 240u);  // -1 for the unlabeled source's lines
  EXPECT_EQ(data->train.dense.rows, 0);        // dense_dim 0: tokens only
  EXPECT_GT(data->validation.size(), 0);
  EXPECT_LE(std::abs(data->validation.size() - data->test.size()), 1);
  // Every held-out Apache line is labeled, no held-out Web line is.
  const int64_t web_train =
      std::count(data->train.sources.begin(), data->train.sources.end(), "Web");
  EXPECT_EQ(data->validation.size() + data->test.size(), 60 - (100 - web_train));
  for (const model::LineSet* part : {&data->validation, &data->test}) {
    for (size_t i = 0; i < part->labels.size(); ++i) {
      EXPECT_GE(part->labels[i], 0);
      EXPECT_EQ(part->sources[i], "Apache");
    }
  }
  // Templates of different sources never share an id (contrastive alignment).
  std::set<int64_t> apache, web;
  for (int64_t i = 0; i < data->train.size(); ++i) {
    (data->train.sources[i] == "Apache" ? apache : web).insert(data->train.template_ids[i]);
  }
  for (int64_t t : web) EXPECT_EQ(apache.count(t), 0u) << t;

  auto again = BuildEncoderData(sources, 0, 20, 7);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->test.tokens, data->test.tokens);  // the daemon and `fedlog score` agree
  EXPECT_EQ(BuildEncoderData(sources, 3, 20, 7).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SampleSupportTest, TakesUpToKPerClassFromLabeledLinesOnly) {
  model::LineSet lines;
  lines.labels = {-1, 0, 0, 0, 1, -1, 2, 0};
  lines.tokens.resize(lines.labels.size());
  const model::LineSet s = SampleSupport(lines, 2, 1);
  EXPECT_EQ(std::count(s.labels.begin(), s.labels.end(), 0), 2);
  EXPECT_EQ(std::count_if(s.labels.begin(), s.labels.end(), [](int y) { return y > 0; }), 2);
  EXPECT_EQ(SampleSupport(lines, 5, 1).size(), 6);
}

TEST(SiteProtocolTest, SpecWorkAndDelta) {
  v1::ModelSpec proto;
  proto.mutable_encoder()->add_hidden(-1);
  EXPECT_EQ(EncoderSpecFromProto(proto).status().code(), absl::StatusCode::kInvalidArgument);
  proto.Clear();
  proto.set_arch("line_encoder");
  proto.set_init_seed(42);
  proto.mutable_encoder()->set_dense_dim(75);
  proto.mutable_encoder()->add_hidden(64);
  auto spec = EncoderSpecFromProto(proto);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->vocab_buckets, 1 << 15);
  EXPECT_EQ(spec->hidden, std::vector<int>{64});
  EXPECT_EQ(spec->dense_dim, 75);
  EXPECT_EQ(spec->init_seed, 42u);

  v1::TrainingPlan plan;
  plan.set_seed(10);
  model::LocalWork defaults = WorkFromPlan(plan, 3, {});
  EXPECT_EQ(defaults.contrastive_steps, model::LocalWork().contrastive_steps);
  EXPECT_EQ(defaults.runtime.seed, 13u);
  plan.set_meta_iterations(4);
  plan.set_fedprox_mu(0.1f);
  model::LocalWork w = WorkFromPlan(plan, 1, {});
  EXPECT_EQ(w.contrastive_steps, 0);
  EXPECT_EQ(w.meta_iterations, 4);
  EXPECT_EQ(w.inner_steps, 0);
  EXPECT_FLOAT_EQ(w.fedprox_mu, 0.1f);
  // Line DP: the labelled-phase settings default to per_line without contrastive steps, and the plan's
  // fields (TrainingPlan 23-26) override them.
  plan.set_line_dp_noise_multiplier(2);
  plan.set_line_dp_clip(1);
  w = WorkFromPlan(plan, 1, {});
  EXPECT_EQ(w.line_dp.labeled_objective, model::LabeledDpObjective::kPerLine);
  EXPECT_FALSE(w.line_dp.contrastive);
  EXPECT_EQ(w.line_dp.anomalous_rate, 1.0);
  EXPECT_EQ(w.line_dp.normal_lines_per_step, 64);
  EXPECT_EQ(w.line_dp.scope, model::DpScope::kAdapters);  // TrainingPlan 27 "": few coordinates
  plan.set_line_dp_scope("all");
  EXPECT_EQ(WorkFromPlan(plan, 1, {}).line_dp.scope, model::DpScope::kAll);
  plan.set_line_dp_scope("adapters");
  EXPECT_EQ(WorkFromPlan(plan, 1, {}).line_dp.scope, model::DpScope::kAdapters);
  plan.set_line_dp_objective("episodes");
  plan.set_line_dp_contrastive(true);
  plan.set_line_dp_anomalous_rate(0.25);
  plan.set_line_dp_normal_lines(16);
  w = WorkFromPlan(plan, 1, {});
  EXPECT_EQ(w.line_dp.labeled_objective, model::LabeledDpObjective::kEpisodes);
  EXPECT_TRUE(w.line_dp.contrastive);
  EXPECT_EQ(w.line_dp.anomalous_rate, 0.25);
  EXPECT_EQ(w.line_dp.normal_lines_per_step, 16);

  fl::TensorBundle base, trained;
  base.tensors.push_back({"out.bias", {2}, {1, 2}});
  trained.tensors.push_back({"out.bias", {2}, {1.5f, 1}});
  trained.tensors.push_back({"adapter.Apache.up.bias", {1}, {0.25f}});
  auto delta = UpdateDelta(trained, base);
  ASSERT_TRUE(delta.ok());
  EXPECT_EQ(delta->Find("out.bias")->values, (std::vector<float>{0.5f, -1}));
  EXPECT_EQ(delta->Find("adapter.Apache.up.bias")->values, std::vector<float>{0.25f});
  trained.tensors[0].shape = {1, 2};
  EXPECT_FALSE(UpdateDelta(trained, base).ok());
}

// A small line-encoder round on TwoSources: one contrastive step and one meta-iteration.
v1::RoundTask SmallEncoderTask() {
  v1::RoundTask task;
  task.set_round(1);
  task.mutable_spec()->set_arch("line_encoder");
  task.mutable_spec()->set_init_seed(3);
  v1::LineEncoderSpec& e = *task.mutable_spec()->mutable_encoder();
  e.set_vocab_buckets(256);
  e.set_token_dim(8);
  e.add_hidden(16);
  e.set_out_dim(8);
  e.set_adapter_dim(4);
  e.set_head_dim(8);
  task.mutable_plan()->set_contrastive_steps(1);
  task.mutable_plan()->set_meta_iterations(1);
  task.mutable_plan()->set_batch_size(32);
  task.mutable_plan()->set_seed(5);
  return task;
}

bool SameWeights(const fl::TensorBundle& a, const fl::TensorBundle& b) {
  if (a.tensors.size() != b.tensors.size()) return false;
  for (const fl::NamedTensor& t : a.tensors) {
    const fl::NamedTensor* u = b.Find(t.name);
    if (u == nullptr || u->shape != t.shape || u->values != t.values) return false;
  }
  return true;
}

// Personalisation continues from the promoted model with the last round's work, keeps the result
// exactly when its validation F1 is not lower, and is seeded: two sites with the same lines agree.
TEST(SiteTrainerPersonaliseTest, KeepsTheLocalRoundsOnlyWhenValidationAgrees) {
  const std::vector<SourceLines> sources = TwoSources(200);
  const v1::RoundTask task = SmallEncoderTask();
  auto spec = EncoderSpecFromProto(task.spec());
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto global = model::InitialEncoderWeights(*spec);
  ASSERT_TRUE(global.ok()) << global.status();
  SiteTrainer a(&sources, SiteTrainerOptions{});
  SiteTrainer b(&sources, SiteTrainerOptions{});
  for (SiteTrainer* t : {&a, &b}) ASSERT_TRUE(t->Train(task, *global).ok());

  auto first = a.Personalise(task.spec(), *global, 2);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_GE(first->validation_f1_global, 0);  // the held-out Apache lines have both classes
  ASSERT_GE(first->validation_f1_personal, 0);
  EXPECT_EQ(first->personalised, first->validation_f1_personal >= first->validation_f1_global);
  auto start = model::PrepareSiteWeights(*spec, *global, {"Apache", "Web"});
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_FALSE(SameWeights(first->tuned, *start));  // the local rounds trained
  EXPECT_TRUE(SameWeights(first->weights, first->personalised ? first->tuned : *start));
  auto second = b.Personalise(task.spec(), *global, 2);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(SameWeights(first->tuned, second->tuned));
  EXPECT_EQ(first->validation_f1_personal, second->validation_f1_personal);

  // Zero rounds: the promoted model as it came (with the site's identity adapters), no training.
  auto zero = a.Personalise(task.spec(), *global, 0);
  ASSERT_TRUE(zero.ok()) << zero.status();
  EXPECT_FALSE(zero->personalised);
  EXPECT_TRUE(zero->tuned.tensors.empty());
  EXPECT_TRUE(SameWeights(zero->weights, *start));

  v1::ModelSpec mlp = task.spec();
  mlp.set_arch("mlp_autoencoder");
  EXPECT_EQ(a.Personalise(mlp, *global, 2).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.Personalise(task.spec(), *global, -1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Under a line-DP plan the held-out evaluation (exact statistics of the site's lines) is withheld,
// and personalisation after a DP round is the non-private local step: the same weights as after the
// same plan without DP (its weights never leave the site).
TEST(SiteTrainerPersonaliseTest, LineDpWithholdsTheEvaluationAndPersonalisesWithoutNoise) {
  const std::vector<SourceLines> sources = TwoSources(120);
  v1::RoundTask task = SmallEncoderTask();
  auto global = model::InitialEncoderWeights(*EncoderSpecFromProto(task.spec()));
  ASSERT_TRUE(global.ok()) << global.status();
  SiteTrainer plain(&sources, SiteTrainerOptions{});
  SiteTrainer dp(&sources, SiteTrainerOptions{});
  ASSERT_TRUE(plain.Train(task, *global).ok());
  auto open = plain.Evaluate(task, *global);
  ASSERT_TRUE(open.ok()) << open.status();
  EXPECT_GT(open->num_samples(), 0);
  task.mutable_plan()->set_line_dp_noise_multiplier(2.0);
  task.mutable_plan()->set_line_dp_clip(1.0);
  ASSERT_TRUE(dp.Train(task, *global).ok());
  auto withheld = dp.Evaluate(task, *global);
  ASSERT_TRUE(withheld.ok()) << withheld.status();
  EXPECT_EQ(withheld->num_samples(), 0);
  EXPECT_TRUE(withheld->metrics().empty());
  auto a = plain.Personalise(task.spec(), *global, 1);
  auto b = dp.Personalise(task.spec(), *global, 1);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(SameWeights(a->tuned, b->tuned));
}

// Before any round the trainer personalises with LocalWork's defaults; after one, with that
// round's plan: the two give different weights.
TEST(SiteTrainerPersonaliseTest, UsesTheLastRoundsPlan) {
  const std::vector<SourceLines> sources = TwoSources(120);
  const v1::RoundTask task = SmallEncoderTask();
  auto global = model::InitialEncoderWeights(*EncoderSpecFromProto(task.spec()));
  ASSERT_TRUE(global.ok()) << global.status();
  SiteTrainer fresh(&sources, SiteTrainerOptions{});
  SiteTrainer trained(&sources, SiteTrainerOptions{});
  ASSERT_TRUE(trained.Train(task, *global).ok());
  auto a = fresh.Personalise(task.spec(), *global, 1);
  auto b = trained.Personalise(task.spec(), *global, 1);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_FALSE(SameWeights(a->tuned, b->tuned));
}

TEST(ClientConfigTest, PersonaliseRoundsDefaultOffAndBounded) {
  v1::ClientConfig c;
  c.set_data_dir("/var/lib/fedlog");
  c.mutable_tls()->set_ca_cert("ca.pem");
  c.mutable_tls()->set_cert("site.pem");
  c.mutable_tls()->set_key("site.key");
  v1::LogSourceConfig* s = c.add_sources();
  s->set_name("Apache");
  s->set_path("apache.log");
  v1::ClientConfig ok = c;
  ASSERT_TRUE(FinalizeClientConfig(&ok).ok());
  EXPECT_EQ(ok.personalise_rounds(), 0);
  for (int rounds : {1, 100}) {
    ok = c;
    ok.set_personalise_rounds(rounds);
    EXPECT_TRUE(FinalizeClientConfig(&ok).ok()) << rounds;
  }
  for (int rounds : {-1, 101}) {
    v1::ClientConfig bad = c;
    bad.set_personalise_rounds(rounds);
    const absl::Status st = FinalizeClientConfig(&bad);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << rounds;
    EXPECT_NE(st.message().find("personalise_rounds"), absl::string_view::npos);
  }
}

// Operators' verdicts on alerts (`fedlog feedback`, stored by client/detect) join the next round's
// training lines as labels, once each; verdicts on sources the site no longer runs are skipped.
TEST(SiteTrainerFeedbackTest, VerdictsJoinTheNextRoundOnce) {
  const std::vector<SourceLines> sources = TwoSources(200);
  const std::string db = TempPath("feedback_detect.db");
  std::filesystem::remove(db);
  {
    auto store = detect::DetectStore::Open(db);
    ASSERT_TRUE(store.ok()) << store.status();
    detect::LabeledLine verdict{"Web", "a line the operator confirmed", 1, {11, 12, 13}, {}, "feedback:00000000000000aa"};
    ASSERT_TRUE((*store)->AddLabel(verdict, 1).ok());
    verdict.source = "Gone";
    verdict.origin = "feedback:00000000000000bb";
    ASSERT_TRUE((*store)->AddLabel(verdict, 2).ok());
    verdict.source = "Web";
    verdict.origin = "labels_file";  // configured labels: already among the training lines
    ASSERT_TRUE((*store)->AddLabel(verdict, 3).ok());
  }
  const v1::RoundTask task = SmallEncoderTask();
  auto spec = EncoderSpecFromProto(task.spec());
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto global = model::InitialEncoderWeights(*spec);
  ASSERT_TRUE(global.ok()) << global.status();

  SiteTrainer plain(&sources, SiteTrainerOptions{});
  SiteTrainerOptions with_db;
  with_db.feedback_db = db;
  SiteTrainer fed_back(&sources, with_db);
  auto a = plain.Train(task, *global);
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = fed_back.Train(task, *global);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->header.num_samples(), a->header.num_samples() + 1);
  auto again = fed_back.Train(task, *global);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->header.num_samples(), b->header.num_samples());  // not merged twice
}

// The arch is read in one factory; the default is the line encoder, and the foundation's
// autoencoder sits behind the same interface but cannot detect.
TEST(SiteModelTest, OneFactoryReadsTheArch) {
  v1::ModelSpec spec;
  auto encoder = model::CreateSiteModel(spec);
  ASSERT_TRUE(encoder.ok()) << encoder.status();
  EXPECT_EQ((*encoder)->arch(), "line_encoder");
  EXPECT_TRUE((*encoder)->Detects());
  ASSERT_TRUE((*encoder)->OptionalSchema().has_value());

  spec.set_arch("mlp_autoencoder");
  auto mlp = model::CreateSiteModel(spec);
  ASSERT_TRUE(mlp.ok()) << mlp.status();
  EXPECT_EQ((*mlp)->arch(), "mlp_autoencoder");
  EXPECT_EQ((*mlp)->DetectorSpec().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE((*mlp)->OptionalSchema().has_value());
  EXPECT_FALSE(SiteTrainer::Detects(spec));

  spec.set_arch("gpt");
  EXPECT_EQ(model::CreateSiteModel(spec).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SiteModelTest, FinalizeDefaultsToTheLineEncoderAndRefusesMlpFieldsWithoutArch) {
  v1::ModelSpec spec;
  ASSERT_TRUE(model::FinalizeModelSpec(&spec).ok());
  EXPECT_EQ(spec.arch(), "line_encoder");
  EXPECT_EQ(spec.init_seed(), 42u);
  EXPECT_EQ(spec.encoder().vocab_buckets(), 32768);
  EXPECT_GT(spec.encoder().dense_dim(), 0);

  v1::ModelSpec old_default;  // a config from when the autoencoder was the default
  old_default.set_input_dim(38);
  const absl::Status st = model::FinalizeModelSpec(&old_default);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("mlp_autoencoder"), std::string::npos) << st;

  v1::ModelSpec mlp;
  mlp.set_arch("mlp_autoencoder");
  ASSERT_TRUE(model::FinalizeModelSpec(&mlp).ok());
  EXPECT_EQ(mlp.input_dim(), 134);
  EXPECT_EQ(std::vector<int>(mlp.hidden().begin(), mlp.hidden().end()), (std::vector<int>{64, 16}));
}

// The site trainer runs the autoencoder through the same calls as the encoder: an evaluation with
// the reconstruction loss, a round whose delta has the initial weights' tensors, no personalisation.
TEST(SiteTrainerTest, TrainsTheAutoencoderThroughTheSameInterface) {
  const std::vector<SourceLines> sources = TwoSources(120);
  v1::RoundTask task;
  task.set_round(1);
  task.mutable_spec()->set_arch("mlp_autoencoder");
  task.mutable_spec()->set_input_dim(38);
  task.mutable_spec()->add_hidden(8);
  task.mutable_spec()->set_init_seed(3);
  task.mutable_plan()->set_local_epochs(1);
  task.mutable_plan()->set_learning_rate(1e-3f);
  task.mutable_plan()->set_batch_size(32);
  task.mutable_plan()->set_seed(5);
  auto model = model::CreateSiteModel(task.spec());
  ASSERT_TRUE(model.ok()) << model.status();
  auto global = (*model)->InitialWeights();
  ASSERT_TRUE(global.ok()) << global.status();
  SiteTrainer trainer(&sources, SiteTrainerOptions{});
  auto report = trainer.Evaluate(task, *global);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->num_samples(), 180 * 20 / 100);  // 120 + 60 lines, 20% held out
  EXPECT_GT(report->metrics().at("holdout_loss"), 0);
  auto update = trainer.Train(task, *global);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->header.num_samples(), 180 - 180 * 20 / 100);
  ASSERT_EQ(update->delta.tensors.size(), global->tensors.size());
  for (const fl::NamedTensor& t : global->tensors) EXPECT_NE(update->delta.Find(t.name), nullptr) << t.name;
  EXPECT_EQ(trainer.Personalise(task.spec(), *global, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fedlog::client
