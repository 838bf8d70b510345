#include "common/features/stream_featurizer.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/logparse/drain.h"
#include "common/logparse/masks.h"

namespace fedlog::features {
namespace {

constexpr int kTextOffset = StreamFeaturizer::kTemplateDims;
constexpr int kWindowOffset = kTextOffset + TextFeaturizer::kDim;
constexpr double kTwoPi = 2.0 * std::numbers::pi;
constexpr int64_t kMsPerDay = 86'400'000;

constexpr const char* kTemplateNames[StreamFeaturizer::kTemplateDims] = {
    "tpl_id",          "tpl_rarity",         "tpl_frequency",
    "tpl_log1p_count", "tpl_wildcard_count", "tpl_wildcard_ratio",
    "tpl_length",      "tpl_first_seen"};
constexpr const char* kWindowNames[StreamFeaturizer::kWindowStats] = {
    "unique_ratio",   "error_rate",    "novelty_rate",  "mean_rarity",
    "iat_log1p_mean", "iat_log1p_std", "iat_log1p_max", "burst_rate"};
constexpr const char* kTemporalNames[StreamFeaturizer::kTemporalDims] = {
    "hour_sin", "hour_cos", "weekday_sin", "weekday_cos", "gap_log1p_s", "has_time"};

// Debian's Abseil has its own string_view type; logparse hands out std::string_view.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

// Whitespace tokens of a template, and how many of them hold a parameter ("<*>", "<IP>",
// "uid=<*>").
std::pair<int, int> TemplateShape(std::string_view text) {
  int tokens = 0, wild = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && absl::ascii_isspace(static_cast<unsigned char>(text[pos]))) ++pos;
    if (pos >= text.size()) break;
    size_t end = pos;
    while (end < text.size() && !absl::ascii_isspace(static_cast<unsigned char>(text[end]))) ++end;
    std::string_view tok = text.substr(pos, end - pos);
    ++tokens;
    if (tok.find("<*>") != std::string_view::npos || logparse::IsPlaceholder(tok)) ++wild;
    pos = end;
  }
  return {tokens, wild};
}

// Appends the lower-cased alphanumeric words of an unmasked token core; a word holding a digit
// becomes "<*>".
void AppendWords(std::string_view core, std::vector<std::string>* words) {
  size_t pos = 0;
  while (pos < core.size()) {
    while (pos < core.size() && !absl::ascii_isalnum(static_cast<unsigned char>(core[pos]))) ++pos;
    size_t end = pos;
    bool digit = false;
    while (end < core.size() && absl::ascii_isalnum(static_cast<unsigned char>(core[end]))) {
      digit |= absl::ascii_isdigit(static_cast<unsigned char>(core[end]));
      ++end;
    }
    if (end > pos)
      words->push_back(digit ? "<*>" : absl::AsciiStrToLower(Absl(core.substr(pos, end - pos))));
    pos = end;
  }
}

}  // namespace

absl::StatusOr<StreamFeaturizer> StreamFeaturizer::Create(StreamFeaturizerOptions options) {
  if (options.windows.empty())
    return absl::InvalidArgumentError("StreamFeaturizer: no window lengths");
  for (int w : options.windows) {
    if (w < 1)
      return absl::InvalidArgumentError(
          absl::StrCat("StreamFeaturizer: window length ", w, " < 1"));
  }
  if (options.token_buckets < 2)
    return absl::InvalidArgumentError("StreamFeaturizer: token_buckets < 2");
  if (options.max_words < 1) return absl::InvalidArgumentError("StreamFeaturizer: max_words < 1");
  return StreamFeaturizer(std::move(options));
}

StreamFeaturizer::StreamFeaturizer(StreamFeaturizerOptions options) : options_(std::move(options)) {
  for (const char* n : kTemplateNames) names_.push_back(n);
  for (const std::string& n : TextFeaturizer::FeatureNames()) names_.push_back(n);
  for (int w : options_.windows) {
    for (const char* n : kWindowNames) names_.push_back(absl::StrCat("win", w, "_", n));
    max_window_ = std::max(max_window_, static_cast<size_t>(w));
  }
  for (const char* n : kTemporalNames) names_.push_back(n);
  const std::vector<std::string>& text = TextFeaturizer::FeatureNames();
  level_error_col_ =
      kTextOffset +
      static_cast<int>(std::find(text.begin(), text.end(), "level_error") - text.begin());
  level_fatal_col_ =
      kTextOffset +
      static_cast<int>(std::find(text.begin(), text.end(), "level_fatal") - text.begin());
}

void StreamFeaturizer::Featurize(const LineEvent& event, LineFeatures* out) {
  out->dense.assign(names_.size(), 0.0f);
  float* d = out->dense.data();
  text_.Featurize(Absl(event.content), Absl(event.level),
                  absl::MakeSpan(d + kTextOffset, TextFeaturizer::kDim));
  auto it = sources_.find(Absl(event.source));
  if (it == sources_.end()) it = sources_.emplace(std::string(event.source), SourceState{}).first;
  SourceState& state = it->second;
  Recent now{};
  TemplateBlock(event, state, d, &now);
  now.error = d[level_error_col_] > 0.5f || d[level_fatal_col_] > 0.5f;
  now.time_ms = event.time_ms;
  state.recent.push_back(now);
  if (state.recent.size() > max_window_) state.recent.pop_front();
  WindowBlock(state, d + kWindowOffset);
  TemporalBlock(event, state, d + kWindowOffset + options_.windows.size() * kWindowStats);
  if (event.time_ms != logparse::kNoTime) state.last_time_ms = event.time_ms;
  out->tokens = HashTokens(event.content);
}

void StreamFeaturizer::TemplateBlock(const LineEvent& event, SourceState& state, float* out,
                                     Recent* now) const {
  ++state.lines;
  const int64_t count = event.template_id < 0 ? 1 : ++state.template_counts[event.template_id];
  const double p = static_cast<double>(count) / static_cast<double>(state.lines);
  const auto [tokens, wild] = TemplateShape(event.template_text);
  out[0] = static_cast<float>(event.template_id);
  out[1] = static_cast<float>(-std::log(p));
  out[2] = static_cast<float>(p);
  out[3] = static_cast<float>(std::log1p(static_cast<double>(count)));
  out[4] = static_cast<float>(wild);
  out[5] = tokens == 0 ? 0.0f : static_cast<float>(wild) / static_cast<float>(tokens);
  out[6] = static_cast<float>(tokens);
  out[7] = count == 1 ? 1.0f : 0.0f;
  now->template_id = event.template_id;
  now->novel = count == 1;
  now->rarity = out[1];
}

void StreamFeaturizer::WindowBlock(const SourceState& state, float* out) const {
  const std::deque<Recent>& r = state.recent;
  std::vector<int32_t> ids;
  for (size_t w = 0; w < options_.windows.size(); ++w, out += kWindowStats) {
    const size_t n = std::min(r.size(), static_cast<size_t>(options_.windows[w]));
    const size_t begin = r.size() - n;
    ids.clear();
    double errors = 0, novel = 0, rarity = 0, gap_sum = 0, gap_sq = 0, gap_max = 0, bursts = 0,
           gaps = 0;
    for (size_t i = begin; i < r.size(); ++i) {
      ids.push_back(r[i].template_id);
      errors += r[i].error;
      novel += r[i].novel;
      rarity += r[i].rarity;
      if (i == begin || r[i].time_ms == logparse::kNoTime || r[i - 1].time_ms == logparse::kNoTime)
        continue;
      const double g = std::log1p(std::max<double>(0, r[i].time_ms - r[i - 1].time_ms) / 1000.0);
      gap_sum += g;
      gap_sq += g * g;
      gap_max = std::max(gap_max, g);
      bursts += (r[i].time_ms - r[i - 1].time_ms) <= options_.burst_gap_s * 1000.0;
      ++gaps;
    }
    std::sort(ids.begin(), ids.end());
    const double distinct = static_cast<double>(std::unique(ids.begin(), ids.end()) - ids.begin());
    const double dn = static_cast<double>(n);
    const double mean = gaps > 0 ? gap_sum / gaps : 0;
    out[0] = static_cast<float>(distinct / dn);
    out[1] = static_cast<float>(errors / dn);
    out[2] = static_cast<float>(novel / dn);
    out[3] = static_cast<float>(rarity / dn);
    out[4] = static_cast<float>(mean);
    out[5] =
        static_cast<float>(gaps > 0 ? std::sqrt(std::max(0.0, gap_sq / gaps - mean * mean)) : 0);
    out[6] = static_cast<float>(gap_max);
    out[7] = static_cast<float>(gaps > 0 ? bursts / gaps : 0);
  }
}

void StreamFeaturizer::TemporalBlock(const LineEvent& event, const SourceState& state,
                                     float* out) const {
  if (event.time_ms == logparse::kNoTime) return;  // all zero, has_time 0
  const int64_t day = FloorDiv(event.time_ms, kMsPerDay);
  const double hour = static_cast<double>(event.time_ms - day * kMsPerDay) / 3'600'000.0;
  const int64_t weekday = ((day + 3) % 7 + 7) % 7;  // 1970-01-01 was a Thursday; Monday = 0
  out[0] = static_cast<float>(std::sin(kTwoPi * hour / 24.0));
  out[1] = static_cast<float>(std::cos(kTwoPi * hour / 24.0));
  out[2] = static_cast<float>(std::sin(kTwoPi * static_cast<double>(weekday) / 7.0));
  out[3] = static_cast<float>(std::cos(kTwoPi * static_cast<double>(weekday) / 7.0));
  if (state.last_time_ms != logparse::kNoTime) {
    out[4] = static_cast<float>(
        std::log1p(std::max<double>(0, event.time_ms - state.last_time_ms) / 1000.0));
  }
  out[5] = 1.0f;
}

std::vector<int32_t> StreamFeaturizer::HashTokens(std::string_view content) const {
  std::vector<std::string> words;
  size_t pos = 0;
  while (pos < content.size() && words.size() < static_cast<size_t>(options_.max_words)) {
    while (pos < content.size() && absl::ascii_isspace(static_cast<unsigned char>(content[pos])))
      ++pos;
    size_t end = pos;
    while (end < content.size() && !absl::ascii_isspace(static_cast<unsigned char>(content[end])))
      ++end;
    if (end == pos) break;
    const std::string_view token = content.substr(pos, end - pos);
    const logparse::TokenCore core = logparse::FindCore(token);
    const std::string_view core_text = token.substr(core.begin, core.end - core.begin);
    const logparse::MaskKind kind = logparse::ClassifyCore(core_text, logparse::kAllMasks);
    if (kind != logparse::MaskKind::kNone) {
      words.emplace_back(logparse::MaskPlaceholder(kind));
    } else {
      AppendWords(core_text, &words);
    }
    pos = end;
  }
  if (words.size() > static_cast<size_t>(options_.max_words)) words.resize(options_.max_words);
  const uint64_t buckets = static_cast<uint64_t>(options_.token_buckets - 1);
  std::vector<int32_t> ids;
  ids.reserve(words.size() * 2);
  std::vector<uint64_t> hashes;
  for (const std::string& w : words) {
    hashes.push_back(logparse::TokenHash(w));
    ids.push_back(static_cast<int32_t>(hashes.back() % buckets + 1));
  }
  if (options_.bigrams) {
    for (size_t i = 1; i < words.size(); ++i) {
      const uint64_t h = logparse::TokenHash(words[i], logparse::TokenHash("\x1f", hashes[i - 1]));
      ids.push_back(static_cast<int32_t>(h % buckets + 1));
    }
  }
  return ids;
}

}  // namespace fedlog::features
