#include "common/features/batch_featurizer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace fedlog::features {
namespace {

void AppendRow(const LineFeatures& f, int32_t template_id, FeaturizedBatch* out) {
  out->dense.data.insert(out->dense.data.end(), f.dense.begin(), f.dense.end());
  ++out->dense.rows;
  out->tokens.push_back(f.tokens);
  out->template_ids.push_back(template_id);
}

}  // namespace

FeaturizedBatch FeaturizeBatch(StreamFeaturizer* featurizer, absl::Span<const LineEvent> events) {
  FeaturizedBatch out;
  out.dense.cols = featurizer->dim();
  out.dense.data.reserve(events.size() * static_cast<size_t>(featurizer->dim()));
  LineFeatures f;
  for (const LineEvent& e : events) {
    featurizer->Featurize(e, &f);
    AppendRow(f, e.template_id, &out);
  }
  return out;
}

absl::Status FeaturizeLog(const logparse::LineParser& parser, logparse::Drain* drain,
                          StreamFeaturizer* featurizer, std::string_view source,
                          absl::Span<const std::string_view> lines, FeaturizedBatch* out) {
  if (out->dense.rows > 0 && out->dense.cols != featurizer->dim()) {
    return absl::InvalidArgumentError(absl::StrCat("FeaturizeLog: batch has ", out->dense.cols,
                                                   " columns, featurizer ", featurizer->dim()));
  }
  out->dense.cols = featurizer->dim();
  logparse::ParsedLine parsed;
  LineFeatures f;
  std::string template_text;
  for (std::string_view raw : lines) {
    parser.Parse(logparse::StripCr(raw), &parsed);
    const logparse::DrainResult r = drain->Add(parsed.content);
    template_text = drain->TemplateText(r.template_id);
    LineEvent e{source, parsed.content, parsed.level, parsed.time_ms, r.template_id, template_text};
    featurizer->Featurize(e, &f);
    AppendRow(f, r.template_id, out);
  }
  return absl::OkStatus();
}

}  // namespace fedlog::features
