#include "common/classic/xgboost_model.h"

#include <cmath>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/base/status_macros.h"
#include "xgboost/c_api.h"

namespace fedlog::classic {
namespace {

// Turns an XGBoost return code into a Status carrying XGBoost's own message.
absl::Status Check(int rc, absl::string_view what) {
  if (rc == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("xgboost ", what, ": ", XGBGetLastError()));
}

struct MatrixDeleter {
  void operator()(void* h) const { XGDMatrixFree(h); }
};
using MatrixPtr = std::unique_ptr<void, MatrixDeleter>;

absl::StatusOr<MatrixPtr> MakeMatrix(const DenseMatrix& x) {
  if (x.rows == 0 || x.cols == 0) return absl::InvalidArgumentError("xgboost: empty matrix");
  DMatrixHandle h = nullptr;
  FEDLOG_RETURN_IF_ERROR(Check(XGDMatrixCreateFromMat(x.data.data(), static_cast<bst_ulong>(x.rows),
                                                      static_cast<bst_ulong>(x.cols), NAN, &h),
                               "XGDMatrixCreateFromMat"));
  return MatrixPtr(h);
}

absl::Status SilenceOnce() {
  static const int rc = XGBSetGlobalConfig("{\"verbosity\": 0}");
  return Check(rc, "XGBSetGlobalConfig");
}

}  // namespace

struct XgboostModel::Booster {
  BoosterHandle handle = nullptr;
  ~Booster() {
    if (handle != nullptr) XGBoosterFree(handle);
  }
};

XgboostModel::XgboostModel(XgboostOptions options) : options_(std::move(options)) {}
XgboostModel::~XgboostModel() = default;
XgboostModel::XgboostModel(XgboostModel&&) noexcept = default;
XgboostModel& XgboostModel::operator=(XgboostModel&&) noexcept = default;

absl::Status XgboostModel::Fit(const DenseMatrix& x, absl::Span<const int> y,
                               absl::Span<const float> weights) {
  FEDLOG_RETURN_IF_ERROR(ValidateTrainingData(x, y, weights));
  if (options_.rounds < 1) return absl::InvalidArgumentError("xgboost: rounds must be >= 1");
  FEDLOG_RETURN_IF_ERROR(SilenceOnce());
  FEDLOG_ASSIGN_OR_RETURN(MatrixPtr dtrain, MakeMatrix(x));
  std::vector<float> labels(y.begin(), y.end());
  FEDLOG_RETURN_IF_ERROR(Check(
      XGDMatrixSetFloatInfo(dtrain.get(), "label", labels.data(), labels.size()), "set labels"));
  if (!weights.empty()) {
    FEDLOG_RETURN_IF_ERROR(
        Check(XGDMatrixSetFloatInfo(dtrain.get(), "weight", weights.data(), weights.size()),
              "set weights"));
  }
  auto booster = std::make_unique<Booster>();
  DMatrixHandle mats[1] = {dtrain.get()};
  FEDLOG_RETURN_IF_ERROR(Check(XGBoosterCreate(mats, 1, &booster->handle), "XGBoosterCreate"));
  const std::vector<std::pair<std::string, std::string>> params = {
      {"objective", "binary:logistic"},
      {"tree_method", options_.tree_method},
      {"max_depth", absl::StrCat(options_.max_depth)},
      {"eta", absl::StrCat(options_.eta)},
      {"subsample", absl::StrCat(options_.subsample)},
      {"colsample_bytree", absl::StrCat(options_.colsample_bytree)},
      {"min_child_weight", absl::StrCat(options_.min_child_weight)},
      {"lambda", absl::StrCat(options_.lambda)},
      {"nthread", absl::StrCat(options_.nthread)},
      {"seed", absl::StrCat(options_.seed)},
      {"verbosity", "0"},
  };
  for (const auto& list : {params, options_.extra_params}) {
    for (const auto& [k, v] : list) {
      FEDLOG_RETURN_IF_ERROR(Check(XGBoosterSetParam(booster->handle, k.c_str(), v.c_str()),
                                   absl::StrCat("set ", k, "=", v)));
    }
  }
  for (int it = 0; it < options_.rounds; ++it) {
    FEDLOG_RETURN_IF_ERROR(Check(XGBoosterUpdateOneIter(booster->handle, it, dtrain.get()),
                                 absl::StrCat("round ", it)));
  }
  booster_ = std::move(booster);
  num_features_ = x.cols;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<double>> XgboostModel::Score(const DenseMatrix& x) const {
  if (booster_ == nullptr) return absl::FailedPreconditionError("xgboost: Score before Fit");
  if (x.cols != num_features_) {
    return absl::InvalidArgumentError(
        absl::StrCat("xgboost: ", x.cols, " columns, trained on ", num_features_));
  }
  if (x.rows == 0) return std::vector<double>();
  FEDLOG_ASSIGN_OR_RETURN(MatrixPtr d, MakeMatrix(x));
  const char* config =
      "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
      "\"strict_shape\": false}";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  FEDLOG_RETURN_IF_ERROR(
      Check(XGBoosterPredictFromDMatrix(booster_->handle, d.get(), config, &shape, &dim, &result),
            "XGBoosterPredictFromDMatrix"));
  bst_ulong n = 1;
  for (bst_ulong i = 0; i < dim; ++i) n *= shape[i];
  if (n != static_cast<bst_ulong>(x.rows)) {
    return absl::InternalError(absl::StrCat("xgboost: ", n, " predictions for ", x.rows, " rows"));
  }
  return std::vector<double>(result, result + n);
}

absl::StatusOr<std::vector<double>> XgboostModel::GainImportance() const {
  if (booster_ == nullptr)
    return absl::FailedPreconditionError("xgboost: GainImportance before Fit");
  bst_ulong n = 0, dim = 0;
  const char** names = nullptr;
  const bst_ulong* shape = nullptr;
  const float* scores = nullptr;
  FEDLOG_RETURN_IF_ERROR(
      Check(XGBoosterFeatureScore(booster_->handle, "{\"importance_type\": \"total_gain\"}", &n,
                                  &names, &dim, &shape, &scores),
            "XGBoosterFeatureScore"));
  std::vector<double> out(static_cast<size_t>(num_features_), 0.0);
  for (bst_ulong i = 0; i < n; ++i) {
    // Without feature names XGBoost calls column j "f<j>".
    absl::string_view name = names[i];
    int col = -1;
    if (name.size() < 2 || name[0] != 'f' || !absl::SimpleAtoi(name.substr(1), &col) || col < 0 ||
        col >= num_features_) {
      return absl::InternalError(absl::StrCat("xgboost: unexpected feature name '", name, "'"));
    }
    out[static_cast<size_t>(col)] = scores[i];
  }
  return out;
}

absl::StatusOr<std::string> XgboostModel::SaveJson() const {
  if (booster_ == nullptr) return absl::FailedPreconditionError("xgboost: SaveJson before Fit");
  bst_ulong len = 0;
  const char* buf = nullptr;
  FEDLOG_RETURN_IF_ERROR(
      Check(XGBoosterSaveModelToBuffer(booster_->handle, "{\"format\": \"json\"}", &len, &buf),
            "save model"));
  return std::string(buf, len);
}

absl::StatusOr<XgboostModel> XgboostModel::LoadJson(const std::string& json, int num_features) {
  if (num_features < 1) return absl::InvalidArgumentError("xgboost: num_features must be >= 1");
  FEDLOG_RETURN_IF_ERROR(SilenceOnce());
  XgboostModel model;
  auto booster = std::make_unique<Booster>();
  FEDLOG_RETURN_IF_ERROR(Check(XGBoosterCreate(nullptr, 0, &booster->handle), "XGBoosterCreate"));
  FEDLOG_RETURN_IF_ERROR(
      Check(XGBoosterLoadModelFromBuffer(booster->handle, json.data(), json.size()), "load model"));
  model.booster_ = std::move(booster);
  model.num_features_ = num_features;
  return model;
}

}  // namespace fedlog::classic
