#include "common/model/site_model.h"

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/model/site_model_impl.h"

namespace fedlog::model {

absl::StatusOr<std::unique_ptr<SiteModel>> CreateSiteModel(const v1::ModelSpec& spec) {
  const std::string arch = spec.arch().empty() ? kDefaultArch : spec.arch();
  if (arch == "line_encoder") return NewLineEncoderModel(spec);
  if (arch == "mlp_autoencoder") return NewMlpAutoencoderModel(spec);
  return absl::InvalidArgumentError(
      absl::StrCat("model.arch '", arch, "' is unknown (line_encoder, mlp_autoencoder)"));
}

absl::Status FinalizeModelSpec(v1::ModelSpec* spec) {
  if (spec->init_seed() == 0) spec->set_init_seed(42);
  FEDLOG_ASSIGN_OR_RETURN(std::unique_ptr<SiteModel> model, CreateSiteModel(*spec));
  return model->FinalizeSpec(spec);
}

}  // namespace fedlog::model
