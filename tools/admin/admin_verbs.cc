// Admin verbs of the `fedlog` CLI: they talk to the aggregator's Admin service with the admin certificate.
// Each verb lives in its own file (admin_cli.h lists them); this file holds their usage.
#include <string>
#include <vector>

#include "tools/admin/admin_cli.h"
#include "tools/cli/verb.h"

namespace fedlog::cli {

void AddAdminVerbs(std::vector<Verb>* verbs) {
  const std::string conn = " [--server ADDR] [--pki DIR | --ca F --cert F --key F]";
  verbs->push_back({"sites", "sites" + conn,
                    "list sites: online, revoked, the promoted model they have, last seen, sources (admitted, "
                    "pending), rounds of the latest run they declined (privacy policy)",
                    admin::Sites});
  verbs->push_back({"sites revoke", "sites revoke SITE_ID" + conn,
                    "revoke a site: it is refused from now on (its own detection goes on)", admin::Revoke});
  verbs->push_back({"sites unrevoke", "sites unrevoke SITE_ID" + conn,
                    "lift a revocation; then restart the site's daemon", admin::Unrevoke});
  verbs->push_back({"sites forget", "sites forget SITE_ID" + conn,
                    "remove the entry of a site that never connected and holds nothing (an id revoked or "
                    "admitted by mistake)",
                    admin::Forget});
  verbs->push_back({"sites admit", "sites admit SITE_ID [--sources A,B]" + conn,
                    "set the sources a site may train adapters for and receive (without --sources: approve its "
                    "pending ones)",
                    admin::Admit});
  verbs->push_back({"run start",
                    "run start [--rounds N] [--min-sites K] [--site-wait-s W] [--deadline-s S] [--epochs E] [--lr LR] [--batch B] "
                    "[--seed S] [--strategy fedavg|weighted_fedavg|median|trimmed_mean] [--trim F] [--clip-norm C] "
                    "[--max-norm M] [--server-opt none|fedadam|fedyogi] [--server-lr LR] "
                    "[--update-dtype float32|float16|int8] [--zstd] [--sample-fraction F] [--contrastive-steps N] "
                    "[--meta-iterations N] [--inner-steps N] [--fedprox-mu MU] [--max-site-samples N] "
                    "[--max-site-share F] [--adaptive-clip M|off] [--secure-aggregation [--secagg-threshold T] "
                    "[--secagg-clip-range R] "
                    "[--secagg-step-s S]] [--dp-noise-multiplier S --dp-clip C [--dp-delta D] [--target-epsilon E] "
                    "[--dp-mode site|line [--dp-objective per_line|episodes] [--dp-contrastive] [--dp-anomalous-rate Q] "
                    "[--dp-normal-lines N] [--dp-scope adapters|all] [--dp-count-noise S] "
                    "[--dp-prototype-noise S | --dp-prototype-share F] [--dp-prototype-counts]]] "
                    "[--initial-model FILE [--initial-model-sha256 HEX]] [--watch]" + conn,
                    "start a federated run (N defaults to 5 rounds, K to the sites online now, S to a 120 s round deadline)", admin::RunStart});
  verbs->push_back({"run watch", "run watch [--run ID]" + conn, "print a row per completed round until the run ends",
                    admin::RunWatch});
  verbs->push_back({"run status", "run status [--run ID]" + conn,
                    "show a run, its plan (on stderr) and its completed rounds", admin::RunStatusVerb});
  verbs->push_back({"run stop", "run stop [--run ID]" + conn, "stop the active run", admin::RunStop});
  verbs->push_back({"models", "models" + conn, "list model versions; * marks the promoted one", admin::Models});
  verbs->push_back({"models promote", "models promote VERSION [--force]" + conn,
                    "promote a model version (--force: also an untrained initial one)", admin::Promote});
  verbs->push_back({"models rollback", "models rollback" + conn, "promote the previously promoted version", admin::Rollback});
}

}  // namespace fedlog::cli
