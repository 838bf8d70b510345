// The offline verb group of the `fedlog` CLI: parse, eval parsing, synth, eval detect.
#include "tools/cli/verb.h"
#include "tools/offline/eval_detect.h"
#include "tools/offline/eval_federated.h"
#include "tools/offline/eval_newsite.h"
#include "tools/offline/eval_newsite_federated.h"
#include "tools/offline/pretrain.h"
#include "tools/offline/verbs.h"

namespace fedlog::cli {

void AddPrivacyVerbs(std::vector<Verb>* verbs);  // tools/offline/privacy_verb.cc

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
  verbs->push_back({"eval detect",
                    "eval detect --protocol loso|hdfs|bgl|hadoop --out DIR [--data DIR] [--seed S] [--select-k K] "
                    "[--shots 0,5,10,30] [--repeats R] [--rounds N] [--threads T]",
                    "Classical detection baselines (XGBoost, logistic regression); writes results.json/.md and SVG plots.",
                    offline::RunEvalDetect});
  verbs->push_back({"eval federated",
                    "eval federated --protocol sources|hdfs|bgl --out DIR [--data DIR] [--rounds N] [--sites K] "
                    "[--contrastive-steps S] [--meta-iterations M] [--fedprox-mu MU] [--strategy NAME] [--seed S] "
                    "[--threads T]",
                    "Simulated federation of the line encoder vs centralized and local-only training; "
                    "writes results.json/.md.",
                    offline::RunEvalFederated});
  verbs->push_back({"model pretrain",
                    "model pretrain --exclude-system NAME[,NAME...] --out FILE [--data DIR] [--rounds R] "
                    "[--contrastive-steps S] [--meta-iterations M] [--seed S] [--threads T]",
                    "Public pre-training: an initial line-encoder model from the seed-labeled loghub sources "
                    "other than NAME (FILE, described in FILE.json), for run start / eval federated "
                    "--initial-model.",
                    offline::RunModelPretrain});
  AddPrivacyVerbs(verbs);
  verbs->push_back({"eval newsite",
                    "eval newsite --out DIR [--data DIR] [--systems bgl2k,bgl,hdfs,hadoop] [--budget R] "
                    "[--weights template=W,severity=W,...] [--federated [--fed-systems bgl,hdfs] ...]",
                    "A labelled system as a new site with no labels: the label-free detector vs the "
                    "severity-word rule and template rarity; with --federated the federation's encoder "
                    "vs the site alone; writes results.json/.md.",
                    [](const std::vector<std::string>& args) {
                      return offline::RunEvalNewsite(args, offline::FederatedNewsiteArm);
                    }});
}

}  // namespace fedlog::cli
