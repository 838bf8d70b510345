// Output side of `fedlog eval detect`: results.json, results.md, and hand-written SVG plots (no
// plotting library): precision-recall curves and per-class score histograms.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/eval/metrics.h"
#include "common/eval/report.h"
#include "tools/offline/eval_detect.h"

namespace fedlog::offline {
namespace {

constexpr double kW = 560, kH = 400, kLeft = 60, kRight = 150, kTop = 40, kBottom = 50;
constexpr const char* kColors[] = {"#d62728", "#1f77b4", "#2ca02c",
                                   "#ff7f0e", "#9467bd", "#8c564b"};

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppend(&out, absl::StrFormat("\\u%04x", c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else
      out += c;
  }
  return out;
}

double Px(double v) { return kLeft + v * (kW - kLeft - kRight); }
double Py(double v) { return kH - kBottom - v * (kH - kTop - kBottom); }

// Frame, title, axis labels and ticks at 0, 0.2, ..., 1 (tick labels scaled by y_max on the y
// axis).
std::string Axes(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                 double y_max) {
  std::string s = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
      "font-family=\"sans-serif\" "
      "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      "<text x=\"%.0f\" y=\"22\" font-size=\"14\">%s</text>\n",
      kW, kH, kLeft, Escape(title));
  absl::StrAppend(
      &s,
      absl::StrFormat("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                      "stroke=\"black\"/>\n",
                      Px(0), Py(1), Px(1) - Px(0), Py(0) - Py(1)));
  for (int i = 0; i <= 5; ++i) {
    const double v = i / 5.0;
    absl::StrAppend(
        &s, absl::StrFormat(
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.1f</text>\n"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.2g</text>\n",
                Px(v), Py(0), Px(v), Py(1), Px(v), Py(0) + 16, v, Px(0) - 6, Py(v) + 4, v * y_max));
  }
  absl::StrAppend(
      &s, absl::StrFormat("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", Px(0.5),
                          kH - 12, Escape(xlabel)));
  absl::StrAppend(&s, absl::StrFormat("<text x=\"16\" y=\"%.1f\" transform=\"rotate(-90 16 %.1f)\" "
                                      "text-anchor=\"middle\">%s</text>\n",
                                      Py(0.5), Py(0.5), Escape(ylabel)));
  return s;
}

std::string Legend(int i, const std::string& color, const std::string& text) {
  const double y = kTop + 10 + 20 * i;
  return absl::StrFormat(
      "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
      "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
      kW - kRight + 10, y - 10, color, kW - kRight + 28, y, Escape(text));
}

std::string SummaryCell(const eval::MeanStd& m) {
  return absl::StrFormat("%.4f ± %.4f", m.mean, m.std);
}

std::string TableLabel(const ResultTable& t) {
  return t.k >= 0 ? absl::StrCat(t.model, " k=", t.k) : t.model;
}

std::string FileStem(const ResultTable& t) {
  return t.k >= 0 ? absl::StrCat(t.model, "_k", t.k) : t.model;
}

std::string SummaryMarkdown(const std::vector<ResultTable>& tables, bool single_class) {
  std::string md =
      "| model | k | sources | precision | recall | F1 | F1-macro | balanced acc. | AUROC | PR-AUC "
      "| MCC |\n"
      "|---|---:|---:|---|---|---|---|---|---|---|---|\n";
  for (const ResultTable& t : tables) {
    const auto& rows = single_class ? t.single_class : t.rows;
    if (rows.empty()) continue;
    const eval::AggregateMetrics a = eval::Aggregate(rows);
    const bool ranking = a.ranking_sources > 0;
    absl::StrAppend(&md, "| ", t.model, " | ", t.k >= 0 ? absl::StrCat(t.k) : "-", " | ", a.sources,
                    " | ", SummaryCell(a.precision), " | ", SummaryCell(a.recall), " | ",
                    SummaryCell(a.f1), " | ", SummaryCell(a.f1_macro), " | ",
                    SummaryCell(a.balanced_accuracy), " | ", ranking ? SummaryCell(a.auroc) : "n/a",
                    " | ", ranking ? SummaryCell(a.pr_auc) : "n/a", " | ", SummaryCell(a.mcc),
                    " |\n");
  }
  return md;
}

std::string ResultsJson(const DetectOptions& o, const DetectDataset& d,
                        const std::vector<ResultTable>& tables, double runtime_s,
                        const std::vector<std::string>& plots) {
  std::vector<std::string> notes, entries, plot_names;
  for (const std::string& n : d.notes) notes.push_back(JsonString(n));
  for (const std::string& p : plots) plot_names.push_back(JsonString(p));
  for (const ResultTable& t : tables) {
    std::vector<std::string> th;
    for (double v : t.thresholds) th.push_back(absl::StrFormat("%.6g", v));
    std::string e = absl::StrCat("{\"model\": ", JsonString(t.model), ", \"k\": ", t.k,
                                 ", \"thresholds\": [", absl::StrJoin(th, ", "),
                                 "], \"report\": ", eval::RenderJson({t.title, t.rows}));
    if (!t.single_class.empty()) {
      absl::StrAppend(&e, ", \"single_class_sources\": ",
                      eval::RenderJson({t.title + " (one class)", t.single_class}));
    }
    entries.push_back(e + "}");
  }
  return absl::StrCat(
      "{\"protocol\": ", JsonString(o.protocol), ", \"seed\": ", o.seed,
      ", \"unit\": ", JsonString(d.unit), ", \"samples\": ", d.x.rows, ", \"features\": ", d.x.cols,
      ", \"selected_features\": ", std::min<int64_t>(o.select_k, d.x.cols),
      ", \"xgb_rounds\": ", o.xgb_rounds, ", \"repeats\": ", o.repeats,
      ", \"runtime_s\": ", absl::StrFormat("%.1f", runtime_s), ",\n\"notes\": [",
      absl::StrJoin(notes, ", "), "],\n\"plots\": [", absl::StrJoin(plot_names, ", "),
      "],\n\"results\": [\n", absl::StrJoin(entries, ",\n"), "\n]}\n");
}

}  // namespace

std::string PrCurveSvg(const std::string& title, const std::vector<const ResultTable*>& tables) {
  std::string s = Axes(title, "recall", "precision", 1.0);
  for (size_t i = 0; i < tables.size(); ++i) {
    const ResultTable& t = *tables[i];
    std::vector<size_t> order(t.pooled_scores.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return t.pooled_scores[a] > t.pooled_scores[b]; });
    const double pos =
        static_cast<double>(std::count(t.pooled_labels.begin(), t.pooled_labels.end(), 1));
    std::string points;
    double tp = 0, seen = 0;
    for (size_t j = 0; j < order.size(); ++j) {
      tp += t.pooled_labels[order[j]];
      ++seen;
      if (j + 1 < order.size() && t.pooled_scores[order[j + 1]] == t.pooled_scores[order[j]])
        continue;
      absl::StrAppend(&points,
                      absl::StrFormat("%.1f,%.1f ", Px(pos > 0 ? tp / pos : 0), Py(tp / seen)));
    }
    const std::string color = kColors[i % 6];
    absl::StrAppend(&s, "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"", color,
                    "\" points=\"", points, "\"/>\n");
    const absl::StatusOr<double> ap = eval::AveragePrecision(t.pooled_labels, t.pooled_scores);
    s += Legend(static_cast<int>(i), color,
                absl::StrFormat("%s AP %.3f", TableLabel(t), ap.ok() ? *ap : 0.0));
  }
  return s + "</svg>\n";
}

std::string ScoreHistogramSvg(const std::string& title, const ResultTable& t, int bins) {
  std::vector<double> share[2] = {std::vector<double>(bins, 0.0), std::vector<double>(bins, 0.0)};
  double n[2] = {0, 0};
  for (size_t i = 0; i < t.pooled_scores.size(); ++i) {
    const int b = std::clamp(static_cast<int>(t.pooled_scores[i] * bins), 0, bins - 1);
    share[t.pooled_labels[i]][b] += 1;
    n[t.pooled_labels[i]] += 1;
  }
  double y_max = 1e-9;
  for (int c = 0; c < 2; ++c) {
    for (double& v : share[c]) {
      v = n[c] > 0 ? v / n[c] : 0;
      y_max = std::max(y_max, v);
    }
  }
  std::string s = Axes(title, "score", "share of the class", y_max);
  const double bw = 1.0 / bins;
  const char* colors[2] = {"#1f77b4", "#d62728"};
  for (int c = 0; c < 2; ++c) {
    for (int b = 0; b < bins; ++b) {
      const double x0 = Px(b * bw + c * bw / 2), x1 = Px(b * bw + (c + 1) * bw / 2);
      absl::StrAppend(
          &s, absl::StrFormat("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                              "fill=\"%s\"/>\n",
                              x0, Py(share[c][b] / y_max), x1 - x0, Py(0) - Py(share[c][b] / y_max),
                              colors[c]));
    }
  }
  s += Legend(0, colors[0], absl::StrFormat("normal (%d)", static_cast<int>(n[0])));
  s += Legend(1, colors[1], absl::StrFormat("anomalous (%d)", static_cast<int>(n[1])));
  return s + "</svg>\n";
}

absl::Status WriteDetectResults(const DetectOptions& options, const DetectDataset& data,
                                const std::vector<ResultTable>& tables, double runtime_s) {
  FEDLOG_RETURN_IF_ERROR(MakeDirs(options.out_dir));
  std::vector<std::string> plots;
  // One PR figure per k (all models overlaid), one histogram per table.
  std::vector<int> ks;
  for (const ResultTable& t : tables) {
    if (std::find(ks.begin(), ks.end(), t.k) == ks.end()) ks.push_back(t.k);
  }
  for (int k : ks) {
    std::vector<const ResultTable*> same_k;
    for (const ResultTable& t : tables) {
      if (t.k == k) same_k.push_back(&t);
    }
    const std::string name = k >= 0 ? absl::StrCat("pr_curve_k", k, ".svg") : "pr_curve.svg";
    const std::string title = absl::StrCat(options.protocol, ": precision-recall, pooled test ",
                                           data.unit, "s", k >= 0 ? absl::StrCat(", k=", k) : "");
    FEDLOG_RETURN_IF_ERROR(
        WriteFileAtomic(JoinPath(options.out_dir, name), PrCurveSvg(title, same_k)));
    plots.push_back(name);
  }
  for (const ResultTable& t : tables) {
    const std::string name = absl::StrCat("score_hist_", FileStem(t), ".svg");
    FEDLOG_RETURN_IF_ERROR(WriteFileAtomic(
        JoinPath(options.out_dir, name),
        ScoreHistogramSvg(absl::StrCat(options.protocol, ": test scores, ", TableLabel(t)), t)));
    plots.push_back(name);
  }
  FEDLOG_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(options.out_dir, "results.json"),
                                         ResultsJson(options, data, tables, runtime_s, plots)));
  std::string md = absl::StrFormat(
      "# Detection, protocol `%s` (seed %d)\n\n%d %ss, %d features, top %d kept; "
      "runtime %.1f s.\n\n",
      options.protocol, options.seed, data.x.rows, data.unit, data.x.cols,
      std::min<int64_t>(options.select_k, data.x.cols), runtime_s);
  for (const std::string& n : data.notes) absl::StrAppend(&md, "- ", n, "\n");
  absl::StrAppend(&md, "\n## Summary (mean ± std over sources / splits)\n\n",
                  SummaryMarkdown(tables, false));
  bool any_single = false;
  for (const ResultTable& t : tables) any_single |= !t.single_class.empty();
  if (any_single) {
    absl::StrAppend(&md, "\n## Sources with a single class (reported separately)\n\n",
                    SummaryMarkdown(tables, true));
  }
  for (const ResultTable& t : tables) {
    absl::StrAppend(&md, "\n", eval::RenderMarkdown({t.title, t.rows}));
    if (!t.single_class.empty())
      absl::StrAppend(&md, "\n", eval::RenderMarkdown({t.title + " (one class)", t.single_class}));
  }
  return WriteFileAtomic(JoinPath(options.out_dir, "results.md"), md);
}

}  // namespace fedlog::offline
