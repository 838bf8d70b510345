// Gradient-boosted trees through libxgboost's C API (Debian libxgboost-dev 1.7, `xgboost/c_api.h`):
// binary logistic objective, histogram tree method, seeded, a fixed number of rounds. Every C call
// is checked and its error text (XGBGetLastError) comes back as an absl::Status; handles are owned
// by RAII wrappers, so no path leaks a booster or matrix. XGBoost's own logging is silenced
// (verbosity 0). Thread-compatible: Fit mutates; Score and GainImportance are const but share the
// booster, which XGBoost documents as safe for concurrent prediction.
#ifndef FEDLOG_COMMON_CLASSIC_XGBOOST_MODEL_H_
#define FEDLOG_COMMON_CLASSIC_XGBOOST_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/classic/classifier.h"

namespace fedlog::classic {

struct XgboostOptions {
  int rounds = 100;  // boosting rounds (trees)
  int max_depth = 6;
  double eta = 0.3;        // learning rate
  double subsample = 0.8;  // row subsampling per tree
  double colsample_bytree = 0.8;
  double min_child_weight = 1.0;
  double lambda = 1.0;  // L2 on leaf weights
  int nthread = 2;
  uint64_t seed = 0;
  std::string tree_method = "hist";
  // Any further "name" -> "value" parameters handed to XGBoosterSetParam verbatim (after the
  // above), e.g.
  // {"max_bin", "128"}. XGBoost rejects unknown or malformed ones at training time, which Fit
  // reports.
  std::vector<std::pair<std::string, std::string>> extra_params;
};

class XgboostModel : public BinaryClassifier {
 public:
  explicit XgboostModel(XgboostOptions options = {});
  ~XgboostModel() override;
  XgboostModel(XgboostModel&&) noexcept;
  XgboostModel& operator=(XgboostModel&&) noexcept;

  absl::Status Fit(const DenseMatrix& x, absl::Span<const int> y,
                   absl::Span<const float> weights) override;
  absl::StatusOr<std::vector<double>> Score(const DenseMatrix& x) const override;
  std::string name() const override { return "xgboost"; }

  // Total gain of the splits on each of the `num_features` training columns (0 for unused columns):
  // the tree importance used by feature selection. FailedPrecondition before Fit.
  absl::StatusOr<std::vector<double>> GainImportance() const;

  // The trained model in XGBoost's JSON format, and back (e.g. for shipping with a detector).
  absl::StatusOr<std::string> SaveJson() const;
  static absl::StatusOr<XgboostModel> LoadJson(const std::string& json, int num_features);

 private:
  struct Booster;
  XgboostOptions options_;
  std::unique_ptr<Booster> booster_;
  int64_t num_features_ = 0;
};

}  // namespace fedlog::classic

#endif  // FEDLOG_COMMON_CLASSIC_XGBOOST_MODEL_H_
