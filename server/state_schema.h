// Schema migrations of the aggregator database. Append new steps; never edit a released one.
#ifndef FEDLOG_SERVER_STATE_SCHEMA_H_
#define FEDLOG_SERVER_STATE_SCHEMA_H_

#include <vector>

#include "common/store/database.h"

namespace fedlog::server {

inline std::vector<store::Migration> AggregatorMigrations() {
  return {
      {1, R"sql(
CREATE TABLE sites (
  site_id TEXT PRIMARY KEY,
  registered_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0,
  hello BLOB);
CREATE TABLE models (
  version INTEGER PRIMARY KEY,
  manifest BLOB NOT NULL,
  path TEXT NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE TABLE runs (
  run_id INTEGER PRIMARY KEY AUTOINCREMENT,
  plan BLOB NOT NULL,
  state TEXT NOT NULL,
  current_round INTEGER NOT NULL DEFAULT 0,
  global_version INTEGER NOT NULL,
  started_ms INTEGER NOT NULL,
  ended_ms INTEGER,
  message TEXT NOT NULL DEFAULT '');
CREATE TABLE rounds (
  run_id INTEGER NOT NULL REFERENCES runs(run_id),
  round INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  state TEXT NOT NULL,
  model_in INTEGER NOT NULL,
  model_out INTEGER NOT NULL DEFAULT 0,
  participants TEXT NOT NULL,
  opened_ms INTEGER NOT NULL,
  deadline_ms INTEGER NOT NULL,
  closed_ms INTEGER NOT NULL DEFAULT 0,
  sites INTEGER NOT NULL DEFAULT 0,
  samples INTEGER NOT NULL DEFAULT 0,
  mean_loss REAL NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, round, attempt));
CREATE TABLE updates (
  run_id INTEGER NOT NULL,
  round INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  site_id TEXT NOT NULL,
  num_samples INTEGER NOT NULL,
  train_loss REAL NOT NULL,
  path TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  received_ms INTEGER NOT NULL,
  PRIMARY KEY (run_id, round, attempt, site_id));
CREATE TABLE refusals (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  site_id TEXT NOT NULL,
  run_id INTEGER NOT NULL,
  round INTEGER NOT NULL,
  reason TEXT NOT NULL,
  at_ms INTEGER NOT NULL);
CREATE TABLE promotions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  version INTEGER NOT NULL REFERENCES models(version),
  at_ms INTEGER NOT NULL,
  rolled_back INTEGER NOT NULL DEFAULT 0);
)sql"},
      {2, R"sql(
ALTER TABLE updates ADD COLUMN distinct_templates INTEGER NOT NULL DEFAULT 0;
ALTER TABLE updates ADD COLUMN imbalance REAL NOT NULL DEFAULT 1;
ALTER TABLE updates ADD COLUMN size_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rounds ADD COLUMN bytes_up INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rounds ADD COLUMN bytes_down INTEGER NOT NULL DEFAULT 0;
CREATE TABLE evaluations (
  run_id INTEGER NOT NULL,
  round INTEGER NOT NULL,
  site_id TEXT NOT NULL,
  model_version INTEGER NOT NULL,
  num_samples INTEGER NOT NULL,
  metrics BLOB NOT NULL,
  at_ms INTEGER NOT NULL,
  PRIMARY KEY (run_id, round, site_id));
)sql"},
      // Source admission (docs/SECURITY-aggregation.md): `admitted` is NULL until an admin (or auto-admission)
      // has decided; both lists are comma-joined valid source names.
      {3, R"sql(
ALTER TABLE sites ADD COLUMN admitted TEXT;
ALTER TABLE sites ADD COLUMN pending TEXT NOT NULL DEFAULT '';
)sql"},
      // Differential privacy (docs/PRIVACY.md): the sampling rate and cumulative epsilon each round attempt was
      // charged with (0 without site-level DP), the epsilon a site reported with its update, and the rounds
      // sites declined under their own policy. Old databases read as runs without DP.
      {4, R"sql(
ALTER TABLE rounds ADD COLUMN dp_q REAL NOT NULL DEFAULT 0;
ALTER TABLE rounds ADD COLUMN epsilon REAL NOT NULL DEFAULT 0;
ALTER TABLE updates ADD COLUMN dp_epsilon REAL NOT NULL DEFAULT 0;
CREATE TABLE declines (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  site_id TEXT NOT NULL,
  run_id INTEGER NOT NULL,
  round INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  reason TEXT NOT NULL,
  at_ms INTEGER NOT NULL);
)sql"},
      // A decline is recorded once per site and round (docs/PRIVACY.md): a site asked again after an aggregator
      // restart does not count twice. Duplicates older binaries wrote are folded into the first.
      {5, R"sql(
DELETE FROM declines WHERE id NOT IN (SELECT MIN(id) FROM declines GROUP BY run_id, round, site_id);
CREATE UNIQUE INDEX declines_once ON declines (run_id, round, site_id);
)sql"},
      // Model retention (ServerConfig.keep_model_versions, docs/OPERATIONS.md): a version whose file was deleted
      // keeps its row (rounds and history name it) with the time of the deletion.
      {6, R"sql(
ALTER TABLE models ADD COLUMN deleted_ms INTEGER NOT NULL DEFAULT 0;
)sql"},
      // Adaptive clipping without a second read of each update (docs/SECURITY-aggregation.md "Bounded
      // influence"): the squared norms of an update's parts, computed at upload (fl::EncodePartNorms). NULL for
      // updates stored before: aggregation computes them from the file.
      {7, R"sql(
ALTER TABLE updates ADD COLUMN part_norms TEXT;
)sql"},
      // Refusals bounded per site (server/refusal_log.h): past the first rows of a site in a run, one row with
      // the count and the latest reason.
      {8, R"sql(
CREATE TABLE refusal_overflow (
  site_id TEXT NOT NULL,
  run_id INTEGER NOT NULL,
  count INTEGER NOT NULL,
  last_reason TEXT NOT NULL,
  last_ms INTEGER NOT NULL,
  PRIMARY KEY (site_id, run_id));
CREATE INDEX refusals_by_site ON refusals (site_id, run_id);
)sql"},
      // Secure aggregation's state across a restart (docs/rules/s26-securestate.md): the run's cohort mode and
      // clean-attempt count, the current round's exclusions, the sit-out, and the last spoiled cohort attempts'
      // verdicts. Sites are comma-joined ids. Only the active run's rows are kept (a new run deletes the rest).
      {9, R"sql(
CREATE TABLE secagg_state (
  run_id INTEGER PRIMARY KEY,
  cohort_mode INTEGER NOT NULL,
  clean_attempts INTEGER NOT NULL,
  excluded_round INTEGER NOT NULL,
  excluded TEXT NOT NULL,
  sit_out_round INTEGER NOT NULL,
  sit_out TEXT NOT NULL,
  updated_ms INTEGER NOT NULL);
CREATE TABLE secagg_verdicts (
  run_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  suspects TEXT NOT NULL,
  cleared TEXT NOT NULL,
  PRIMARY KEY (run_id, seq));
)sql"},
  };
}

}  // namespace fedlog::server

#endif  // FEDLOG_SERVER_STATE_SCHEMA_H_
