// Parsing accuracy metrics of the loghub benchmark. Thread-safe: pure functions.
//  * Grouping accuracy (GA, Zhu et al. ICSE-SEIP 2019): a line counts as correct iff the set of lines in its
//    predicted group equals the set of lines sharing its ground-truth event id.
//  * Parsing accuracy (PA, Dai et al. / loghub-2.0): a line counts as correct iff its predicted template equals
//    its ground-truth template after NormalizeTemplate.
#ifndef FEDLOG_COMMON_LOGPARSE_PARSING_ACCURACY_H_
#define FEDLOG_COMMON_LOGPARSE_PARSING_ACCURACY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fedlog::logparse {

// predicted[i] and truth[i] are the group labels of line i; both vectors have the same size (else 0 is returned).
double GroupingAccuracy(const std::vector<int64_t>& predicted, const std::vector<std::string>& truth);

// Share of lines whose normalised predicted template equals the normalised truth.
double TemplateAccuracy(const std::vector<std::string>& predicted, const std::vector<std::string>& truth);

// Every placeholder ("<*>", "<IP>", "<NUM>", ...) becomes "<*>"; placeholders joined directly or by one of
// " :.,/-_" become one "<*>" ("<*>:<*>" is an address with its port); whitespace runs become one space
// (trimmed).
std::string NormalizeTemplate(std::string_view t);

}  // namespace fedlog::logparse

#endif  // FEDLOG_COMMON_LOGPARSE_PARSING_ACCURACY_H_
