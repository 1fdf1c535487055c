-- Players an admin banned from the whole server (POST /api/admin/ban): by identity
-- (`account:ID`, or a guest's `guest:SESSION`), with the name they had, the reason
-- they are told when they log in, and when.
CREATE TABLE server_bans (
    identity TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    reason TEXT NOT NULL,
    banned_at BIGINT NOT NULL
);
