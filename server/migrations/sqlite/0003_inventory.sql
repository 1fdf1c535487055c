-- Guests are recognised by a session secret they keep (stored hashed), so what they
-- hold comes back when they join again; inventories are keyed by the player's identity
-- ("guest:ID"), never by the display name.
CREATE TABLE guests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE TABLE inventory_items (
    player TEXT NOT NULL,
    item TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (player, item)
);
CREATE TABLE inventory_gold (
    player TEXT PRIMARY KEY,
    gold BIGINT NOT NULL
);
