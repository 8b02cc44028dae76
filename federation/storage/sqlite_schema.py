"""SQLite schema: the tables each schema version adds, and the migration run when a store opens."""

from __future__ import annotations

import sqlite3

from federation.storage.sql_schema import SCHEMA_VERSION as SCHEMA_VERSION
from federation.storage.sql_schema import run_steps

_V1 = (
    "CREATE TABLE IF NOT EXISTS subjects (subject_id TEXT PRIMARY KEY, kind TEXT NOT NULL,"
    " name TEXT NOT NULL, home_region TEXT NOT NULL, password_hash TEXT NOT NULL,"
    " created_at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS face_templates (subject_id TEXT PRIMARY KEY,"
    " template BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sessions (session_id TEXT PRIMARY KEY, subject_id TEXT NOT NULL,"
    " secret_hash TEXT NOT NULL, acr TEXT NOT NULL, created_at REAL NOT NULL,"
    " expires_at REAL NOT NULL, revoked_at REAL)",
    "CREATE INDEX IF NOT EXISTS sessions_revoked ON sessions (revoked_at)"
    " WHERE revoked_at IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS replay_cache (audience TEXT NOT NULL, jti TEXT NOT NULL,"
    " expires_at REAL NOT NULL, PRIMARY KEY (audience, jti))",
    "CREATE INDEX IF NOT EXISTS replay_cache_expiry ON replay_cache (expires_at)",
    "CREATE TABLE IF NOT EXISTS quotas (bucket TEXT NOT NULL, period TEXT NOT NULL,"
    " used INTEGER NOT NULL, PRIMARY KEY (bucket, period))",
    "CREATE TABLE IF NOT EXISTS audit_log (seq INTEGER PRIMARY KEY, time REAL NOT NULL,"
    " actor TEXT NOT NULL, action TEXT NOT NULL, outcome TEXT NOT NULL, subject TEXT NOT NULL,"
    " detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
)
# Lists are ordered by time, then by rowid (insertion order); `last_seq` is the number of the
# case's newest event, bumped by the same UPDATE that checks the version.
_V2 = (
    "CREATE TABLE IF NOT EXISTS licences (identifier TEXT PRIMARY KEY,"
    " request_id TEXT NOT NULL UNIQUE, request_hash TEXT NOT NULL, type_code TEXT NOT NULL,"
    " holder_code TEXT NOT NULL, authority_code TEXT NOT NULL, sd_jwt TEXT NOT NULL,"
    " status_index INTEGER NOT NULL UNIQUE, status INTEGER NOT NULL, issued_at REAL NOT NULL,"
    " updated_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS licences_holder ON licences (holder_code)",
    "CREATE TABLE IF NOT EXISTS cases (case_id TEXT PRIMARY KEY,"
    " request_id TEXT NOT NULL UNIQUE, request_hash TEXT NOT NULL, item_code TEXT NOT NULL,"
    " owner_region TEXT NOT NULL, window_region TEXT NOT NULL, window_id TEXT NOT NULL,"
    " applicant_id TEXT NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL,"
    " created_at REAL NOT NULL, updated_at REAL NOT NULL, deadline_at REAL NOT NULL,"
    " version INTEGER NOT NULL, last_seq INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS cases_owner_region ON cases (owner_region)",
    "CREATE INDEX IF NOT EXISTS cases_window_region ON cases (window_region)",
    "CREATE INDEX IF NOT EXISTS cases_applicant ON cases (applicant_id)",
    "CREATE TABLE IF NOT EXISTS case_events (case_id TEXT NOT NULL, seq INTEGER NOT NULL,"
    " time REAL NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL,"
    " actor TEXT NOT NULL, detail TEXT NOT NULL, PRIMARY KEY (case_id, seq))",
    "CREATE TABLE IF NOT EXISTS case_ratings (case_id TEXT PRIMARY KEY,"
    " score INTEGER NOT NULL, reasons TEXT NOT NULL, comment TEXT NOT NULL,"
    " rated_at REAL NOT NULL)",
)
# Other subjects a licence concerns (an enterprise's legal representative), so that their
# aggregation finds it by party_code as well as by holder_code.
_V3 = (
    "CREATE TABLE IF NOT EXISTS licence_parties (identifier TEXT NOT NULL,"
    " party_code TEXT NOT NULL, PRIMARY KEY (identifier, party_code))",
    "CREATE INDEX IF NOT EXISTS licence_parties_party ON licence_parties (party_code)",
)
# One person, one home: the hub's registry of each subject's only home region (unique by
# subject id), and the hub's signed attestation a region keeps with each subject it registered.
_V4 = (
    "CREATE TABLE IF NOT EXISTS subject_homes (subject_id TEXT PRIMARY KEY, kind TEXT NOT NULL,"
    " home_region TEXT NOT NULL, claimed_at REAL NOT NULL)",
    "ALTER TABLE subjects ADD COLUMN home_attestation TEXT NOT NULL DEFAULT ''",
)
# The replay cache keyed by its natural key alone (WITHOUT ROWID): a jti's insert writes one
# b-tree, not a rowid table and its primary-key index (every VerifyToken commits one; the WAL
# frames per replay-and-audit commit went from 4.6 to 3.8). Rebuilt in the migration's
# transaction, rows kept; the expiry index is dropped with the old table and made anew.
_V5 = (
    "CREATE TABLE replay_cache_v5 (audience TEXT NOT NULL, jti TEXT NOT NULL,"
    " expires_at REAL NOT NULL, PRIMARY KEY (audience, jti)) WITHOUT ROWID",
    "INSERT INTO replay_cache_v5 (audience, jti, expires_at)"
    " SELECT audience, jti, expires_at FROM replay_cache",
    "DROP TABLE replay_cache",
    "ALTER TABLE replay_cache_v5 RENAME TO replay_cache",
    "CREATE INDEX replay_cache_expiry ON replay_cache (expires_at)",
)
# STEPS[v - 1] turns a version v - 1 database into version v
STEPS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3, _V4, _V5)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to SCHEMA_VERSION inside the caller's transaction; the old version."""
    return run_steps(conn, STEPS, "?")
