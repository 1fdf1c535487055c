//! What the place the player stands in offers, from the server's word on their zones:
//! a meeting to join, a website to open, an NPC to talk to (or one that is busy). The
//! desktop client shows these as prompts; the pure [`offers`] keeps them testable.

use bevy::prelude::*;
use tavern_shared::agent::{Npc, in_reach};
use tavern_shared::map::zones::Audio;
use tavern_shared::map::{MapData, Trigger};
use tavern_shared::protocol::MeetingInvite;

/// One thing the player can do here.
#[derive(Debug, Clone, PartialEq)]
pub enum Offer {
    /// The server invited the player to a meeting: J (or the button) opens it.
    Meeting(MeetingInvite),
    /// A meeting zone that starts on the action key.
    StartMeeting { text: String },
    /// A website zone: E opens the URL in the browser.
    Website { url: String, text: String },
    /// An NPC within reach: E starts talking.
    Talk { name: String, text: String },
    /// An NPC within reach that is talking to someone else.
    Busy { name: String, with: String },
}

impl Offer {
    /// The action button's word for it (the button presses E; a meeting has its own
    /// button), if the action key does something here.
    pub fn verb(&self) -> Option<&'static str> {
        match self {
            Offer::StartMeeting { .. } => Some("Join"),
            Offer::Website { .. } => Some("Open"),
            Offer::Talk { .. } => Some("Talk"),
            Offer::Meeting(_) | Offer::Busy { .. } => None,
        }
    }

    /// The prompt line.
    pub fn text(&self) -> String {
        match self {
            Offer::Meeting(m) => format!(
                "Meeting {}: press J or click to join the video call",
                m.room
            ),
            Offer::StartMeeting { text }
            | Offer::Website { text, .. }
            | Offer::Talk { text, .. } => text.clone(),
            Offer::Busy { name, with } => format!("{name} is busy talking to {with}"),
        }
    }
}

/// The offers for a player at `pos` in `zones` of `map`: the current meeting invitation,
/// `talking_to` (an agent id) excluded from the NPC offers.
pub fn offers(
    map: &MapData,
    zones: &[u16],
    pos: Vec2,
    npcs: &[Npc],
    meeting: Option<&MeetingInvite>,
    talking_to: Option<&str>,
) -> Vec<Offer> {
    let mut out = Vec::new();
    if let Some(m) = meeting {
        out.push(Offer::Meeting(m.clone()));
    }
    for zone in zones.iter().filter_map(|z| map.zones.get(*z as usize)) {
        let fx = &zone.effects;
        if let Some(j) = &fx.jitsi
            && j.trigger == Trigger::OnAction
            && meeting.is_none()
        {
            out.push(Offer::StartMeeting {
                text: j
                    .message
                    .clone()
                    .unwrap_or_else(|| "Press E to join the meeting".into()),
            });
        }
        if let Some(w) = &fx.website {
            out.push(Offer::Website {
                url: w.url.clone(),
                text: w
                    .message
                    .clone()
                    .unwrap_or_else(|| format!("Press E to open {}", w.url)),
            });
        }
    }
    for npc in npcs {
        if talking_to == Some(npc.agent.as_str()) {
            continue;
        }
        let zone = map
            .zones
            .iter()
            .find(|z| z.effects.agent.as_ref().is_some_and(|a| a.id == npc.agent));
        let Some((zone, agent)) = zone.and_then(|z| Some((z, z.effects.agent.as_ref()?))) else {
            continue;
        };
        if !in_reach(&zone.area, pos, 0.0) {
            continue;
        }
        out.push(match &npc.busy_with {
            Some(with) => Offer::Busy {
                name: npc.name.clone(),
                with: with.clone(),
            },
            None => Offer::Talk {
                name: npc.name.clone(),
                text: agent
                    .message
                    .clone()
                    .unwrap_or_else(|| format!("Press E to talk to {}", npc.name)),
            },
        });
    }
    out
}

/// The ambient track for a player in `zones` of `map`: the first audio zone's.
pub fn ambient<'a>(map: &'a MapData, zones: &[u16]) -> Option<&'a Audio> {
    zones
        .iter()
        .filter_map(|z| map.zones.get(*z as usize))
        .find_map(|z| z.effects.audio.as_ref())
}

/// Where the client finds a track: `audio/<file name>` in its assets, whatever folder
/// the map named; `None` for web addresses, which the desktop client does not stream.
pub fn track_asset(track: &str) -> Option<String> {
    if track.contains("://") {
        return None;
    }
    let name = track.rsplit(['/', '\\']).next().filter(|n| !n.is_empty())?;
    Some(format!("audio/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tavern_shared::map::zones::{Agent, Jitsi, Website};
    use tavern_shared::map::{Area, Effects, Zone};

    fn zone(x: f32, effects: Effects) -> Zone {
        Zone {
            name: "z".into(),
            place: String::new(),
            area: Area::Rect(Rect::new(x, 0.0, x + 100.0, 100.0)),
            effects,
        }
    }

    fn map() -> MapData {
        let mut map = MapData::from_ascii("town", 32, &["S..."]);
        map.zones = vec![
            zone(
                0.0,
                Effects {
                    jitsi: Some(Jitsi {
                        room: "r".into(),
                        trigger: Trigger::OnAction,
                        url: None,
                        config: None,
                        message: None,
                    }),
                    website: Some(Website {
                        url: "https://example.org".into(),
                        trigger: Trigger::OnEnter,
                        message: None,
                    }),
                    ..Default::default()
                },
            ),
            zone(
                200.0,
                Effects {
                    agent: Some(Agent {
                        id: "innkeeper".into(),
                        trigger: Trigger::OnAction,
                        message: Some("Press E to talk to the innkeeper".into()),
                    }),
                    ..Default::default()
                },
            ),
        ];
        map
    }

    fn npc(busy: Option<&str>) -> Npc {
        Npc {
            agent: "innkeeper".into(),
            name: "Marta".into(),
            pos: Vec2::new(250.0, 50.0),
            busy_with: busy.map(str::to_string),
        }
    }

    #[test]
    fn meeting_and_website_zones_offer_what_they_do() {
        let map = map();
        let here = offers(&map, &[0], Vec2::new(50.0, 50.0), &[npc(None)], None, None);
        let texts: Vec<String> = here.iter().map(Offer::text).collect();
        assert_eq!(
            texts,
            [
                "Press E to join the meeting",
                "Press E to open https://example.org"
            ]
        );
        let invite = MeetingInvite {
            zone: 0,
            room: "town-r".into(),
            url: "https://meet.jit.si/town-r".into(),
        };
        let joined = offers(&map, &[0], Vec2::new(50.0, 50.0), &[], Some(&invite), None);
        assert_eq!(joined[0], Offer::Meeting(invite));
        assert_eq!(joined.len(), 2, "no second meeting prompt once invited");
    }

    #[test]
    fn audio_zones_give_the_track_to_play() {
        let mut map = map();
        assert!(ambient(&map, &[0, 1]).is_none());
        map.zones[1].effects.audio = Some(Audio {
            track: "../sounds/rain.ogg".into(),
            volume: 0.3,
            looping: false,
        });
        assert_eq!(ambient(&map, &[0, 1]).unwrap().volume, 0.3);
        assert!(ambient(&map, &[0]).is_none(), "left the zone: silence");
        assert_eq!(
            track_asset("../sounds/rain.ogg").as_deref(),
            Some("audio/rain.ogg")
        );
        assert_eq!(track_asset("rain.ogg").as_deref(), Some("audio/rain.ogg"));
        assert_eq!(track_asset("https://example.org/rain.mp3"), None);
        assert_eq!(track_asset("sounds/"), None);
    }

    #[test]
    fn npcs_are_offered_within_reach_busy_or_free() {
        let map = map();
        let at = Vec2::new(250.0, 50.0);
        let free = offers(&map, &[1], at, &[npc(None)], None, None);
        assert_eq!(free[0].text(), "Press E to talk to the innkeeper");
        let busy = offers(&map, &[1], at, &[npc(Some("Ada"))], None, None);
        assert_eq!(busy[0].text(), "Marta is busy talking to Ada");
        assert!(offers(&map, &[1], at, &[npc(None)], None, Some("innkeeper")).is_empty());
        assert!(
            offers(&map, &[], Vec2::new(600.0, 50.0), &[npc(None)], None, None).is_empty(),
            "out of reach"
        );
    }
}
