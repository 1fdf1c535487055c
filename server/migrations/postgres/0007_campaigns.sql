-- Campaign rooms (the game master's table): kept until deleted, with the GM's account,
-- the session's status (waiting, active, paused, completed), scene (JSON) and turn
-- time limit, the accounts banned from them, and each player's character sheet (JSON)
-- with the version of its last write.
CREATE TABLE campaigns (
    room TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    map TEXT NOT NULL,
    gm_account BIGINT NOT NULL REFERENCES accounts (id),
    max_players BIGINT NOT NULL,
    private BIGINT NOT NULL,
    password_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    scene TEXT NOT NULL DEFAULT '',
    turn_secs BIGINT NOT NULL DEFAULT 60,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE campaign_bans (
    room TEXT NOT NULL REFERENCES campaigns (room) ON DELETE CASCADE,
    identity TEXT NOT NULL,
    reason TEXT NOT NULL,
    banned_at BIGINT NOT NULL,
    PRIMARY KEY (room, identity)
);
CREATE TABLE character_sheets (
    room TEXT NOT NULL REFERENCES campaigns (room) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    version BIGINT NOT NULL,
    sheet TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by BIGINT NOT NULL,
    PRIMARY KEY (room, account_id)
);
