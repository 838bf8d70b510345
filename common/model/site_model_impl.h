// The SiteModel implementations, created only by CreateSiteModel (site_model.cc). Internal to
// common/model.
#ifndef FEDLOG_COMMON_MODEL_SITE_MODEL_IMPL_H_
#define FEDLOG_COMMON_MODEL_SITE_MODEL_IMPL_H_

#include <memory>

#include "common/model/site_model.h"

namespace fedlog::model {

// arch "line_encoder" (encoder_site_model.cc).
std::unique_ptr<SiteModel> NewLineEncoderModel(const v1::ModelSpec& spec);
// arch "mlp_autoencoder" (mlp_site_model.cc).
std::unique_ptr<SiteModel> NewMlpAutoencoderModel(const v1::ModelSpec& spec);

}  // namespace fedlog::model

#endif  // FEDLOG_COMMON_MODEL_SITE_MODEL_IMPL_H_
