-- Conversations are kept under identities (account:7, guest:12), never display names;
-- each line keeps the name it was said under, to show with it. Lines stored before
-- have none (their sender's user row is the name then).
ALTER TABLE messages ADD COLUMN sender_name TEXT NOT NULL DEFAULT '';
