"""PostgreSQL schema: the tables each schema version adds, and the migration run on open."""

from __future__ import annotations

import psycopg
from psycopg.rows import TupleRow

from federation.storage.sql_schema import SCHEMA_VERSION as SCHEMA_VERSION
from federation.storage.sql_schema import run_steps

Connection = psycopg.Connection[TupleRow]

# `detail` and `data` are `json`, not `jsonb`: jsonb normalises numbers (1e300 comes back as an
# integer) and rejects \u0000, which would change the canonical JSON and so break the audit hash
# chain and the exact round trip of case data.
_V1 = (
    "CREATE TABLE IF NOT EXISTS subjects (subject_id text PRIMARY KEY, kind text NOT NULL,"
    " name text NOT NULL, home_region text NOT NULL, password_hash text NOT NULL,"
    " created_at double precision NOT NULL)",
    "CREATE TABLE IF NOT EXISTS face_templates (subject_id text PRIMARY KEY,"
    " template double precision[] NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sessions (session_id text PRIMARY KEY, subject_id text NOT NULL,"
    " secret_hash text NOT NULL, acr text NOT NULL, created_at double precision NOT NULL,"
    " expires_at double precision NOT NULL, revoked_at double precision)",
    "CREATE INDEX IF NOT EXISTS sessions_revoked ON sessions (revoked_at)"
    " WHERE revoked_at IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS replay_cache (audience text NOT NULL, jti text NOT NULL,"
    " expires_at double precision NOT NULL, PRIMARY KEY (audience, jti))",
    "CREATE INDEX IF NOT EXISTS replay_cache_expiry ON replay_cache (expires_at)",
    "CREATE TABLE IF NOT EXISTS quotas (bucket text NOT NULL, period text NOT NULL,"
    " used bigint NOT NULL, PRIMARY KEY (bucket, period))",
    "CREATE TABLE IF NOT EXISTS audit_log (seq bigint PRIMARY KEY,"
    " time double precision NOT NULL, actor text NOT NULL, action text NOT NULL,"
    " outcome text NOT NULL, subject text NOT NULL, detail json NOT NULL,"
    " prev_hash text NOT NULL, hash text NOT NULL)",
)
# Lists are ordered by time, then by `ord` (insertion order); `last_seq` is the number of the
# case's newest event, bumped by the same UPDATE that checks the version.
_V2 = (
    "CREATE TABLE IF NOT EXISTS licences (identifier text PRIMARY KEY,"
    " request_id text NOT NULL UNIQUE, request_hash text NOT NULL, type_code text NOT NULL,"
    " holder_code text NOT NULL, authority_code text NOT NULL, sd_jwt text NOT NULL,"
    " status_index bigint NOT NULL UNIQUE, status integer NOT NULL,"
    " issued_at double precision NOT NULL, updated_at double precision NOT NULL,"
    " ord bigint GENERATED ALWAYS AS IDENTITY)",
    "CREATE INDEX IF NOT EXISTS licences_holder ON licences (holder_code)",
    "CREATE TABLE IF NOT EXISTS cases (case_id text PRIMARY KEY,"
    " request_id text NOT NULL UNIQUE, request_hash text NOT NULL, item_code text NOT NULL,"
    " owner_region text NOT NULL, window_region text NOT NULL, window_id text NOT NULL,"
    " applicant_id text NOT NULL, state text NOT NULL, data json NOT NULL,"
    " created_at double precision NOT NULL, updated_at double precision NOT NULL,"
    " deadline_at double precision NOT NULL, version bigint NOT NULL,"
    " last_seq bigint NOT NULL, ord bigint GENERATED ALWAYS AS IDENTITY)",
    "CREATE INDEX IF NOT EXISTS cases_owner_region ON cases (owner_region)",
    "CREATE INDEX IF NOT EXISTS cases_window_region ON cases (window_region)",
    "CREATE INDEX IF NOT EXISTS cases_applicant ON cases (applicant_id)",
    "CREATE TABLE IF NOT EXISTS case_events (case_id text NOT NULL, seq bigint NOT NULL,"
    " time double precision NOT NULL, from_state text NOT NULL, to_state text NOT NULL,"
    " actor text NOT NULL, detail json NOT NULL, PRIMARY KEY (case_id, seq))",
    "CREATE TABLE IF NOT EXISTS case_ratings (case_id text PRIMARY KEY,"
    " score integer NOT NULL, reasons json NOT NULL, comment text NOT NULL,"
    " rated_at double precision NOT NULL, ord bigint GENERATED ALWAYS AS IDENTITY)",
)
# Other subjects a licence concerns (an enterprise's legal representative), so that their
# aggregation finds it by party_code as well as by holder_code.
_V3 = (
    "CREATE TABLE IF NOT EXISTS licence_parties (identifier text NOT NULL,"
    " party_code text NOT NULL, PRIMARY KEY (identifier, party_code))",
    "CREATE INDEX IF NOT EXISTS licence_parties_party ON licence_parties (party_code)",
)
# One person, one home: the hub's registry of each subject's only home region (unique by
# subject id), and the hub's signed attestation a region keeps with each subject it registered.
_V4 = (
    "CREATE TABLE IF NOT EXISTS subject_homes (subject_id text PRIMARY KEY, kind text NOT NULL,"
    " home_region text NOT NULL, claimed_at double precision NOT NULL)",
    "ALTER TABLE subjects ADD COLUMN IF NOT EXISTS home_attestation text NOT NULL DEFAULT ''",
)
# Version 5 changed SQLite's replay cache only (a WITHOUT ROWID table): nothing to do here.
_V5: tuple[str, ...] = ()
# STEPS[v - 1] turns a version v - 1 database into version v
STEPS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3, _V4, _V5)


def migrate(conn: Connection) -> int:
    """Bring the schema up to SCHEMA_VERSION inside the caller's transaction; the old version."""
    return run_steps(conn, STEPS, "%s")
