//! Video meetings in `jitsiRoom` zones: on entering (or on the action key, with
//! `jitsiTrigger: onaction`) the server sends the player a meeting URL for the room
//! `<map>-<jitsiRoom>` on the configured Jitsi domain, with a room-scoped JWT (HS256,
//! five minutes: enough to join, useless soon after) when an app id and secret are
//! configured and the meeting is on that domain; leaving the zone hangs up.

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use serde_json::json;
use tavern_shared::avatar::{DisplayName, InZones};
use tavern_shared::map::Trigger;
use tavern_shared::protocol::{MeetingHangUp, MeetingInvite};

use crate::GameSystems;
use crate::movement::ActionPressed;
use crate::net::to_client;
use crate::world::{Maps, OnMap};
use crate::zones::{Owner, ZoneChange, track_zones};

/// How long a meeting token is valid: long enough to open the meeting, not to keep it.
pub const TOKEN_SECS: u64 = 5 * 60;

/// Where meetings happen (`--jitsi-domain`, `--jitsi-app-id`, `--jitsi-secret`).
#[derive(Resource, Debug, Clone)]
pub struct JitsiConfig {
    pub domain: String,
    /// App id and secret for JWTs; without them, meeting URLs carry no token.
    pub app_id: Option<String>,
    pub secret: Option<String>,
}

impl Default for JitsiConfig {
    fn default() -> Self {
        JitsiConfig {
            domain: "meet.jit.si".into(),
            app_id: None,
            secret: None,
        }
    }
}

/// `<map>-<room>` in the characters Jitsi room names allow (lowercase letters, digits, `-`).
pub fn room_name(map: &str, room: &str) -> String {
    let raw = format!("{map}-{room}").to_lowercase();
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out.trim_matches('-').to_string()
}

/// A Jitsi JWT (HS256) for `room`, for the user `name`, issued at `now` (Unix seconds).
pub fn jwt(app_id: &str, secret: &str, domain: &str, room: &str, name: &str, now: u64) -> String {
    let claims = json!({
        "aud": "jitsi",
        "iss": app_id,
        "sub": domain,
        "room": room,
        "iat": now,
        "nbf": now.saturating_sub(10),
        "exp": now + TOKEN_SECS,
        "context": {"user": {"name": name}},
    });
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    // Encoding a JSON value with an HMAC key cannot fail; an empty string would only
    // make the meeting refuse the player, never leak anything.
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap_or_else(|e| {
        error!("cannot sign a meeting token: {e}");
        String::new()
    })
}

/// The host of a `jitsiUrl`-style server: `https://host:port/path` or a bare domain.
fn host_of(server: &str) -> String {
    let rest = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .unwrap_or(server);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// The URL a player opens to join `room`.
pub fn meeting_url(
    config: &JitsiConfig,
    server: Option<&str>,
    room: &str,
    name: &str,
    now: u64,
) -> String {
    let domain = server.unwrap_or(&config.domain);
    let base = if domain.starts_with("https://") || domain.starts_with("http://") {
        domain.trim_end_matches('/').to_string()
    } else {
        format!("https://{domain}")
    };
    // The token is signed for the configured domain: a map's jitsiUrl pointing at any
    // other host gets the URL without it.
    let ours = host_of(domain) == host_of(&config.domain);
    match (&config.app_id, &config.secret) {
        (Some(app), Some(secret)) if ours => {
            format!(
                "{base}/{room}?jwt={}",
                jwt(app, secret, &config.domain, room, name, now)
            )
        }
        _ => format!("{base}/{room}"),
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<JitsiConfig>().add_systems(
        FixedUpdate,
        meetings.in_set(GameSystems::Track).after(track_zones),
    );
}

fn meetings(
    mut changes: MessageReader<ZoneChange>,
    mut actions: MessageReader<ActionPressed>,
    avatars: Query<(&OnMap, &InZones, &Owner, &DisplayName)>,
    maps: Res<Maps>,
    config: Res<JitsiConfig>,
    mut invites: MessageWriter<ToClients<MeetingInvite>>,
    mut hangups: MessageWriter<ToClients<MeetingHangUp>>,
) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut invite = |avatar: Entity, zone: u16, on_action: bool| {
        let Ok((on, _, owner, name)) = avatars.get(avatar) else {
            return;
        };
        let map = &maps.get(on.0).data;
        let Some(jitsi) = map
            .zones
            .get(zone as usize)
            .and_then(|z| z.effects.jitsi.as_ref())
        else {
            return;
        };
        if (jitsi.trigger == Trigger::OnAction) != on_action {
            return;
        }
        // Each room meets in its own call.
        let place = maps.get(on.0);
        let room = room_name(&format!("{}-{}", place.room, map.name), &jitsi.room);
        let url = meeting_url(&config, jitsi.url.as_deref(), &room, &name.0, now);
        invites.write(to_client(owner.0, MeetingInvite { zone, room, url }));
    };
    for change in changes.read() {
        if change.entered {
            invite(change.avatar, change.zone, false);
        } else if let Ok((_, _, owner, _)) = avatars.get(change.avatar) {
            let is_meeting = maps
                .get(change.map)
                .data
                .zones
                .get(change.zone as usize)
                .is_some_and(|z| z.effects.jitsi.is_some());
            if is_meeting {
                hangups.write(to_client(owner.0, MeetingHangUp { zone: change.zone }));
            }
        }
    }
    for action in actions.read() {
        let zones = avatars
            .get(action.avatar)
            .map(|(_, z, ..)| z.0.clone())
            .unwrap_or_default();
        for zone in zones {
            invite(action.avatar, zone, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_are_what_jitsi_accepts() {
        assert_eq!(room_name("town", "Meeting A"), "town-meeting-a");
        assert_eq!(room_name("Dungeon", "boss  room!"), "dungeon-boss-room");
    }

    fn decode(token: &str, secret: &[u8]) -> jsonwebtoken::errors::Result<serde_json::Value> {
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_audience(&["jitsi"]);
        validation.validate_exp = false;
        jsonwebtoken::decode::<serde_json::Value>(
            token,
            &jsonwebtoken::DecodingKey::from_secret(secret),
            &validation,
        )
        .map(|d| d.claims)
    }

    #[test]
    fn the_jwt_verifies_with_the_secret_and_carries_room_and_a_short_expiry() {
        let token = jwt(
            "tavern",
            "s3cret",
            "meet.example.org",
            "town-standup",
            "Ada",
            1_700_000_000,
        );
        let claims = decode(&token, b"s3cret").unwrap();
        assert!(
            decode(&token, b"other").is_err(),
            "only the secret verifies it"
        );
        assert_eq!(claims["room"], "town-standup");
        assert_eq!(claims["iss"], "tavern");
        assert_eq!(claims["sub"], "meet.example.org");
        assert_eq!(claims["exp"], 1_700_000_000u64 + 300);
        assert_eq!(claims["context"]["user"]["name"], "Ada");
    }

    #[test]
    fn hosts_are_read_from_urls_and_domains() {
        assert_eq!(host_of("meet.example.org"), "meet.example.org");
        assert_eq!(
            host_of("https://Meet.Example.org:8443/x"),
            "meet.example.org"
        );
        assert_eq!(host_of("https://meet.example.org@evil.test/"), "evil.test");
        assert_eq!(host_of("https://[2001:db8::1]:443/"), "2001:db8::1");
        assert_eq!(host_of("http://meet.example.org./"), "meet.example.org");
    }

    #[test]
    fn urls_carry_the_token_only_when_configured() {
        let open = JitsiConfig::default();
        assert_eq!(
            meeting_url(&open, None, "town-a", "Ada", 0),
            "https://meet.jit.si/town-a"
        );
        let signed = JitsiConfig {
            domain: "meet.example.org".into(),
            app_id: Some("tavern".into()),
            secret: Some("k".into()),
        };
        let url = meeting_url(&signed, None, "town-a", "Ada", 0);
        assert!(
            url.starts_with("https://meet.example.org/town-a?jwt=ey"),
            "{url}"
        );
        let other = meeting_url(&open, Some("https://video.example.com/"), "r", "Ada", 0);
        assert_eq!(other, "https://video.example.com/r");
        // A map pointing elsewhere never receives a token signed for our domain.
        let elsewhere = meeting_url(&signed, Some("https://evil.test/"), "r", "Ada", 0);
        assert_eq!(elsewhere, "https://evil.test/r");
        let tricky = meeting_url(
            &signed,
            Some("https://meet.example.org@evil.test"),
            "r",
            "Ada",
            0,
        );
        assert!(!tricky.contains("jwt="), "{tricky}");
        let same_host = meeting_url(&signed, Some("https://meet.example.org/"), "r", "Ada", 0);
        assert!(same_host.contains("?jwt=ey"), "{same_host}");
    }
}
