-- The patch process (issue 17): patch records with their evidence and signatures, and the
-- staged rollouts that install released patches. Records the patch library defines are stored
-- as its JSON (`data`) with the columns the server looks up by; `version` makes every change a
-- compare-and-swap, so two servers on one database never lose each other's edits.

CREATE TABLE patch_records (
    id          TEXT PRIMARY KEY,
    number      BIGINT NOT NULL UNIQUE,
    state       TEXT NOT NULL,
    title       TEXT NOT NULL,
    version     BIGINT NOT NULL,
    data        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX patch_records_state ON patch_records (state, updated_at);

-- Content-addressed evidence files (test reports): BLAKE3 hex, base64 content.
CREATE TABLE evidence_files (
    digest      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    size        BIGINT NOT NULL,
    content     TEXT NOT NULL,
    added_at    BIGINT NOT NULL
);

CREATE TABLE rollouts (
    id          TEXT PRIMARY KEY,
    record_id   TEXT NOT NULL REFERENCES patch_records(id),
    state       TEXT NOT NULL,
    version     BIGINT NOT NULL,
    data        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX rollouts_record ON rollouts (record_id);

-- Which devices a rollout targets: a check-in finds its rollouts by one indexed lookup.
CREATE TABLE rollout_devices (
    device_id   TEXT NOT NULL,
    rollout_id  TEXT NOT NULL REFERENCES rollouts(id),
    PRIMARY KEY (device_id, rollout_id)
);

-- Released patches per device model: the hospital's list of validated patches.
CREATE TABLE released_patches (
    record_id   TEXT NOT NULL REFERENCES patch_records(id),
    model       TEXT NOT NULL,
    target      TEXT NOT NULL,
    version     TEXT NOT NULL,
    released_at BIGINT NOT NULL,
    PRIMARY KEY (record_id, model)
);
CREATE INDEX released_patches_model ON released_patches (model, released_at);

-- A signing period within one login session (21 CFR Part 11 §11.200(a)(1)(i)).
CREATE TABLE signing_sessions (
    session_key TEXT PRIMARY KEY,
    data        TEXT NOT NULL
);

-- What a person asked a device to do (verify now, scan now, collect the inventory or the
-- services); handed out at the device's next check-in, once.
CREATE TABLE device_commands (
    id            TEXT PRIMARY KEY,
    device_id     TEXT NOT NULL REFERENCES devices(id),
    kind          TEXT NOT NULL,
    requested_by  TEXT NOT NULL,
    requested_at  BIGINT NOT NULL,
    delivered_at  BIGINT,
    -- The order they were queued in, per device: two commands queued in one second are
    -- handed out in the order a person gave them.
    seq           BIGINT NOT NULL,
    UNIQUE (device_id, seq)
);
CREATE INDEX device_commands_pending ON device_commands (device_id, delivered_at);
