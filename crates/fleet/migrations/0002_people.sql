-- People on the server (issue 15): accounts, set-up links, sessions, API tokens owned by a
-- person, online-guessing state per address, break-glass sessions. Records the accounts
-- library defines are stored as its JSON (`data`), with the columns the server looks up by.

CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    grant_json    TEXT NOT NULL,
    passphrase    TEXT,
    totp_secret   TEXT,
    totp_last     BIGINT,
    recovery      TEXT,
    throttle      TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    set_up_at     BIGINT
);

CREATE TABLE setup_links (
    key         TEXT PRIMARY KEY,
    user_name   TEXT NOT NULL REFERENCES users(name),
    data        TEXT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX setup_links_user ON setup_links (user_name);

CREATE TABLE sessions (
    key         TEXT PRIMARY KEY,
    user_name   TEXT NOT NULL REFERENCES users(name),
    data        TEXT NOT NULL,
    ended_at    BIGINT
);
CREATE INDEX sessions_user ON sessions (user_name);

CREATE TABLE user_tokens (
    key         TEXT PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    user_name   TEXT NOT NULL REFERENCES users(name),
    data        TEXT NOT NULL
);

CREATE TABLE address_throttle (
    address     TEXT PRIMARY KEY,
    data        TEXT NOT NULL
);

CREATE TABLE break_glass (
    id          TEXT PRIMARY KEY,
    user_name   TEXT NOT NULL REFERENCES users(name),
    started_at  BIGINT NOT NULL,
    reviewed    BIGINT NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX break_glass_user ON break_glass (user_name, started_at);
