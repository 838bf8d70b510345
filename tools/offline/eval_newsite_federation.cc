// The federation behind `fedlog eval newsite --federated` (eval_newsite_federated.h): its sites,
// built with eval federated's loaders and splitter (and, with --fed-sibling, eval_newsite_sibling.cc's
// site), and the new site's three encoders.
#include <algorithm>
#include <iostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/base/status_macros.h"
#include "common/labels/seed_labeled.h"
#include "common/logparse/line_parser.h"
#include "common/model/contrastive_trainer.h"
#include "common/model/line_input.h"
#include "common/model/site_round.h"
#include "tools/offline/eval_detect.h"
#include "tools/offline/eval_newsite_federated.h"

namespace fedlog::offline {
namespace {

// The seed-labelled sources but `excluded`, dealt in name order into `groups` sites.
absl::Status AddSeedSites(const std::string& excluded, const NewsiteOptions& o,
                          const FederatedOptions& fo, std::vector<FederatedSite>* sites,
                          std::vector<std::string>* notes) {
  std::vector<std::string> names;
  for (const logparse::BuiltinFormat& f : logparse::BuiltinFormats()) {
    if (f.name != excluded) names.push_back(f.name);
  }
  std::sort(names.begin(), names.end());
  const size_t groups = std::min(names.size(), static_cast<size_t>(std::max(1, o.federated.seed_sites)));
  std::vector<RawSite> raw(groups);
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& src = names[i];
    std::string text;
    std::vector<std::string_view> lines;
    std::vector<labels::SeedLabeledLine> rows;
    FEDLOG_RETURN_IF_ERROR(ReadSeedLabeledSource(fo.data_dir, src, &text, &lines, &rows));
    std::vector<int> labels;
    for (const auto& r : rows) labels.push_back(r.anomaly_label);
    FEDLOG_ASSIGN_OR_RETURN(model::LineSet set, FeaturizeSiteLines(src, src, lines, labels));
    RawSite& site = raw[i % groups];
    site.sources.push_back(src);
    model::AppendLineSet(set, &site.lines);
  }
  for (size_t g = 0; g < groups; ++g) {
    raw[g].name = absl::StrCat("seed-", g);
    FEDLOG_ASSIGN_OR_RETURN(FederatedSite site, SplitSite(raw[g], fo, false, 0, fo.seed + g));
    notes->push_back(absl::StrCat(raw[g].name, ": seed-labeled-2k ", absl::StrJoin(raw[g].sources, ", ")));
    sites->push_back(std::move(site));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> NewsiteSourceType(const std::string& system) {
  if (system == "bgl" || system == "bgl2k") return std::string("BGL");
  if (system == "hdfs") return std::string("HDFS");
  if (system == "hadoop") return std::string("Hadoop");
  return absl::InvalidArgumentError(absl::StrCat("no federated arm for system '", system, "'"));
}

FederatedOptions NewsiteFederationOptions(const NewsiteOptions& o) {
  FederatedOptions fo;
  fo.data_dir = o.data_dir;
  fo.rounds = o.federated.rounds;
  fo.sites = 1;  // one site per other real-labelled system
  fo.contrastive_steps = o.federated.contrastive_steps;
  fo.meta_iterations = o.federated.meta_iterations;
  fo.jaccard_weight = o.federated.jaccard_weight;
  fo.seed = o.federated.seed != 0 ? o.federated.seed : o.seed;
  fo.threads = o.federated.threads;
  fo.max_train_lines = o.federated.max_train_lines;
  fo.run_centralized = false;
  fo.run_local = false;
  return fo;
}

absl::StatusOr<std::vector<FederatedSite>> LoadNewsiteFederation(const std::string& system,
                                                                 const NewsiteOptions& o,
                                                                 std::vector<std::string>* notes) {
  FEDLOG_ASSIGN_OR_RETURN(const std::string excluded, NewsiteSourceType(system));
  const FederatedOptions fo = NewsiteFederationOptions(o);
  std::vector<FederatedSite> sites;
  FEDLOG_RETURN_IF_ERROR(AddSeedSites(excluded, o, fo, &sites, notes));
  notes->push_back(absl::StrCat("left out of the federation: the seed-labeled-2k ", excluded,
                                " source (the new site's own source type)"));
  if (excluded != "BGL") {
    FEDLOG_ASSIGN_OR_RETURN(std::vector<FederatedSite> bgl, LoadBglSites(fo));
    bgl[0].name = "bgl-20k";
    notes->push_back("bgl-20k: BGL-20k lines, one site");
    sites.push_back(std::move(bgl[0]));
  }
  if (excluded != "HDFS") {
    FEDLOG_ASSIGN_OR_RETURN(std::vector<FederatedSite> hdfs, LoadHdfsSites(fo));
    hdfs[0].name = "hdfs-2pct";
    notes->push_back("hdfs-2pct: HDFS_2pct blocks, one site");
    sites.push_back(std::move(hdfs[0]));
  }
  notes->push_back("Hadoop applications are not a federation site (eval federated has no Hadoop loader)");
  if (o.federated.sibling) {
    FEDLOG_ASSIGN_OR_RETURN(FederatedSite sibling,
                            LoadNewsiteSibling(system, fo, fo.seed + sites.size(), notes));
    sites.push_back(std::move(sibling));
  }
  return sites;
}

absl::StatusOr<NewsiteEncoders> TrainNewsiteEncoders(const std::vector<FederatedSite>& sites,
                                                     const std::string& source,
                                                     const model::LineSet& own,
                                                     const NewsiteOptions& o) {
  if (sites.empty()) return absl::InvalidArgumentError("no federation sites");
  const FederatedOptions fo = NewsiteFederationOptions(o);
  FEDLOG_ASSIGN_OR_RETURN(FederatedResult fed, RunFederatedSimulation(sites, fo));
  NewsiteEncoders out;
  for (const SiteEvaluation& e : fed.evaluations) {
    out.notes.push_back(absl::StrFormat("federation member %s: F1 %.3f, AUROC %.3f on its own test part",
                                        e.site, e.metrics.f1, e.metrics.auroc));
  }
  // The same base spec and initial weights the simulation started from.
  model::EncoderSpec base = model::DefaultEncoderSpec(static_cast<int>(sites[0].train.dense.cols));
  base.init_seed = fo.seed;
  FEDLOG_ASSIGN_OR_RETURN(const fl::TensorBundle initial, model::InitialEncoderWeights(base));
  out.spec = model::SiteSpec(base, {source});
  FEDLOG_ASSIGN_OR_RETURN(out.federated, model::PrepareSiteWeights(base, fed.federated_model, {source}));
  FEDLOG_ASSIGN_OR_RETURN(fl::TensorBundle alone, model::PrepareSiteWeights(base, initial, {source}));
  // The site's own rounds: the federation's rounds of local work on its unlabelled lines (no
  // labels, so contrastive steps only), from the global model and from the initial weights.
  out.tuned = out.federated;
  out.alone = std::move(alone);
  for (int r = 0; r < fo.rounds; ++r) {
    model::LocalWork work;
    work.contrastive_steps = fo.contrastive_steps;
    work.meta_iterations = fo.meta_iterations;
    work.inner_steps = fo.inner_steps;
    work.batch_size = fo.batch_size;
    work.jaccard_weight = fo.jaccard_weight;
    work.runtime.threads = fo.threads;
    work.runtime.seed = fo.seed * 7919ull + static_cast<uint64_t>(r);
    for (fl::TensorBundle* w : {&out.tuned, &out.alone}) {
      FEDLOG_ASSIGN_OR_RETURN(model::SiteRoundResult res, model::RunSiteRound(out.spec, *w, own, {}, work));
      *w = std::move(res.weights);
      std::cerr << absl::StrFormat("[newsite %s] local round %d/%d (%s): contrastive loss %.4f, %.1fs\n",
                                   source, r + 1, fo.rounds, w == &out.tuned ? "tuned" : "alone",
                                   res.contrastive_loss, res.seconds);
    }
  }
  // Local rounds without labels compute no prototypes; the tuned model keeps the global ones.
  for (const fl::NamedTensor& t : out.federated.tensors) {
    if (t.name.rfind("prototypes.", 0) == 0 && out.tuned.Find(t.name) == nullptr) {
      out.tuned.tensors.push_back(t);
    }
  }
  out.notes.push_back(absl::StrFormat(
      "federation: %d sites, %d rounds of %d contrastive steps and %d meta-iterations (batch %d), "
      "%.1f s; the new site trains %d local rounds of the same work on %lld of its own lines",
      static_cast<int>(sites.size()), fo.rounds, fo.contrastive_steps, fo.meta_iterations,
      fo.batch_size, fed.seconds, fo.rounds, static_cast<long long>(own.size())));
  return out;
}

}  // namespace fedlog::offline
