// Small embedding fixtures for the torch-free detector tests of common/model (few_shot_fused_test,
// hybrid_support_test, prototype_prior_test): unit vectors in 2-D and row-major matrices of them.
#ifndef FEDLOG_TESTS_COMMON_MODEL_UNIT_VECTORS_H_
#define FEDLOG_TESTS_COMMON_MODEL_UNIT_VECTORS_H_

#include <cmath>
#include <vector>

namespace fedlog::model::testing {

// The unit vector in 2-D at `degrees` from the first axis.
inline std::vector<float> At(double degrees) {
  const double r = degrees * M_PI / 180.0;
  return {static_cast<float>(std::cos(r)), static_cast<float>(std::sin(r))};
}

// `rows` laid end to end (a row-major matrix).
inline std::vector<float> Rows(const std::vector<std::vector<float>>& rows) {
  std::vector<float> out;
  for (const auto& r : rows) out.insert(out.end(), r.begin(), r.end());
  return out;
}

}  // namespace fedlog::model::testing

#endif  // FEDLOG_TESTS_COMMON_MODEL_UNIT_VECTORS_H_
