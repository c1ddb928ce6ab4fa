-- The dashboard at hospital scale (issue 18): 10,000 devices and 1,000,000 findings answer in
-- under 100 ms. Portable SQL, as the earlier migrations.

-- The findings list in the order it is shown (most urgent first), walked in the index instead of
-- sorted, and a page deep in it skipped in the index alone; it replaces findings_state.
CREATE INDEX findings_list ON findings (state, priority_rank DESC, advisory, device_id, component);
DROP INDEX findings_state;

-- One device's findings in the same order (the device page and the device's findings route).
CREATE INDEX findings_device ON findings (device_id, state, priority_rank DESC, advisory, component);

-- A device's security events, newest first.
CREATE INDEX security_events_device ON security_events (device_id, at);

-- The overview's verdict counts, filters and order read this index alone, not the devices'
-- documents (a device's row holds its whole state).
CREATE INDEX devices_verdict ON devices (site, status, last_seen, report_within_secs, model, name, id);

-- How many findings each device has, by state and relevance: kept by the fleet each time it
-- writes a device's findings, so a list's total is a sum over devices, not a count of a million
-- rows.
CREATE TABLE finding_tallies (
    device_id  TEXT NOT NULL REFERENCES devices (id),
    state      TEXT NOT NULL,
    relevance  TEXT NOT NULL,
    n          BIGINT NOT NULL,
    PRIMARY KEY (device_id, state, relevance)
);
INSERT INTO finding_tallies (device_id, state, relevance, n)
    SELECT device_id, state, relevance, COUNT(*) FROM findings GROUP BY device_id, state, relevance;
