-- medguard fleet, schema version 1. Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- Identifiers are TEXT, numbers and times (Unix seconds, UTC) BIGINT, documents TEXT (JSON).

CREATE TABLE sites (
    name        TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL
);

CREATE TABLE models (
    name                TEXT PRIMARY KEY,
    criticality         TEXT,
    network_exposed     BIGINT,
    report_within_secs  BIGINT,
    declared_services   TEXT,
    created_at          BIGINT NOT NULL
);

CREATE TABLE devices (
    id                  TEXT PRIMARY KEY,
    site                TEXT NOT NULL REFERENCES sites (name),
    model               TEXT,
    name                TEXT NOT NULL,
    serial              TEXT,
    os                  TEXT,
    agent_version       TEXT,
    public_key          TEXT NOT NULL,
    enrolled_at         BIGINT NOT NULL,
    last_seen           BIGINT,
    revoked_at          BIGINT,
    revoked_reason      TEXT,
    last_seq            BIGINT NOT NULL DEFAULT 0,
    report_within_secs  BIGINT,
    inventory_digest    TEXT,
    state               TEXT NOT NULL DEFAULT '{}',
    status              TEXT NOT NULL DEFAULT 'unknown',
    status_detail       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX devices_site ON devices (site);
CREATE INDEX devices_model ON devices (model);
CREATE INDEX devices_status ON devices (status);
CREATE INDEX devices_serial ON devices (site, serial);

CREATE TABLE certificates (
    serial      TEXT PRIMARY KEY,
    device_id   TEXT NOT NULL REFERENCES devices (id),
    not_before  BIGINT NOT NULL,
    not_after   BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX certificates_device ON certificates (device_id);

CREATE TABLE enrollment_tokens (
    id          TEXT PRIMARY KEY,
    hash        TEXT NOT NULL UNIQUE,
    site        TEXT NOT NULL REFERENCES sites (name),
    model       TEXT,
    expires_at  BIGINT NOT NULL,
    uses_left   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE reports (
    device_id   TEXT NOT NULL REFERENCES devices (id),
    seq         BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    digest      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    body        TEXT,
    PRIMARY KEY (device_id, seq)
);

CREATE TABLE inventories (
    digest      TEXT PRIMARY KEY,
    components  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- One chain per device log and epoch: a re-enrolled (re-imaged) device starts a new epoch,
-- so its fresh log starting at 1 is expected; outside that, a log that starts again is a reset.
CREATE TABLE audit_chains (
    device_id       TEXT NOT NULL REFERENCES devices (id),
    log             TEXT NOT NULL,
    epoch           BIGINT NOT NULL,
    next_seq        BIGINT NOT NULL,
    last_digest     TEXT NOT NULL,
    checkpoint_seq  BIGINT NOT NULL DEFAULT 0,
    state           TEXT NOT NULL,
    problem         TEXT,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (device_id, log)
);

CREATE TABLE audit_records (
    device_id   TEXT NOT NULL,
    log         TEXT NOT NULL,
    epoch       BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    payload     TEXT NOT NULL,
    digest      TEXT NOT NULL,
    PRIMARY KEY (device_id, log, epoch, seq)
);

CREATE TABLE advisories (
    id            TEXT PRIMARY KEY,
    modified      TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    body          TEXT NOT NULL,
    ingested_at   BIGINT NOT NULL
);

-- Counters other processes watch: a change of `advisories` means every device's findings
-- are recomputed and any cache keyed by the old value is dropped.
CREATE TABLE revisions (
    name   TEXT PRIMARY KEY,
    value  BIGINT NOT NULL
);
INSERT INTO revisions (name, value) VALUES ('advisories', 0);

CREATE TABLE findings (
    device_id      TEXT NOT NULL REFERENCES devices (id),
    advisory       TEXT NOT NULL,
    component      TEXT NOT NULL,
    relevance      TEXT NOT NULL,
    priority       TEXT NOT NULL,
    priority_rank  BIGINT NOT NULL,
    state          TEXT NOT NULL,
    first_seen     BIGINT NOT NULL,
    fixed_at       BIGINT,
    body           TEXT NOT NULL,
    PRIMARY KEY (device_id, advisory, component)
);
CREATE INDEX findings_advisory ON findings (advisory);
CREATE INDEX findings_state ON findings (state, priority_rank);

CREATE TABLE finding_runs (
    device_id            TEXT PRIMARY KEY REFERENCES devices (id),
    inventory_digest     TEXT NOT NULL,
    context              TEXT NOT NULL,
    advisories_revision  BIGINT NOT NULL,
    at                   BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE security_events (
    id          TEXT PRIMARY KEY,
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    actor       TEXT,
    device_id   TEXT,
    address     TEXT,
    detail      TEXT NOT NULL
);
CREATE INDEX security_events_at ON security_events (at);
