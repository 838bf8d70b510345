#include "common/fewshot/detector_choice.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/status_macros.h"

namespace fedlog::fewshot {
namespace {

// Cosine similarity; NaN when a vector has no direction or the sizes differ.
double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty()) return std::nan("");
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += static_cast<double>(b[i]) * b[i];
  }
  if (!(na > 0) || !(nb > 0)) return std::nan("");
  return dot / std::sqrt(na * nb);
}

// F1 of the anomalous class: `alerts[i]` against `labels[i]`.
double F1(const std::vector<int>& labels, const std::vector<bool>& alerts) {
  double tp = 0, fp = 0, fn = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    tp += labels[i] == 1 && alerts[i] ? 1 : 0;
    fp += labels[i] == 0 && alerts[i] ? 1 : 0;
    fn += labels[i] == 1 && !alerts[i] ? 1 : 0;
  }
  return tp > 0 ? 2 * tp / (2 * tp + fp + fn) : 0.0;
}

}  // namespace

double SignTestP(int wins, int losses) {
  if (wins <= 0) return 1.0;
  const int n = wins + std::max(losses, 0);
  // Sum of C(n, i) / 2^n for i >= wins, in logs (n is at most a few thousand labelled units).
  double p = 0;
  for (int i = wins; i <= n; ++i) {
    p += std::exp(std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) - n * std::log(2.0));
  }
  return std::min(p, 1.0);
}

absl::StatusOr<ChoiceMode> ParseChoiceMode(std::string_view name) {
  if (name.empty() || name == "auto") return ChoiceMode::kAuto;
  if (name == "model") return ChoiceMode::kModel;
  if (name == "label_free") return ChoiceMode::kLabelFree;
  return absl::InvalidArgumentError(
      absl::StrCat("detector choice '", std::string(name), "' is not one of auto, model, label_free"));
}

std::string_view ChoiceModeName(ChoiceMode mode) {
  switch (mode) {
    case ChoiceMode::kModel:
      return "model";
    case ChoiceMode::kLabelFree:
      return "label_free";
    case ChoiceMode::kAuto:
      break;
  }
  return "auto";
}

absl::StatusOr<CompareUnits> ParseCompareUnits(std::string_view name) {
  if (name.empty()) return ChoiceOptions().compare;
  if (name == "templates") return CompareUnits::kTemplates;
  if (name == "lines") return CompareUnits::kLines;
  return absl::InvalidArgumentError(
      absl::StrCat("detector choice compare '", std::string(name), "' is not one of templates, lines"));
}

std::string_view CompareUnitsName(CompareUnits units) {
  return units == CompareUnits::kLines ? "lines" : "templates";
}

absl::Status ChoiceOptions::Validate() const {
  if (!(margin >= 0 && margin <= 1)) {
    return absl::InvalidArgumentError("detector choice margin must be in [0, 1]");
  }
  return absl::OkStatus();
}

namespace {

// The model's leave-one-out verdict on units[i]: the class of the nearest unit by cosine of the
// embeddings among those `keep` admits.
template <typename Keep>
void ModelVerdict(const std::vector<Unit>& units, const std::vector<int>& y, size_t i, Keep keep,
                  LooVerdict* v) {
  double best = -2;
  for (size_t j = 0; j < units.size(); ++j) {
    if (!keep(j)) continue;
    const double c = Cosine(units[i].embedding, units[j].embedding);
    if (std::isfinite(c) && c > best) {
      best = c;
      v->has_model = true;
      v->model_alert = y[j] == 1;
    }
  }
}

// The label-free detector's verdict on `unit` when fitted on the units `keep` admits (embeddings
// dropped: the encoder-free rule); with none left, the unit's own label-free alert.
template <typename Keep>
absl::StatusOr<bool> LabelFreeVerdict(const std::vector<Unit>& plain, const std::vector<int>& y,
                                      const Unit& unit, Keep keep, const FewShotOptions& fo,
                                      double free_threshold, const std::vector<double>& reference) {
  std::vector<Unit> rest;
  std::vector<int> rest_y;
  for (size_t j = 0; j < plain.size(); ++j) {
    if (!keep(j)) continue;
    rest.push_back(plain[j]);
    rest_y.push_back(y[j]);
  }
  if (rest.empty()) return unit.free_alert;  // nothing left to decide it: the label-free alert
  FEDLOG_ASSIGN_OR_RETURN(FewShotDetector d, FewShotDetector::Fit(rest, rest_y, fo, free_threshold, reference));
  return d.Alert(unit);
}

}  // namespace

absl::StatusOr<std::vector<LooVerdict>> LeaveOneOutVerdicts(const std::vector<Unit>& units,
                                                            const std::vector<int>& labels,
                                                            const FewShotOptions& options,
                                                            double free_threshold,
                                                            const std::vector<double>& reference,
                                                            CompareUnits compare) {
  if (units.size() != labels.size()) {
    return absl::InvalidArgumentError("detector choice: units and labels must match");
  }
  FewShotOptions fo = options;
  fo.encoder_weight = 0;
  FEDLOG_RETURN_IF_ERROR(fo.Validate());
  // Groups of units with the same token set (twins).
  std::map<std::vector<uint64_t>, int> group_of;
  std::vector<int> group(units.size()), y(units.size());
  std::vector<Unit> plain(units.size());
  for (size_t i = 0; i < units.size(); ++i) {
    group[i] = group_of.try_emplace(units[i].tokens, static_cast<int>(group_of.size())).first->second;
    y[i] = labels[i] > 0 ? 1 : 0;
    plain[i].tokens = units[i].tokens;
    plain[i].free_score = units[i].free_score;
    plain[i].free_alert = units[i].free_alert;
  }
  std::vector<LooVerdict> out;
  std::set<std::pair<int, int>> seen;  // (group, label) already given a verdict
  // kLines: twins with the same label, label-free score and alert get the same label-free verdict
  // (the fitted supports differ only in which of them is left out), so it is fitted once per such key.
  std::map<std::tuple<int, int, double, bool>, bool> free_done;
  for (size_t i = 0; i < units.size(); ++i) {
    const bool first = seen.insert({group[i], y[i]}).second;
    if (compare == CompareUnits::kTemplates && !first) continue;
    LooVerdict v;
    v.label = y[i];
    v.twin = !first;
    if (compare == CompareUnits::kTemplates) {
      const auto other_set = [&](size_t j) { return group[j] != group[i]; };
      ModelVerdict(units, y, i, other_set, &v);
      FEDLOG_ASSIGN_OR_RETURN(v.label_free_alert,
                              LabelFreeVerdict(plain, y, plain[i], other_set, fo, free_threshold, reference));
    } else {
      const auto other_line = [&](size_t j) { return j != i; };
      ModelVerdict(units, y, i, other_line, &v);
      const double score = std::isfinite(plain[i].free_score) ? plain[i].free_score : -1;
      const auto key = std::make_tuple(group[i], y[i], score, plain[i].free_alert);
      auto it = free_done.find(key);
      if (it == free_done.end()) {
        FEDLOG_ASSIGN_OR_RETURN(const bool alert,
                                LabelFreeVerdict(plain, y, plain[i], other_line, fo, free_threshold, reference));
        it = free_done.emplace(key, alert).first;
      }
      v.label_free_alert = it->second;
    }
    out.push_back(v);
  }
  return out;
}

Choice ChooseDetector(const ChoiceOptions& options, bool has_model, bool has_label_free,
                      const std::vector<LooVerdict>& verdicts) {
  Choice c;
  if (!has_model || !has_label_free) {
    c.model = has_model;
    c.reason = has_model ? "model (no label-free detector)" : "label-free (no model detector for the source)";
    return c;
  }
  if (options.mode != ChoiceMode::kAuto) {
    c.model = options.mode == ChoiceMode::kModel;
    c.reason = absl::StrCat(c.model ? "model" : "label-free", " (detect.detector_choice ",
                            std::string(ChoiceModeName(options.mode)), ")");
    return c;
  }
  std::vector<int> y;
  std::vector<bool> model_alert, free_alert;
  for (const LooVerdict& v : verdicts) {
    if (!v.has_model) continue;
    y.push_back(v.label);
    model_alert.push_back(v.model_alert);
    free_alert.push_back(v.label_free_alert);
    if (!v.twin) (v.label == 1 ? c.anomalous : c.normal) += 1;
  }
  c.compared = static_cast<int>(y.size());
  if (c.anomalous < ChoiceOptions::kMinLabelsPerClass || c.normal < ChoiceOptions::kMinLabelsPerClass) {
    c.reason = absl::StrFormat("label-free (auto: %d anomalous and %d normal labelled units, %d per class needed "
                               "to compare with the model)",
                               c.anomalous, c.normal, ChoiceOptions::kMinLabelsPerClass);
    return c;
  }
  c.model_f1 = F1(y, model_alert);
  c.label_free_f1 = F1(y, free_alert);
  for (size_t i = 0; i < y.size(); ++i) {
    const bool model_right = model_alert[i] == (y[i] == 1);
    const bool free_right = free_alert[i] == (y[i] == 1);
    c.model_only_right += model_right && !free_right ? 1 : 0;
    c.label_free_only_right += free_right && !model_right ? 1 : 0;
  }
  c.evidence_p = SignTestP(c.model_only_right, c.label_free_only_right);
  const bool leads = c.model_f1 > c.label_free_f1 + options.margin;
  c.model = leads && c.evidence_p <= ChoiceOptions::kEvidenceLevel;
  c.reason = absl::StrFormat("%s (auto: leave-one-out F1 on %d labelled %s, model %.3f, label-free %.3f, "
                             "margin %.3g; only the model right on %d, only label-free on %d, sign test p %.3f%s)",
                             c.model ? "model" : "label-free", c.compared,
                             options.compare == CompareUnits::kLines ? "lines" : "units", c.model_f1,
                             c.label_free_f1, options.margin, c.model_only_right, c.label_free_only_right,
                             c.evidence_p, leads && !c.model ? ", above the 0.05 a choice of the model needs" : "");
  return c;
}

}  // namespace fedlog::fewshot
