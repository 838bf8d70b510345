// `fedlog model pretrain --data DIR --exclude-system NAME[,NAME...] --out FILE [...]`: the public lines
// (LoadPublicLines), model::PretrainPublic, the bundle at FILE and its description at FILE.json (pretrain.h).
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/base/file_util.h"
#include "common/base/status_macros.h"
#include "common/fl/bundle_stream.h"
#include "common/labels/seed_labeled.h"
#include "common/logparse/line_parser.h"
#include "common/model/line_input.h"
#include "common/model/public_pretrain.h"
#include "tools/cli/args.h"
#include "tools/offline/eval_detect.h"
#include "tools/offline/eval_federated.h"
#include "tools/offline/pretrain.h"

namespace fedlog::offline {
namespace {

constexpr char kUsage[] =
    "usage: fedlog model pretrain --exclude-system NAME[,NAME...] --out FILE [--data DIR] [--rounds R] "
    "[--contrastive-steps S] [--meta-iterations M] [--inner-steps I] [--seed S] [--threads T]\n"
    "  NAME: a loghub source to leave out (e.g. HDFS,BGL: the systems the model will be evaluated or run on)\n";
constexpr char kExcludedKey[] = "\"excluded_systems\": \"";

absl::StatusOr<std::vector<std::string>> CanonicalExclusions(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const std::string& name : names) {
    const logparse::BuiltinFormat* f = logparse::FindBuiltinFormat(name);
    if (f == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("--exclude-system: '", name, "' is not a loghub source"));
    }
    if (std::find(out.begin(), out.end(), f->name) == out.end()) out.push_back(f->name);
  }
  if (out.empty()) return absl::InvalidArgumentError("--exclude-system names no source");
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

absl::StatusOr<PublicLines> LoadPublicLines(const std::string& data_dir,
                                            const std::vector<std::string>& exclude) {
  PublicLines out;
  FEDLOG_ASSIGN_OR_RETURN(out.excluded, CanonicalExclusions(exclude));
  int64_t offset = 0;
  for (const logparse::BuiltinFormat& f : logparse::BuiltinFormats()) {
    const std::string src = f.name;
    if (std::find(out.excluded.begin(), out.excluded.end(), src) != out.excluded.end()) continue;
    std::string raw;
    std::vector<std::string_view> lines;
    std::vector<labels::SeedLabeledLine> rows;
    FEDLOG_RETURN_IF_ERROR(ReadSeedLabeledSource(data_dir, src, &raw, &lines, &rows));
    std::vector<int> labels;
    for (const auto& r : rows) labels.push_back(r.anomaly_label);
    FEDLOG_ASSIGN_OR_RETURN(model::LineSet set, FeaturizeSiteLines(src, src, lines, labels));
    // No adapter, and one template space per source (Drain numbers each source's templates from 0).
    for (std::string& s : set.sources) s.clear();
    for (int64_t& t : set.template_ids) {
      if (t >= 0) t += offset;
    }
    offset += int64_t{1} << 32;
    model::AppendLineSet(set, &out.lines);
    out.sources.push_back(src);
  }
  if (out.sources.empty()) return absl::InvalidArgumentError("every public source is excluded");
  return out;
}

absl::StatusOr<std::vector<std::string>> PretrainExcludedSystems(const std::string& model_path) {
  const std::string path = model_path + ".json";
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return absl::NotFoundError(absl::StrCat(path, ": no pre-training description"));
  const size_t at = text->find(kExcludedKey);
  const size_t begin = at == std::string::npos ? at : at + sizeof(kExcludedKey) - 1;
  const size_t end = begin == std::string::npos ? begin : text->find('"', begin);
  if (end == std::string::npos) return absl::InvalidArgumentError(absl::StrCat(path, ": no excluded_systems"));
  return std::vector<std::string>(absl::StrSplit(text->substr(begin, end - begin), ',', absl::SkipEmpty()));
}

namespace {

struct PretrainArgs {
  std::string data_dir;
  std::string out;
  std::vector<std::string> exclude;
  model::PublicPretrainOptions options;
};

absl::StatusOr<PretrainArgs> ParsePretrainArgs(const cli::Args& args) {
  PretrainArgs p;
  const char* env = std::getenv("FEDLOG_DATA_DIR");
  p.data_dir = args.Get("data", env != nullptr && *env != '\0' ? env : "../shared/data");
  p.out = args.Get("out");
  p.exclude = absl::StrSplit(args.Get("exclude-system"), ',', absl::SkipWhitespace());
  model::LocalWork& w = p.options.work;
  FEDLOG_ASSIGN_OR_RETURN(int64_t rounds, args.GetInt("rounds", p.options.rounds));
  FEDLOG_ASSIGN_OR_RETURN(int64_t steps, args.GetInt("contrastive-steps", w.contrastive_steps));
  FEDLOG_ASSIGN_OR_RETURN(int64_t meta, args.GetInt("meta-iterations", w.meta_iterations));
  FEDLOG_ASSIGN_OR_RETURN(int64_t inner, args.GetInt("inner-steps", w.inner_steps));
  FEDLOG_ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed", 7));
  FEDLOG_ASSIGN_OR_RETURN(int64_t threads, args.GetInt("threads", 1));
  if (rounds < 1 || rounds > 10000 || steps < 0 || steps > 100000 || meta < 0 || meta > 100000 || inner < 0 ||
      inner > 100 || seed < 0 || threads < 1 || threads > 256) {
    return absl::InvalidArgumentError(
        "--rounds must be in 1..10000, --contrastive-steps and --meta-iterations in 0..100000, --inner-steps in "
        "0..100, --seed >= 0, --threads in 1..256");
  }
  p.options.rounds = static_cast<int>(rounds);
  w.contrastive_steps = static_cast<int>(steps);
  w.meta_iterations = static_cast<int>(meta);
  w.inner_steps = static_cast<int>(inner);
  w.runtime.seed = static_cast<uint64_t>(seed);
  w.runtime.threads = static_cast<int>(threads);
  return p;
}

std::string Describe(const PretrainArgs& p, const PublicLines& data, const model::PublicPretrainResult& r,
                     const model::EncoderSpec& spec, const std::string& sha256) {
  const model::LocalWork& w = p.options.work;
  return absl::StrFormat(
      "{\n  \"format\": \"fedlog public pre-training 1\",\n  %s%s\",\n  \"sources\": \"%s\",\n"
      "  \"data\": \"seed-labeled-2k labels over loghub-2k logs\",\n  \"lines\": %d,\n  \"anomalous_lines\": %d,\n"
      "  \"rounds\": %d,\n  \"contrastive_steps\": %d,\n  \"meta_iterations\": %d,\n  \"inner_steps\": %d,\n"
      "  \"batch_size\": %d,\n  \"seed\": %d,\n  \"dense_dim\": %d,\n  \"init_seed\": %d,\n"
      "  \"last_contrastive_loss\": %.6g,\n  \"last_meta_loss\": %.6g,\n  \"seconds\": %.1f,\n"
      "  \"sha256\": \"%s\"\n}\n",
      kExcludedKey, absl::StrJoin(data.excluded, ","), absl::StrJoin(data.sources, ","), r.lines,
      r.anomalous_lines, p.options.rounds, w.contrastive_steps, w.meta_iterations, w.inner_steps, w.batch_size,
      w.runtime.seed, spec.dense_dim, spec.init_seed, r.contrastive_loss, r.meta_loss, r.seconds, sha256);
}

absl::Status Pretrain(const PretrainArgs& p) {
  FEDLOG_ASSIGN_OR_RETURN(PublicLines data, LoadPublicLines(p.data_dir, p.exclude));
  std::cerr << absl::StrFormat("public lines: %d from %s (excluded: %s)\n", data.lines.size(),
                               absl::StrJoin(data.sources, ","), absl::StrJoin(data.excluded, ","));
  model::EncoderSpec spec = model::DefaultEncoderSpec(static_cast<int>(data.lines.dense.cols));
  spec.init_seed = p.options.work.runtime.seed;
  FEDLOG_ASSIGN_OR_RETURN(model::PublicPretrainResult r, model::PretrainPublic(spec, data.lines, p.options));
  FEDLOG_ASSIGN_OR_RETURN(fl::BundleFileInfo info, fl::WriteBundleFile(p.out, r.weights));
  FEDLOG_RETURN_IF_ERROR(WriteFileAtomic(p.out + ".json", Describe(p, data, r, spec, info.sha256)));
  std::cout << absl::StrFormat("%s: %d bytes, sha256 %s; %d rounds in %.1fs, last losses %.4f / %.4f\n", p.out,
                               info.size_bytes, info.sha256, p.options.rounds, r.seconds, r.contrastive_loss,
                               r.meta_loss);
  return absl::OkStatus();
}

}  // namespace

int RunModelPretrain(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args = cli::Args::Parse(
      argv, {{"data", "out", "exclude-system", "rounds", "contrastive-steps", "meta-iterations", "inner-steps",
              "seed", "threads"},
             {}});
  if (!args.ok() || !args->Has("out") || !args->Has("exclude-system")) {
    std::cerr << (args.ok() ? "--out and --exclude-system are required" : args.status().ToString()) << "\n"
              << kUsage;
    return 2;
  }
  absl::StatusOr<PretrainArgs> p = ParsePretrainArgs(*args);
  if (!p.ok()) {
    std::cerr << p.status() << "\n" << kUsage;
    return 2;
  }
  if (absl::Status s = Pretrain(*p); !s.ok()) {
    std::cerr << "model pretrain: " << s << "\n";
    return s.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}

}  // namespace fedlog::offline
