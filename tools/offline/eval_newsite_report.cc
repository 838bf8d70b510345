// Reports of `fedlog eval newsite`'s k > 0 protocol: the per-system table (markdown) and the
// learning curve (SVG: F1 of the few-shot detector and of Jaccard 1-NN against the labels used,
// random vs active, one panel per system).
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/offline/eval_newsite.h"

namespace fedlog::offline {
namespace {

constexpr int kPanelW = 300, kPanelH = 220, kMargin = 40;

struct Curve {
  std::string method, strategy, color, dash;
};

std::vector<std::pair<double, double>> Points(const KShotResult& r, const Curve& c) {
  std::vector<std::pair<double, double>> pts;
  for (const KShotRow& row : r.rows) {
    if (row.k == 0 && row.method == "novelty (k=0, site threshold)") pts.emplace_back(0, row.f1);
    if (row.method == c.method && row.strategy == c.strategy) pts.emplace_back(row.labels, row.f1);
  }
  std::sort(pts.begin(), pts.end());
  return pts;
}

}  // namespace

std::string KShotMarkdown(const std::string& system, const std::string& unit, const KShotResult& r) {
  std::string md = absl::StrFormat(
      "\n### %s, k > 0 (labels from the pool of %lld %ss, %lld anomalous; measured on %lld other %ss, "
      "%lld anomalous; the notes below say which part of the stream each is)\n\n",
      system, static_cast<long long>(r.pool_units), unit, static_cast<long long>(r.pool_anomalous),
      static_cast<long long>(r.test_units), unit, static_cast<long long>(r.test_anomalous));
  for (const std::string& n : r.notes) absl::StrAppend(&md, "- ", n, "\n");
  absl::StrAppend(&md,
                  "\n| method | labels | k per class | AUROC | PR-AUC | P | R | F1 (site threshold) | "
                  "alerts/10k lines | alert rate, normal ", unit, "s | runs |\n"
                  "|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const KShotRow& row : r.rows) {
    absl::StrAppendFormat(&md, "| %s | %s | %s | %.3f | %.3f | %.3f | %.3f | **%.3f** | %.1f | %.4f | %d |\n",
                          row.method, row.strategy, row.k > 0   ? absl::StrFormat("%d (%.0f used)", row.k, row.labels)
                          : row.k < 0 ? absl::StrFormat("all (%.0f used)", row.labels)
                                      : std::string("0"),
                          row.auroc, row.pr_auc, row.precision, row.recall, row.f1, row.alerts_per_10k,
                          row.normal_alert_rate, row.runs);
  }
  return md;
}

std::string LearningCurveSvg(const std::vector<std::pair<std::string, KShotResult>>& results) {
  const std::vector<Curve> curves = {{"fewshot", "random", "#1f77b4", ""},
                                     {"fewshot", "active", "#d62728", ""},
                                     {"jaccard-1nn", "random", "#1f77b4", "4 3"},
                                     {"jaccard-1nn", "active", "#d62728", "4 3"}};
  const int width = static_cast<int>(std::max<size_t>(results.size(), 1)) * (kPanelW + kMargin) + kMargin;
  const int height = kPanelH + 2 * kMargin + 40;
  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
      "font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
      width, height);
  for (size_t p = 0; p < results.size(); ++p) {
    const KShotResult& r = results[p].second;
    const int x0 = kMargin + static_cast<int>(p) * (kPanelW + kMargin), y0 = kMargin;
    double max_labels = 1;
    for (const KShotRow& row : r.rows) max_labels = std::max(max_labels, row.labels);
    auto px = [&](double l) { return x0 + l / max_labels * kPanelW; };
    auto py = [&](double f1) { return y0 + (1.0 - f1) * kPanelH; };
    absl::StrAppendFormat(&svg,
                          "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">%s: F1 against labels</text>\n"
                          "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n",
                          x0, y0 - 8, results[p].first, x0, y0, kPanelW, kPanelH);
    for (double t : {0.0, 0.25, 0.5, 0.75, 1.0}) {
      absl::StrAppendFormat(&svg, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n", x0 - 4,
                            py(t) + 4, t);
    }
    absl::StrAppendFormat(&svg, "<text x=\"%d\" y=\"%d\">0</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.0f labels</text>\n",
                          x0, y0 + kPanelH + 14, x0 + kPanelW, y0 + kPanelH + 14, max_labels);
    for (const Curve& c : curves) {
      const auto pts = Points(r, c);
      if (pts.size() < 2) continue;
      std::string path;
      for (const auto& [l, f] : pts) absl::StrAppendFormat(&path, "%s%.1f,%.1f", path.empty() ? "" : " ", px(l), py(f));
      absl::StrAppendFormat(&svg, "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s/>\n", path,
                            c.color, c.dash.empty() ? "" : absl::StrCat(" stroke-dasharray=\"", c.dash, "\""));
      for (const auto& [l, f] : pts) absl::StrAppendFormat(&svg, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n", px(l), py(f), c.color);
    }
  }
  const int ly = height - 20;
  int lx = kMargin;
  for (const Curve& c : curves) {
    absl::StrAppendFormat(&svg, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>"
                          "<text x=\"%d\" y=\"%d\">%s, %s</text>\n",
                          lx, ly, lx + 24, ly, c.color, c.dash.empty() ? "" : absl::StrCat(" stroke-dasharray=\"", c.dash, "\""),
                          lx + 28, ly + 4, c.method, c.strategy);
    lx += 170;
  }
  absl::StrAppend(&svg, "</svg>\n");
  return svg;
}

}  // namespace fedlog::offline
