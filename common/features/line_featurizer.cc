#include "common/features/line_featurizer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace fedlog::features {
namespace {

constexpr const char* kAlarmWords[] = {"error", "fail", "failed", "exception", "denied", "refused",
                                       "timeout", "killed", "panic", "fatal", "critical", "corrupt"};

// FNV-1a over the normalised token.
uint64_t HashToken(const std::string& tok) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : tok) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

bool IsAlarmWord(const std::string& tok) {
  for (const char* w : kAlarmWords) {
    if (tok.find(w) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

LineFeaturizer::LineFeaturizer(LineFeaturizerOptions options) : options_(options) {
  options_.hash_dim = std::max(options_.hash_dim, 1);
}

std::vector<std::string> LineFeaturizer::DenseNames() {
  return {"log_length", "log_tokens", "digit_ratio", "upper_ratio", "punct_ratio", "alarm_words"};
}

void LineFeaturizer::Featurize(absl::string_view content, float* out) const {
  const int h = options_.hash_dim;
  std::fill(out, out + dim(), 0.0f);
  int tokens = 0, digits = 0, upper = 0, punct = 0, alarms = 0;
  std::string tok;
  auto flush = [&] {
    if (tok.empty()) return;
    out[HashToken(tok) % static_cast<uint64_t>(h)] += 1.0f;
    alarms += IsAlarmWord(tok) ? 1 : 0;
    ++tokens;
    tok.clear();
  };
  for (char ch : content) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (std::isdigit(c)) ++digits;
    if (std::isupper(c)) ++upper;
    if (std::ispunct(c)) ++punct;
    if (std::isalnum(c) || c == '_' || c == '.' || c == '-') {
      tok.push_back(std::isdigit(c) ? '0' : static_cast<char>(std::tolower(c)));
      // collapse digit runs so numbers of any length share a bucket
      if (tok.size() >= 2 && tok.back() == '0' && tok[tok.size() - 2] == '0') tok.pop_back();
    } else {
      flush();
    }
  }
  flush();
  if (tokens > 0) {
    for (int i = 0; i < h; ++i) out[i] /= static_cast<float>(tokens);
  }
  const float n = std::max<float>(1.0f, static_cast<float>(content.size()));
  float* dense = out + h;
  dense[0] = std::log1p(static_cast<float>(content.size())) / 8.0f;
  dense[1] = std::log1p(static_cast<float>(tokens)) / 5.0f;
  dense[2] = static_cast<float>(digits) / n;
  dense[3] = static_cast<float>(upper) / n;
  dense[4] = static_cast<float>(punct) / n;
  dense[5] = std::min(1.0f, static_cast<float>(alarms) / 2.0f);
}

DenseMatrix LineFeaturizer::FeaturizeAll(const std::vector<std::string>& contents) const {
  DenseMatrix m(static_cast<int64_t>(contents.size()), dim());
  for (size_t i = 0; i < contents.size(); ++i) Featurize(contents[i], m.Row(static_cast<int64_t>(i)));
  return m;
}

}  // namespace fedlog::features
