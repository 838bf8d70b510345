// The offline verb group of the `fedlog` CLI: parse, eval parsing, bench parse, synth.
#include "tools/cli/verb.h"
#include "tools/offline/verbs.h"

namespace fedlog::cli {

void AddOfflineVerbs(std::vector<Verb>* verbs) {
  verbs->push_back({"parse",
                    "parse --format NAME [--out-format csv|jsonl] [--out FILE] [--templates FILE] "
                    "[--config FILE] [--state FILE] FILE...",
                    "Parses log files into templates: per-line template ids and parameters, templates with counts.",
                    offline::RunParse});
  verbs->push_back({"eval parsing", "eval parsing --data DIR --out DIR [--config FILE] [--dump DIR]",
                    "Grouping and parsing accuracy on loghub-2k and loghub-2k-corrected; writes parsing.json/.md.",
                    offline::RunEvalParsing});
  verbs->push_back({"synth", "synth --format F --lines N --seed S --out FILE [--incident-rate R]",
                    "Writes deterministic synthetic logs with labelled incidents (FILE.labels.csv).",
                    offline::RunSynth});
}

}  // namespace fedlog::cli
