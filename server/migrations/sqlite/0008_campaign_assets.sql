-- Files a campaign's GM shared (scene images, portraits, handouts, sounds): each by the
-- SHA-256 of its content (the file itself lies in the asset store under that hash),
-- with the name it was uploaded under, its kind (image or audio), content type, size,
-- an image's size in pixels and the hashes of its view and thumbnail PNGs ('' for a
-- sound), who uploaded it and when, and its place in the campaign's order of uploads.
CREATE TABLE campaign_assets (
    room TEXT NOT NULL REFERENCES campaigns (room) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    content_type TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    view_hash TEXT NOT NULL,
    thumb_hash TEXT NOT NULL,
    uploaded_by BIGINT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (room, hash)
);
