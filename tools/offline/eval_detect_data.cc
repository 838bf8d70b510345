// Dataset builders of `fedlog eval detect`: raw logs -> LineParser -> Drain -> StreamFeaturizer,
// exactly the site's path, then per-protocol rows (lines, block sessions, applications) with their
// labels.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/features/batch_featurizer.h"
#include "common/labels/alert_tags.h"
#include "common/labels/hadoop_labels.h"
#include "common/labels/hdfs_labels.h"
#include "common/labels/seed_labeled.h"
#include "common/logparse/line_reader.h"
#include "common/model/line_input.h"
#include "tools/offline/eval_detect.h"

namespace fedlog::offline {
namespace {

using features::FeaturizedBatch;

struct Pipeline {
  std::unique_ptr<logparse::LineParser> parser;
  std::unique_ptr<logparse::Drain> drain;
};

absl::StatusOr<Pipeline> MakePipeline(std::string_view format) {
  Pipeline p;
  FEDLOG_ASSIGN_OR_RETURN(p.parser, logparse::CreateLineParser(format));
  FEDLOG_ASSIGN_OR_RETURN(p.drain, logparse::Drain::Create({}));
  return p;
}


// Line rows: the dense columns whose name `keep` accepts, then `bag` hashed-token presence columns.
void LineRows(const FeaturizedBatch& b, const std::vector<std::string>& names, int bag,
              bool (*keep)(const std::string&), DetectDataset* out) {
  std::vector<int> cols;
  for (size_t c = 0; c < names.size(); ++c) {
    if (keep(names[c])) {
      cols.push_back(static_cast<int>(c));
      out->feature_names.push_back(names[c]);
    }
  }
  for (int j = 0; j < bag; ++j) out->feature_names.push_back(absl::StrCat("tok_", j));
  out->x = DenseMatrix(b.dense.rows, static_cast<int64_t>(out->feature_names.size()));
  for (int64_t r = 0; r < b.dense.rows; ++r) {
    float* o = out->x.Row(r);
    for (size_t j = 0; j < cols.size(); ++j) o[j] = b.dense.Row(r)[cols[j]];
    for (int32_t t : b.tokens[static_cast<size_t>(r)])
      o[cols.size() + static_cast<size_t>(t % bag)] = 1.0f;
  }
}

// Session rows (blocks, applications): log1p line count, log1p count of each template, mean and max
// of every dense line feature over the session's lines.
void SessionRows(const FeaturizedBatch& b, const std::vector<std::string>& names,
                 const logparse::Drain& drain, const std::vector<std::vector<size_t>>& sessions,
                 DetectDataset* out) {
  std::map<int32_t, int> tpl_col;
  for (const auto& lines : sessions) {
    for (size_t i : lines) tpl_col.emplace(drain.Resolve(b.template_ids[i]), 0);
  }
  int next = 1;
  out->feature_names = {"log1p_lines"};
  for (auto& [id, col] : tpl_col) {
    col = next++;
    out->feature_names.push_back(absl::StrCat("tpl_count_", id));
  }
  const int64_t d = b.dense.cols;
  for (const std::string& n : names) out->feature_names.push_back("mean_" + n);
  for (const std::string& n : names) out->feature_names.push_back("max_" + n);
  out->x = DenseMatrix(static_cast<int64_t>(sessions.size()),
                       static_cast<int64_t>(out->feature_names.size()));
  for (size_t s = 0; s < sessions.size(); ++s) {
    float* o = out->x.Row(static_cast<int64_t>(s));
    float* mean = o + next;
    float* max = mean + d;
    std::fill(max, max + d, -INFINITY);
    for (size_t i : sessions[s]) {
      o[tpl_col[drain.Resolve(b.template_ids[i])]] += 1.0f;
      for (int64_t c = 0; c < d; ++c) {
        mean[c] += b.dense.Row(static_cast<int64_t>(i))[c];
        max[c] = std::max(max[c], b.dense.Row(static_cast<int64_t>(i))[c]);
      }
    }
    const float n = static_cast<float>(sessions[s].size());
    for (int c = 1; c < next; ++c) o[c] = std::log1p(o[c]);
    for (int64_t c = 0; c < d; ++c) {
      mean[c] = n > 0 ? mean[c] / n : 0.0f;
      if (n == 0) max[c] = 0.0f;
    }
    o[0] = std::log1p(n);
  }
}

// The encoder's input for every line of `b` under `source`: template ids resolved through `drain`
// and offset by `tid_offset`, so that sources sharing a batch never share a template id.
model::LineSet EncoderLines(const FeaturizedBatch& b, const logparse::Drain& drain,
                            const std::string& source, int64_t tid_offset,
                            const std::vector<int>& labels) {
  model::LineSet lines = model::FromBatch(b, source, labels);
  for (size_t i = 0; i < lines.template_ids.size(); ++i) {
    lines.template_ids[i] = tid_offset + drain.Resolve(b.template_ids[i]);
  }
  return lines;
}

bool KeepCrossSource(const std::string& name) { return name != "tpl_id"; }
bool KeepNonWindow(const std::string& name) {
  return name != "tpl_id" && !absl::StartsWith(name, "win") && name != "gap_log1p_s";
}

}  // namespace

absl::Status RequireDataFile(const std::string& path) {
  if (!FileExists(path))
    return absl::NotFoundError(absl::StrCat("data file ", path, " not found (see --data)"));
  return absl::OkStatus();
}

absl::Status ReadSeedLabeledSource(const std::string& data_dir, const std::string& source,
                                   std::string* raw, std::vector<std::string_view>* lines,
                                   std::vector<labels::SeedLabeledLine>* rows) {
  const std::string csv =
      JoinPath(data_dir, absl::StrCat("seed-labeled-2k/", source, "_2k_labeled.csv"));
  const std::string log =
      JoinPath(data_dir, absl::StrCat("loghub-2k/", source, "/", source, "_2k.log"));
  FEDLOG_RETURN_IF_ERROR(RequireDataFile(csv));
  FEDLOG_RETURN_IF_ERROR(RequireDataFile(log));
  FEDLOG_ASSIGN_OR_RETURN(*rows, labels::ReadSeedLabeledCsv(csv));
  FEDLOG_ASSIGN_OR_RETURN(*raw, logparse::ReadLogFile(log));
  *lines = logparse::SplitLines(*raw);
  if (lines->size() != rows->size()) {
    return absl::FailedPreconditionError(absl::StrCat(source, ": ", lines->size(),
                                                      " log lines but ", rows->size(),
                                                      " labelled rows"));
  }
  return absl::OkStatus();
}

absl::StatusOr<DetectDataset> LoadLosoDataset(const DetectOptions& options) {
  FEDLOG_ASSIGN_OR_RETURN(auto featurizer, features::StreamFeaturizer::Create());
  FeaturizedBatch batch;
  DetectDataset out;
  out.unit = "line";
  int64_t tid_offset = 0;
  for (const logparse::BuiltinFormat& f : logparse::BuiltinFormats()) {
    const std::string src = f.name;
    std::string raw;
    std::vector<std::string_view> lines;
    std::vector<labels::SeedLabeledLine> rows;
    FEDLOG_RETURN_IF_ERROR(ReadSeedLabeledSource(options.data_dir, src, &raw, &lines, &rows));
    FEDLOG_ASSIGN_OR_RETURN(Pipeline p, MakePipeline(src));
    FeaturizedBatch source_batch;
    FEDLOG_RETURN_IF_ERROR(
        features::FeaturizeLog(*p.parser, p.drain.get(), &featurizer, src, lines, &source_batch));
    std::vector<int> source_y;
    for (const auto& row : rows) source_y.push_back(row.anomalous() ? 1 : 0);
    model::AppendLineSet(EncoderLines(source_batch, *p.drain, src, tid_offset, source_y),
                         &out.lines);
    tid_offset += int64_t{1} << 24;
    batch.dense.cols = source_batch.dense.cols;
    batch.dense.data.insert(batch.dense.data.end(), source_batch.dense.data.begin(),
                            source_batch.dense.data.end());
    batch.dense.rows += source_batch.dense.rows;
    batch.tokens.insert(batch.tokens.end(), source_batch.tokens.begin(), source_batch.tokens.end());
    batch.template_ids.insert(batch.template_ids.end(), source_batch.template_ids.begin(),
                              source_batch.template_ids.end());
    // The labels belong to the CSV's rows: row i must be log line i, i.e. its Content is part of
    // the line. (Our parser may cut header and content differently from the study's CSV; that is
    // only counted.)
    logparse::ParsedLine parsed;
    int misaligned = 0, cut_differently = 0, anomalies = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
      p.parser->Parse(logparse::StripCr(lines[i]), &parsed);
      misaligned += lines[i].find(rows[i].content) == std::string_view::npos;
      cut_differently += parsed.content != rows[i].content;
      anomalies += rows[i].anomalous();
      out.y.push_back(rows[i].anomalous() ? 1 : 0);
      out.group.push_back(src);
    }
    if (misaligned > 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(src, ": ", misaligned,
                       " CSV rows whose Content is not in the log line of the same number"));
    }
    out.notes.push_back(absl::StrCat(
        src, ": ", lines.size(), " lines, ", anomalies, " anomalous, ", p.drain->num_clusters(),
        " templates; every CSV row matches its log "
        "line, ",
        cut_differently, " lines where our header parser cuts the content differently"));
  }
  LineRows(batch, featurizer.feature_names(), options.token_bag, KeepCrossSource, &out);
  return out;
}

absl::StatusOr<DetectDataset> LoadBglDataset(const DetectOptions& options) {
  const std::string path = JoinPath(options.data_dir, "bgl-20k/BGL_20k.log");
  FEDLOG_RETURN_IF_ERROR(RequireDataFile(path));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<labels::AlertTaggedLine> tagged,
                          labels::ReadAlertTaggedLog(path));
  // The site never sees the alert tag: every line is parsed with "-" in the tag position.
  std::vector<std::string> untagged;
  DetectDataset out;
  out.unit = "line";
  for (const auto& t : tagged) {
    untagged.push_back("- " + t.message);
    out.y.push_back(t.alert ? 1 : 0);
  }
  std::vector<std::string_view> views(untagged.begin(), untagged.end());
  FEDLOG_ASSIGN_OR_RETURN(auto featurizer, features::StreamFeaturizer::Create());
  FEDLOG_ASSIGN_OR_RETURN(Pipeline p, MakePipeline("BGL"));
  FeaturizedBatch batch;
  FEDLOG_RETURN_IF_ERROR(
      features::FeaturizeLog(*p.parser, p.drain.get(), &featurizer, "bgl", views, &batch));
  LineRows(batch, featurizer.feature_names(), options.token_bag, KeepNonWindow, &out);
  out.lines = EncoderLines(batch, *p.drain, "BGL", 0, out.y);
  out.notes.push_back(absl::StrCat("BGL_20k: ", tagged.size(), " lines, ",
                                   std::count(out.y.begin(), out.y.end(), 1), " alerts, ",
                                   p.drain->num_clusters(),
                                   " templates; window and gap features dropped "
                                   "(the 20k lines are sampled, not a contiguous stream)"));
  return out;
}

absl::StatusOr<DetectDataset> LoadHdfsDataset(const DetectOptions& options) {
  const std::string log = JoinPath(options.data_dir, "hdfs-v1-2pct/HDFS_2pct.log.gz");
  const std::string csv = JoinPath(options.data_dir, "hdfs-v1-2pct/HDFS_2pct_block_labels.csv");
  FEDLOG_RETURN_IF_ERROR(RequireDataFile(log));
  FEDLOG_RETURN_IF_ERROR(RequireDataFile(csv));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<labels::BlockLabel> blocks, labels::ReadHdfsBlockLabels(csv));
  FEDLOG_ASSIGN_OR_RETURN(std::string raw, logparse::ReadLogFile(log));
  const std::vector<std::string_view> lines = logparse::SplitLines(raw);
  FEDLOG_ASSIGN_OR_RETURN(auto featurizer, features::StreamFeaturizer::Create());
  FEDLOG_ASSIGN_OR_RETURN(Pipeline p, MakePipeline("HDFS"));
  FeaturizedBatch batch;
  FEDLOG_RETURN_IF_ERROR(
      features::FeaturizeLog(*p.parser, p.drain.get(), &featurizer, "hdfs", lines, &batch));
  absl::flat_hash_map<std::string, size_t> index;
  DetectDataset out;
  out.unit = "block";
  for (const auto& b : blocks) {
    index.emplace(b.block_id, index.size());
    out.y.push_back(b.anomalous ? 1 : 0);
  }
  std::vector<std::vector<size_t>> sessions(blocks.size());
  int64_t unlabelled = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    for (absl::string_view id :
         labels::ExtractBlockIds(absl::string_view(lines[i].data(), lines[i].size()))) {
      auto it = index.find(id);
      if (it == index.end()) {
        ++unlabelled;
      } else {
        sessions[it->second].push_back(i);
      }
    }
  }
  SessionRows(batch, featurizer.feature_names(), *p.drain, sessions, &out);
  out.lines = EncoderLines(batch, *p.drain, "HDFS", 0, {});
  out.sessions = std::move(sessions);
  out.notes.push_back(absl::StrCat("HDFS_2pct: ", lines.size(), " lines, ", blocks.size(),
                                   " labelled blocks (", std::count(out.y.begin(), out.y.end(), 1),
                                   " anomalous), ", p.drain->num_clusters(), " templates, ",
                                   unlabelled, " block mentions of unlabelled blocks ignored"));
  return out;
}

absl::StatusOr<DetectDataset> LoadHadoopDataset(const DetectOptions& options) {
  const std::string root = JoinPath(options.data_dir, "hadoop-apps");
  FEDLOG_RETURN_IF_ERROR(RequireDataFile(JoinPath(root, "abnormal_label.txt")));
  FEDLOG_ASSIGN_OR_RETURN(std::vector<labels::HadoopAppLabel> apps,
                          labels::ReadHadoopAppLabels(JoinPath(root, "abnormal_label.txt")));
  std::sort(apps.begin(), apps.end(),
            [](const auto& a, const auto& b) { return a.application_id < b.application_id; });
  FEDLOG_ASSIGN_OR_RETURN(auto featurizer, features::StreamFeaturizer::Create());
  FEDLOG_ASSIGN_OR_RETURN(Pipeline p, MakePipeline("Hadoop"));
  FeaturizedBatch batch;
  DetectDataset out;
  out.unit = "application";
  std::vector<std::vector<size_t>> sessions;
  int containers = 0;
  for (const auto& app : apps) {
    const std::filesystem::path dir = JoinPath(root, app.application_id);
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      out.notes.push_back(absl::StrCat(app.application_id, ": no log directory, skipped"));
      continue;
    }
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      if (e.path().extension() == ".log") files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    std::vector<size_t> rows;
    for (const std::string& file : files) {
      FEDLOG_ASSIGN_OR_RETURN(std::string raw, logparse::ReadLogFile(file));
      const std::vector<std::string_view> lines = logparse::SplitLines(raw);
      const size_t first = static_cast<size_t>(batch.dense.rows);
      const std::string source = std::filesystem::path(file).filename().string();
      FEDLOG_RETURN_IF_ERROR(
          features::FeaturizeLog(*p.parser, p.drain.get(), &featurizer, source, lines, &batch));
      for (size_t r = first; r < static_cast<size_t>(batch.dense.rows); ++r) rows.push_back(r);
      ++containers;
    }
    sessions.push_back(std::move(rows));
    out.y.push_back(app.anomalous() ? 1 : 0);
  }
  SessionRows(batch, featurizer.feature_names(), *p.drain, sessions, &out);
  out.lines = EncoderLines(batch, *p.drain, "Hadoop", 0, {});
  out.sessions = std::move(sessions);
  out.notes.push_back(absl::StrCat("hadoop-apps: ", out.y.size(), " applications (",
                                   std::count(out.y.begin(), out.y.end(), 1), " faulty), ",
                                   containers, " container logs, ", batch.dense.rows, " lines, ",
                                   p.drain->num_clusters(), " templates"));
  return out;
}

}  // namespace fedlog::offline
