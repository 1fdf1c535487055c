-- The combat event log: every damage, death, loot drop, pickup and boss phase, numbered
-- per map, kept for --event-retention (24 h by default).
CREATE TABLE combat_events (
    map TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    tick BIGINT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    target TEXT NOT NULL,
    amount BIGINT NOT NULL,
    x DOUBLE PRECISION NOT NULL,
    y DOUBLE PRECISION NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (map, seq)
);
CREATE INDEX combat_events_at ON combat_events (at_ms);
