#include "tests/integration/crash_sweep_state.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/site_ledger.h"
#include "common/base/file_util.h"
#include "common/base/sha256.h"
#include "fedlog/v1/model.pb.h"

namespace fedlog::testing {
namespace {

constexpr int kBusyMs = 5000;  // a writer's transaction is short; a reader waits for it rather than fail

std::string AggregatorDb(const std::string& agg_dir) { return JoinPath(agg_dir, "aggregator.db"); }

// Runs `fn` on `path` opened read-only; SQLite's exceptions become a Status naming the file.
template <typename Fn>
absl::Status ReadDb(const std::string& path, Fn fn) {
  try {
    SQLite::Database db(path, SQLite::OPEN_READONLY);
    db.setBusyTimeout(kBusyMs);
    fn(db);
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat(path, ": ", e.what()));
  }
}

absl::Status ReadAggregator(const std::string& agg_dir, FederationState* out) {
  if (!FileExists(AggregatorDb(agg_dir))) return absl::OkStatus();
  return ReadDb(AggregatorDb(agg_dir), [&](SQLite::Database& db) {
    SQLite::Statement rounds(db, "SELECT run_id, round, attempt, model_out FROM rounds WHERE state = 'done'");
    while (rounds.executeStep()) {
      out->rounds_done.insert(absl::StrCat(rounds.getColumn(0).getInt64(), "/", rounds.getColumn(1).getInt(), "/",
                                           rounds.getColumn(2).getInt(), " -> v", rounds.getColumn(3).getInt64()));
    }
    SQLite::Statement models(db, "SELECT version, manifest FROM models");
    while (models.executeStep()) {
      v1::ModelManifest m;
      const SQLite::Column blob = models.getColumn(1);
      if (!m.ParseFromArray(blob.getBlob(), blob.getBytes())) {
        out->model_digests[models.getColumn(0).getInt64()] = "(manifest does not parse)";
        continue;
      }
      out->model_digests[models.getColumn(0).getInt64()] = m.sha256();
    }
  });
}

absl::Status ReadSite(const std::string& dir, double delta, SiteState* out) {
  const std::string ledger_path = client::SiteLedger::PathIn(dir);
  absl::StatusOr<client::SiteLedger> ledger = client::SiteLedger::Open(ledger_path, delta);
  if (!ledger.ok()) return ledger.status();
  out->epsilon = ledger->epsilon();
  if (FileExists(ledger_path)) {
    absl::StatusOr<std::string> text = ReadFile(ledger_path);
    if (!text.ok()) return text.status();
    for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
      if (!absl::StartsWith(line, "fedlog-site-ledger")) out->ledger_entries.insert(std::string(line));
    }
  }
  const std::string labels_db = JoinPath(dir, "detect.db");
  if (!FileExists(labels_db)) return absl::OkStatus();
  return ReadDb(labels_db, [&](SQLite::Database& db) {
    if (!db.tableExists("labels")) return;
    SQLite::Statement s(db, "SELECT source, label, origin, line FROM labels");
    while (s.executeStep()) {
      out->labels.insert(absl::StrCat(s.getColumn(0).getString(), "|", s.getColumn(1).getInt(), "|",
                                      s.getColumn(2).getString(), "|", s.getColumn(3).getString()));
    }
  });
}

void Lost(const std::set<std::string>& before, const std::set<std::string>& after, absl::string_view what,
          std::vector<std::string>* out) {
  for (const std::string& b : before) {
    if (!after.count(b)) out->push_back(absl::StrCat(what, " lost: ", b));
  }
}

}  // namespace

absl::StatusOr<FederationState> ReadFederationState(const std::string& agg_dir,
                                                    const std::map<std::string, std::string>& site_dirs,
                                                    double delta) {
  FederationState state;
  if (absl::Status st = ReadAggregator(agg_dir, &state); !st.ok()) return st;
  for (const auto& [site, dir] : site_dirs) {
    if (absl::Status st = ReadSite(dir, delta, &state.sites[site]); !st.ok()) return st;
  }
  return state;
}

std::vector<std::string> CheckAggregatorFiles(const std::string& agg_dir) {
  std::vector<std::string> problems;
  absl::Status st = ReadDb(AggregatorDb(agg_dir), [&](SQLite::Database& db) {
    const std::string integrity = db.execAndGet("PRAGMA integrity_check").getString();
    if (integrity != "ok") problems.push_back(absl::StrCat("integrity_check: ", integrity));
    SQLite::Statement models(db, "SELECT version, manifest, path FROM models WHERE deleted_ms = 0");
    while (models.executeStep()) {
      const int64_t version = models.getColumn(0).getInt64();
      const std::string path = models.getColumn(2).getString();
      v1::ModelManifest m;
      const SQLite::Column blob = models.getColumn(1);
      if (!m.ParseFromArray(blob.getBlob(), blob.getBytes())) {
        problems.push_back(absl::StrCat("v", version, ": manifest does not parse"));
        continue;
      }
      if (absl::StrContains(path, ".tmp")) problems.push_back(absl::StrCat("v", version, " names a temporary file"));
      absl::StatusOr<std::string> bytes = ReadFile(path);
      if (!bytes.ok()) {
        problems.push_back(absl::StrCat("v", version, ": ", bytes.status().ToString()));
      } else if (Sha256Hex(*bytes) != m.sha256()) {
        problems.push_back(absl::StrCat("v", version, ": ", path, " does not match its manifest's digest"));
      }
    }
  });
  if (!st.ok()) problems.push_back(st.ToString());
  return problems;
}

std::vector<std::string> LostSince(const FederationState& before, const FederationState& after) {
  std::vector<std::string> out;
  Lost(before.rounds_done, after.rounds_done, "round done", &out);
  for (const auto& [version, digest] : before.model_digests) {
    auto it = after.model_digests.find(version);
    if (it == after.model_digests.end() || it->second != digest) {
      out.push_back(absl::StrCat("model row v", version, " lost or changed"));
    }
  }
  for (const auto& [site, b] : before.sites) {
    auto it = after.sites.find(site);
    const SiteState a = it == after.sites.end() ? SiteState{} : it->second;
    Lost(b.ledger_entries, a.ledger_entries, absl::StrCat(site, " ledger entry"), &out);
    Lost(b.labels, a.labels, absl::StrCat(site, " label"), &out);
    if (a.epsilon < b.epsilon) {
      out.push_back(absl::StrCat(site, " ledger epsilon went back from ", b.epsilon, " to ", a.epsilon));
    }
  }
  return out;
}

std::vector<std::string> TempFilesUnder(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && absl::StrContains(it->path().filename().string(), ".tmp")) {
      out.push_back(it->path().string());
    }
  }
  return out;
}

}  // namespace fedlog::testing
