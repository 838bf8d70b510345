// Output side of `fedlog eval federated`: results.json (every site, round and evaluation) and
// results.md (per-site F1 / F1-macro of the federated, personalised, centralized and local-only
// models, their means, the rounds and the checks).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "tools/offline/eval_federated.h"

namespace fedlog::offline {
namespace {

struct ModelName {
  const char* model;
  const char* column;  // short name in the markdown columns
};
const ModelName kModels[] = {
    {"initial", "init"}, {"federated", "fed"},     {"federated_dp", "fed-dp"},
    {"tuned", "tuned"},  {"personalised", "pers"},
    {"tuned_dp", "tuned-dp"}, {"personalised_dp", "pers-dp"},
    {"centralized", "central"}, {"local", "local"},
    {"label_free", "label-free"}, {"choice", "choice"}, {"choice_dp", "choice-dp"}};

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppend(&out, absl::StrFormat("\\u%04x", c));
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string Num(double v) { return absl::StrFormat("%.6g", v); }

int64_t Anomalous(const model::LineSet& lines) {
  int64_t n = 0;
  for (int y : lines.labels) n += y > 0;
  return n;
}

int64_t Labeled(const model::LineSet& lines) {
  int64_t n = 0;
  for (int y : lines.labels) n += y >= 0;
  return n;
}

struct Mean {
  double f1 = 0, f1_macro = 0;
  int sites = 0;
};

// Mean F1 / F1-macro of `model` over the sites `held_out` selects (-1: every site).
Mean MeanOf(const FederatedResult& result, const std::string& model, int held_out) {
  Mean m;
  for (const SiteEvaluation& e : result.evaluations) {
    if (e.model != model || (held_out >= 0 && e.held_out != (held_out == 1))) continue;
    m.f1 += e.metrics.f1;
    m.f1_macro += e.metrics.f1_macro;
    ++m.sites;
  }
  if (m.sites > 0) {
    m.f1 /= m.sites;
    m.f1_macro /= m.sites;
  }
  return m;
}

const SiteEvaluation* Find(const FederatedResult& result, const std::string& model,
                           const std::string& site) {
  for (const SiteEvaluation& e : result.evaluations) {
    if (e.model == model && e.site == site) return &e;
  }
  return nullptr;
}

// The checks: federated within 1 point of centralized F1 (hdfs, bgl); federated mean
// F1-macro >= 0.90 with k-shot detectors (sources).
std::vector<std::pair<std::string, bool>> Checks(const FederatedOptions& o,
                                                 const FederatedResult& result) {
  std::vector<std::pair<std::string, bool>> checks;
  const Mean fed = MeanOf(result, "federated", -1);
  const Mean central = MeanOf(result, "centralized", -1);
  if (o.protocol == "sources") {
    checks.push_back({absl::StrFormat("federated mean F1-macro over %d sites (k = %d) %.3f >= 0.90",
                                      fed.sites, o.shots, fed.f1_macro),
                      fed.f1_macro >= 0.90});
    const Mean held = MeanOf(result, "federated", 1);
    if (held.sites > 0) {
      checks.push_back(
          {absl::StrFormat("held-out site F1-macro (k = %d) %.3f >= 0.90", o.shots, held.f1_macro),
           held.f1_macro >= 0.90});
    }
    const Mean pers = MeanOf(result, "personalised", -1);
    if (pers.sites > 0) {
      checks.push_back({absl::StrFormat("federated + %d personalisation rounds: mean F1-macro over "
                                        "%d sites %.3f >= 0.90",
                                        o.personalise_rounds, pers.sites, pers.f1_macro),
                        pers.f1_macro >= 0.90});
    }
  } else if (central.sites > 0) {
    checks.push_back({absl::StrFormat("federated mean F1 %.3f within 0.01 of centralized %.3f "
                                      "(difference %+.3f)",
                                      fed.f1, central.f1, fed.f1 - central.f1),
                      fed.f1 >= central.f1 - 0.01});
  }
  return checks;
}

// The choice rows beside the model-only ones (eval_federated.h, SiteLabelFree): the mean F1 over every site of
// the two models issue 13's gap compares and of the product's choice against each, with both gaps.
std::string ChoiceSummary(const FederatedOptions& o, const FederatedResult& result) {
  const Mean choice = MeanOf(result, "choice", -1), choice_dp = MeanOf(result, "choice_dp", -1);
  if (choice.sites == 0 && choice_dp.sites == 0) return "";
  const Mean fed = MeanOf(result, "federated", -1);
  const std::string dp_model = o.personalise_rounds > 0 ? "personalised_dp" : "federated_dp";
  const Mean dp = MeanOf(result, dp_model, -1);
  auto f = [](const Mean& m) { return m.sites > 0 ? absl::StrFormat("%.3f (%d sites)", m.f1, m.sites) : "-"; };
  auto gap = [](const Mean& a, const Mean& b) {
    return a.sites > 0 && b.sites > 0 && a.sites == b.sites ? absl::StrFormat("%+.1f points", 100 * (a.f1 - b.f1))
                                                            : std::string("-");
  };
  return absl::StrCat(
      "\nProduct choice (detect.detector_choice auto; the label-free side is eval newsite's detector over each "
      "site's own stream, with a line site's labels, k = 0 for session sites):\n",
      "- model only: federated ", f(fed), ", ", dp_model, " ", f(dp), ", gap ", gap(dp, fed), "\n",
      "- product choice: choice ", f(choice), ", choice_dp ", f(choice_dp), ", gap ", gap(choice_dp, choice),
      "\n");
}

std::string SitesJson(const std::vector<FederatedSite>& sites) {
  std::vector<std::string> out;
  for (const FederatedSite& s : sites) {
    std::vector<std::string> src, notes;
    for (const auto& x : s.sources) src.push_back(Quote(x));
    for (const auto& x : s.notes) notes.push_back(Quote(x));
    const int64_t test_units =
        s.test.units.empty() ? s.test.lines.size() : static_cast<int64_t>(s.test.units.size());
    out.push_back(absl::StrCat(
        "{\"name\": ", Quote(s.name), ", \"sources\": [", absl::StrJoin(src, ", "),
        "], \"held_out\": ", s.labeled ? "false" : "true", ", \"join_round\": ", s.join_round,
        ", \"train_lines\": ", s.train.size(), ", \"labeled_train_lines\": ", Labeled(s.train),
        ", \"anomalous_train_lines\": ", Anomalous(s.train), ", \"support_lines\": ",
        s.support.size(), ", \"validation_lines\": ", s.validation.lines.size(),
        ", \"test_lines\": ", s.test.lines.size(), ", \"test_units\": ", test_units,
        ", \"notes\": [", absl::StrJoin(notes, ", "), "]}"));
  }
  return absl::StrCat("[\n    ", absl::StrJoin(out, ",\n    "), "\n  ]");
}

std::string EvaluationsJson(const FederatedResult& result) {
  std::vector<std::string> out;
  for (const SiteEvaluation& e : result.evaluations) {
    const eval::BinaryMetrics& m = e.metrics;
    out.push_back(absl::StrCat(
        "{\"model\": ", Quote(e.model), ", \"site\": ", Quote(e.site),
        ", \"held_out\": ", e.held_out ? "true" : "false", ", \"units\": ", e.units,
        ", \"anomalous_units\": ", e.anomalous_units, ", \"threshold\": ", Num(e.threshold),
        ", \"precision\": ", Num(m.precision), ", \"recall\": ", Num(m.recall),
        ", \"f1\": ", Num(m.f1), ", \"f1_macro\": ", Num(m.f1_macro),
        ", \"balanced_accuracy\": ", Num(m.balanced_accuracy), ", \"auroc\": ", Num(m.auroc),
        ", \"pr_auc\": ", Num(m.pr_auc), ", \"tp\": ", m.confusion.tp, ", \"fp\": ", m.confusion.fp,
        ", \"tn\": ", m.confusion.tn, ", \"fn\": ", m.confusion.fn, "}"));
  }
  return absl::StrCat("[\n    ", absl::StrJoin(out, ",\n    "), "\n  ]");
}

std::string RoundsJson(const FederatedResult& result) {
  std::vector<std::string> out;
  for (const RoundLog& r : result.rounds) {
    out.push_back(absl::StrCat(
        "{\"round\": ", r.round, ", \"participants\": ", r.participants,
        ", \"contrastive_loss\": ", Num(r.contrastive_loss), ", \"meta_loss\": ", Num(r.meta_loss),
        ", \"shared_delta_norm\": ", Num(r.update_norm), ", \"seconds\": ", Num(r.seconds), "}"));
  }
  return absl::StrCat("[\n    ", absl::StrJoin(out, ",\n    "), "\n  ]");
}

// The private federation's mechanism and epsilon; null without a DP mode.
std::string DpJson(const FederatedOptions& o, const FederatedResult& result) {
  if (o.dp_mode.empty()) return "null";
  return absl::StrCat("{\"mode\": ", Quote(o.dp_mode), ", \"noise_multiplier\": ",
                      Num(result.dp_sigma), ", \"clip\": ", Num(o.dp_clip), ", \"delta\": ",
                      Num(o.dp_delta), ", \"target_epsilon\": ", Num(o.target_epsilon),
                      ", \"epsilon\": ", Num(result.dp_epsilon), "}");
}

std::string Json(const FederatedOptions& o, const std::vector<FederatedSite>& sites,
                 const FederatedResult& result) {
  std::vector<std::string> means, checks, notes;
  for (const ModelName& name : kModels) {
    const Mean m = MeanOf(result, name.model, -1);
    if (m.sites == 0) continue;
    means.push_back(absl::StrCat(Quote(name.model), ": {\"sites\": ", m.sites, ", \"f1\": ", Num(m.f1),
                                 ", \"f1_macro\": ", Num(m.f1_macro), "}"));
  }
  for (const auto& [text, pass] : Checks(o, result)) {
    checks.push_back(
        absl::StrCat("{\"check\": ", Quote(text), ", \"pass\": ", pass ? "true" : "false", "}"));
  }
  for (const auto& n : result.notes) notes.push_back(Quote(n));
  return absl::StrCat(
      "{\n  \"protocol\": ", Quote(o.protocol), ",\n  \"options\": {\"rounds\": ", o.rounds,
      ", \"contrastive_steps\": ", o.contrastive_steps,
      ", \"meta_iterations\": ", o.meta_iterations, ", \"inner_steps\": ", o.inner_steps,
      ", \"batch_size\": ", o.batch_size, ", \"fedprox_mu\": ", Num(o.fedprox_mu),
      ", \"strategy\": ", Quote(o.strategy), ", \"seed\": ", o.seed, ", \"threads\": ", o.threads,
      ", \"shots\": ", o.shots, ", \"max_train_lines\": ", o.max_train_lines,
      ", \"personalise_rounds\": ", o.personalise_rounds,
      ", \"max_anomalous_labels\": ", o.max_anomalous_labels,
      "},\n  \"dp\": ", DpJson(o, result), ",\n  \"sites\": ", SitesJson(sites), ",\n  \"rounds\": ", RoundsJson(result),
      ",\n  \"evaluations\": ", EvaluationsJson(result), ",\n  \"means\": {",
      absl::StrJoin(means, ", "), "},\n  \"checks\": [", absl::StrJoin(checks, ", "),
      "],\n  \"notes\": [", absl::StrJoin(notes, ", "), "],\n  \"seconds\": ", Num(result.seconds),
      "\n}\n");
}

std::string Cell(const SiteEvaluation* e, bool macro) {
  if (e == nullptr) return "-";
  return absl::StrFormat("%.3f", macro ? e->metrics.f1_macro : e->metrics.f1);
}

std::string Markdown(const FederatedOptions& o, const std::vector<FederatedSite>& sites,
                     const FederatedResult& result) {
  const bool sessions = !sites.empty() && !sites[0].test.units.empty();
  std::string md = absl::StrFormat(
      "# Federated evaluation: %s\n\n%zu sites, %d rounds of %d contrastive steps + %d "
      "meta-iterations per site, strategy %s, FedProx mu %g, k = %d support lines per class, "
      "seed %d; %s-level F1 on each site's test part; %.0f s.\n\n",
      o.protocol, sites.size(), o.rounds, o.contrastive_steps, o.meta_iterations, o.strategy,
      o.fedprox_mu, o.shots, o.seed, sessions ? "block" : "line", result.seconds);
  // Columns for the models this run evaluated (F1, then F1-macro).
  std::vector<ModelName> models;
  for (const ModelName& name : kModels) {
    if (MeanOf(result, name.model, -1).sites > 0) models.push_back(name);
  }
  std::string header = "| site | sources | test units (anomalous) |";
  std::string rule = "|---|---|---:|";
  for (const char* metric : {"F1", "F1-macro"}) {
    for (const ModelName& m : models) {
      absl::StrAppend(&header, " ", metric, " ", m.column, " |");
      absl::StrAppend(&rule, "---:|");
    }
  }
  absl::StrAppend(&md, header, "\n", rule, "\n");
  for (const FederatedSite& s : sites) {
    const SiteEvaluation* fed = Find(result, "federated", s.name);
    if (fed == nullptr) fed = Find(result, "initial", s.name);  // --dp-private-only
    if (fed == nullptr) fed = Find(result, "label_free", s.name);
    absl::StrAppend(
        &md, absl::StrFormat("| %s%s | %s | %d (%d) |", s.name,
                             s.labeled ? "" : absl::StrCat(" (joins round ", s.join_round + 1, ")"),
                             absl::StrJoin(s.sources, ", "), fed ? fed->units : 0,
                             fed ? fed->anomalous_units : 0));
    for (bool macro : {false, true}) {
      for (const ModelName& m : models) {
        absl::StrAppend(&md, " ", Cell(Find(result, m.model, s.name), macro), " |");
      }
    }
    absl::StrAppend(&md, "\n");
  }
  absl::StrAppend(&md, "| **mean** | | |");
  for (bool macro : {false, true}) {
    for (const ModelName& m : models) {
      const Mean mean = MeanOf(result, m.model, -1);
      absl::StrAppend(&md, absl::StrFormat(" %.3f |", macro ? mean.f1_macro : mean.f1));
    }
  }
  absl::StrAppend(&md, "\n", ChoiceSummary(o, result), "\n");
  absl::StrAppend(&md,
                  "| round | sites | contrastive loss | meta loss | shared delta norm | s |\n"
                  "|---:|---:|---:|---:|---:|---:|\n");
  for (const RoundLog& r : result.rounds) {
    absl::StrAppend(
        &md, absl::StrFormat("| %d | %d | %.4f | %.4f | %.4f | %.1f |\n", r.round, r.participants,
                             r.contrastive_loss, r.meta_loss, r.update_norm, r.seconds));
  }
  absl::StrAppend(&md, "\nChecks:\n");
  for (const auto& [text, pass] : Checks(o, result)) {
    absl::StrAppend(&md, "- ", pass ? "PASS" : "MISS", ": ", text, "\n");
  }
  absl::StrAppend(&md, "\nNotes:\n");
  for (const FederatedSite& s : sites) {
    for (const auto& n : s.notes) absl::StrAppend(&md, "- ", n, "\n");
  }
  for (const auto& n : result.notes) absl::StrAppend(&md, "- ", n, "\n");
  return md;
}

}  // namespace

absl::StatusOr<std::string> WriteFederatedResults(const FederatedOptions& options,
                                                  const std::vector<FederatedSite>& sites,
                                                  const FederatedResult& result) {
  FEDLOG_RETURN_IF_ERROR(MakeDirs(options.out_dir));
  const std::string md = Markdown(options, sites, result);
  FEDLOG_RETURN_IF_ERROR(
      WriteFileAtomic(JoinPath(options.out_dir, "results.json"), Json(options, sites, result)));
  FEDLOG_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(options.out_dir, "results.md"), md));
  return md;
}

}  // namespace fedlog::offline
