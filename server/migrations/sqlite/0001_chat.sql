-- Users, chat sessions, their participants and messages. Times are Unix milliseconds.
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE chat_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_message_at BIGINT NOT NULL
);

CREATE TABLE participants (
    session_id BIGINT NOT NULL REFERENCES chat_sessions (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (session_id, user_id)
);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id BIGINT NOT NULL REFERENCES chat_sessions (id),
    sender_id BIGINT NOT NULL REFERENCES users (id),
    channel TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX messages_by_session ON messages (session_id, id);
CREATE INDEX participants_by_user ON participants (user_id);
