// Label verdicts of `fedlog label` in the site's labels store (DetectStore's labels table, the store
// `fedlog feedback` writes): how a verdict is keyed there and how live detection reads the
// "whole template is normal" ones back. Both kinds are operator feedback, so their origins start
// with "feedback:" and the site trainer (client/site_trainer.cc, MergeFeedback) trains on them
// from the next round, as it does with verdicts on alerts:
//   feedback:label:<source>:<sha256 of the line>   a line labeled anomalous (1) or normal (0);
//   feedback:template:<source>:<template text>     the line's whole template declared normal (0).
// A verdict on a session (`fedlog label`'s session candidates) is stored as one of its lines:
//   session:<source>:<sha256 of the line>          the line's session, and its group of sessions of
//                                                  the same shape, anomalous (1) or normal (0).
// It is not a verdict on the line (an anomalous session is mostly usual lines), so it does not
// start with "feedback:" (the trainer leaves it out) and live detection gives it to the sessions
// only, not to a model's support, the few-shot support or the line threshold.
// A second verdict on the same line (or template) replaces the first. Thread-safety: stateless.
#ifndef FEDLOG_CLIENT_DETECT_LABEL_VERDICTS_H_
#define FEDLOG_CLIENT_DETECT_LABEL_VERDICTS_H_

#include <string>
#include <string_view>
#include <vector>

#include "client/detect/detect_store.h"
#include "common/active/normal_templates.h"

namespace fedlog::client::detect {

inline constexpr char kLineVerdictPrefix[] = "feedback:label:";
inline constexpr char kTemplateVerdictPrefix[] = "feedback:template:";
inline constexpr char kSessionVerdictPrefix[] = "session:";

std::string LineVerdictOrigin(const std::string& source, std::string_view line);
std::string TemplateVerdictOrigin(const std::string& source, std::string_view template_text);
std::string SessionVerdictOrigin(const std::string& source, std::string_view line);
bool IsSessionVerdict(const LabeledLine& label);
// Moves the session verdicts of `labels` to `sessions` (dropped when null), keeping the order.
void SplitSessionVerdicts(std::vector<LabeledLine>* labels, std::vector<LabeledLine>* sessions);

// The "whole template is normal" verdicts among `labels` (origins as above; others are ignored).
active::NormalTemplates NormalTemplatesFromLabels(const std::vector<LabeledLine>& labels);

}  // namespace fedlog::client::detect

#endif  // FEDLOG_CLIENT_DETECT_LABEL_VERDICTS_H_
