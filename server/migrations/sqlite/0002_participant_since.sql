-- A participant reads a conversation from the first line they took part in (a zone or
-- map chat newcomer does not read what was said before they came). Rows from before
-- this migration keep reading everything.
ALTER TABLE participants ADD COLUMN first_message_id BIGINT NOT NULL DEFAULT 0;
