//! Video meetings in `jitsiRoom` zones: on entering (or on the action key, with
//! `jitsiTrigger: onaction`) the server sends the player a meeting URL for the room
//! `<map>-<jitsiRoom>` on the configured Jitsi domain, with a room-scoped JWT (HS256,
//! two hours) when an app id and secret are configured; leaving the zone hangs up.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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

/// How long a meeting token is valid.
pub const TOKEN_SECS: u64 = 2 * 60 * 60;

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
    let header = json!({"alg": "HS256", "typ": "JWT"});
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
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = hmac_sha256::HMAC::mac(signing_input.as_bytes(), secret.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
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
    match (&config.app_id, &config.secret) {
        (Some(app), Some(secret)) => {
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
        let room = room_name(&map.name, &jitsi.room);
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

    #[test]
    fn the_jwt_verifies_with_the_secret_and_carries_room_and_expiry() {
        let token = jwt(
            "tavern",
            "s3cret",
            "meet.example.org",
            "town-standup",
            "Ada",
            1_700_000_000,
        );
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let signed = format!("{}.{}", parts[0], parts[1]);
        let expected = hmac_sha256::HMAC::mac(signed.as_bytes(), b"s3cret");
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
            expected.to_vec(),
            "HS256 with the secret"
        );
        let wrong = hmac_sha256::HMAC::mac(signed.as_bytes(), b"other");
        assert_ne!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap(), wrong.to_vec());
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "HS256");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["room"], "town-standup");
        assert_eq!(claims["iss"], "tavern");
        assert_eq!(claims["sub"], "meet.example.org");
        assert_eq!(claims["exp"], 1_700_000_000u64 + 7200);
        assert_eq!(claims["context"]["user"]["name"], "Ada");
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
    }
}
