//! The start screen, when the game is given a server but no room: log in (server, name,
//! an account's password if any), then pick a room from the server's list, join it
//! (its password asked for when it has one) or make one. Keyboard only: Tab moves
//! between fields, Enter goes on, Esc goes back, arrows pick a room.

use bevy::input::ButtonState;
use bevy::input::keyboard::{Key, KeyboardInput};
use bevy::prelude::*;
use tavern_shared::api::{CreateRoom, LoginRequest, RoomInfo};

use crate::connection::{ConnectionStatus, ServerTarget};
use crate::http::{Pending, Taken, Work};
use crate::login::{Credentials, create_room, list_rooms, login_with};

/// Where the start screen is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Server, name, password.
    Login,
    /// The room list.
    Rooms,
    /// The password of the room picked.
    RoomPassword,
    /// A new room: name, map, players, password.
    Create,
    /// Handed over to the connection.
    Playing,
}

/// What the answer of a background request brings.
enum Answer {
    LoggedIn(Box<Credentials>, Vec<RoomInfo>),
    Rooms(Vec<RoomInfo>),
    Made(RoomInfo),
    Failed(String),
}

/// The start screen's state (present only when the game starts on it).
#[derive(Resource)]
pub struct StartScreen {
    pub stage: Stage,
    /// The fields of the current stage, and which one has the focus.
    pub fields: Vec<(String, String)>,
    pub focus: usize,
    /// The rooms listed, and the one picked.
    pub rooms: Vec<RoomInfo>,
    pub selected: usize,
    /// The last error or note.
    pub message: String,
    creds: Option<Credentials>,
    server: String,
    pending: Option<Pending<Answer>>,
    /// The room being joined (to come back to the list if joining fails).
    joining: Option<String>,
    /// The guest session this machine keeps for `name`, so a guest comes back as itself.
    saved: Option<(String, String)>,
    /// The avatar's look (`--look`).
    pub look: u8,
}

impl StartScreen {
    /// The screen at its login stage, with the server and name filled in.
    pub fn new(server: &str, name: &str, session: Option<String>) -> Self {
        StartScreen {
            stage: Stage::Login,
            fields: login_fields(server, name),
            focus: 2,
            rooms: Vec::new(),
            selected: 0,
            message: "Enter: log in (the password only for a registered name)".into(),
            creds: None,
            server: server.to_string(),
            pending: None,
            joining: None,
            saved: session.map(|s| (name.to_string(), s)),
            look: 0,
        }
    }

    fn field(&self, label: &str) -> String {
        self.fields
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    }

    fn ask(&mut self, work: impl Work<Answer>) {
        self.pending = Some(crate::http::spawn(work));
        self.message = "...".into();
    }
}

fn login_fields(server: &str, name: &str) -> Vec<(String, String)> {
    vec![
        ("Server".into(), server.to_string()),
        ("Name".into(), name.to_string()),
        ("Password".into(), String::new()),
    ]
}

/// Hidden fields show dots.
fn is_secret(label: &str) -> bool {
    label.contains("assword")
}

#[derive(Component)]
struct StartText;

pub fn plugin(app: &mut App) {
    app.add_systems(Startup, spawn_text).add_systems(
        Update,
        (type_into, take_answers, back_on_failure, draw).chain(),
    );
}

fn spawn_text(mut commands: Commands) {
    commands.spawn((
        StartText,
        Text::new(""),
        TextFont {
            font_size: FontSize::Px(17.0),
            ..default()
        },
        TextColor(Color::srgb(0.95, 0.93, 0.85)),
        BackgroundColor(Color::srgba(0.06, 0.05, 0.09, 0.95)),
        Node {
            position_type: PositionType::Absolute,
            top: Val::Px(60.0),
            left: Val::Percent(18.0),
            width: Val::Percent(64.0),
            padding: UiRect::all(Val::Px(18.0)),
            ..default()
        },
        Visibility::Hidden,
    ));
}

fn type_into(
    mut keys: MessageReader<KeyboardInput>,
    shift: Res<ButtonInput<KeyCode>>,
    screen: Option<ResMut<StartScreen>>,
    mut commands: Commands,
) {
    let Some(mut screen) = screen else {
        keys.clear();
        return;
    };
    if screen.stage == Stage::Playing || screen.pending.is_some() {
        keys.clear();
        return;
    }
    for key in keys.read() {
        if key.state != ButtonState::Pressed {
            continue;
        }
        match &key.logical_key {
            Key::Tab if !screen.fields.is_empty() => {
                let n = screen.fields.len();
                let back = shift.pressed(KeyCode::ShiftLeft) || shift.pressed(KeyCode::ShiftRight);
                screen.focus = if back {
                    (screen.focus + n - 1) % n
                } else {
                    (screen.focus + 1) % n
                };
            }
            Key::ArrowUp if screen.stage == Stage::Rooms => {
                screen.selected = screen.selected.saturating_sub(1);
            }
            Key::ArrowDown if screen.stage == Stage::Rooms => {
                screen.selected = (screen.selected + 1).min(screen.rooms.len().saturating_sub(1));
            }
            Key::Backspace => {
                let focus = screen.focus;
                if let Some((_, v)) = screen.fields.get_mut(focus) {
                    v.pop();
                }
            }
            Key::Escape => back(&mut screen),
            Key::Enter => go_on(&mut screen, &mut commands),
            Key::Character(c) if screen.stage == Stage::Rooms => match c.as_str() {
                "c" | "C" => {
                    let map = screen
                        .rooms
                        .get(screen.selected)
                        .map_or_else(|| "town".to_string(), |r| r.map.clone());
                    screen.stage = Stage::Create;
                    screen.fields = vec![
                        ("Room name".into(), String::new()),
                        ("Map".into(), map),
                        ("Players".into(), "8".into()),
                        ("Room password".into(), String::new()),
                    ];
                    screen.focus = 0;
                    screen.message = "Enter: make the room and join it    Esc: back".into();
                }
                "r" | "R" => {
                    let server = screen.server.clone();
                    screen.ask(async move {
                        match list_rooms(&server).await {
                            Ok(rooms) => Answer::Rooms(rooms),
                            Err(e) => Answer::Failed(e.to_string()),
                        }
                    });
                }
                _ => {}
            },
            Key::Character(c) => {
                let focus = screen.focus;
                if let Some((_, v)) = screen.fields.get_mut(focus)
                    && v.chars().count() < 128
                {
                    v.push_str(c);
                }
            }
            Key::Space => {
                let focus = screen.focus;
                if let Some((_, v)) = screen.fields.get_mut(focus) {
                    v.push(' ');
                }
            }
            _ => {}
        }
    }
}

fn back(screen: &mut StartScreen) {
    match screen.stage {
        Stage::Rooms => {
            let name = screen
                .creds
                .as_ref()
                .map(|c| c.name.clone())
                .unwrap_or_default();
            screen.fields = login_fields(&screen.server, &name);
            screen.focus = 2;
            screen.stage = Stage::Login;
            screen.message = "Enter: log in".into();
        }
        Stage::RoomPassword | Stage::Create => {
            screen.fields.clear();
            screen.stage = Stage::Rooms;
            screen.message = rooms_help();
        }
        Stage::Login | Stage::Playing => {}
    }
}

fn rooms_help() -> String {
    "Up/Down: pick    Enter: join    C: make a room    R: refresh    Esc: back".into()
}

fn go_on(screen: &mut StartScreen, commands: &mut Commands) {
    match screen.stage {
        Stage::Login => {
            let server = match crate::login::normalize_url(&screen.field("Server")) {
                Ok(s) => s,
                Err(e) => {
                    screen.message = e.to_string();
                    return;
                }
            };
            screen.server = server.clone();
            let password = screen.field("Password");
            let name = screen.field("Name");
            let session = screen
                .saved
                .as_ref()
                .filter(|(n, _)| *n == name && password.is_empty())
                .map(|(_, s)| s.clone());
            let (transport, fallbacks) = crate::connection::preferred_transports();
            let request = LoginRequest {
                name,
                session,
                password: (!password.is_empty()).then_some(password),
                room: None,
                room_password: None,
                transport,
                fallbacks,
                look: Some(screen.look),
            };
            screen.ask(async move {
                let creds = match login_with(&server, &request).await {
                    Ok(c) => c,
                    Err(e) => return Answer::Failed(e.to_string()),
                };
                match list_rooms(&server).await {
                    Ok(rooms) => Answer::LoggedIn(Box::new(creds), rooms),
                    Err(e) => Answer::Failed(e.to_string()),
                }
            });
        }
        Stage::Rooms => {
            let Some(room) = screen.rooms.get(screen.selected).cloned() else {
                screen.message = "no room to join: press C to make one".into();
                return;
            };
            if room.has_password {
                screen.stage = Stage::RoomPassword;
                screen.fields = vec![("Room password".into(), String::new())];
                screen.focus = 0;
                screen.message =
                    format!("`{}` has a password    Enter: join    Esc: back", room.name);
            } else {
                join(screen, commands, room.id, None);
            }
        }
        Stage::RoomPassword => {
            if let Some(room) = screen.rooms.get(screen.selected).cloned() {
                let password = screen.field("Room password");
                join(screen, commands, room.id, Some(password));
            }
        }
        Stage::Create => {
            let Some(creds) = &screen.creds else { return };
            let Ok(max_players) = screen.field("Players").parse::<u32>() else {
                screen.message = "Players must be a number from 1 to 100".into();
                return;
            };
            let password = screen.field("Room password");
            let request = CreateRoom {
                name: screen.field("Room name"),
                map: screen.field("Map"),
                max_players: Some(max_players),
                private: false,
                password: (!password.is_empty()).then_some(password),
                campaign: false,
                turn_time_limit: None,
            };
            let (server, token) = (screen.server.clone(), creds.api_token.clone());
            screen.ask(async move {
                match create_room(&server, &token, &request).await {
                    Ok(room) => Answer::Made(room),
                    Err(e) => Answer::Failed(e.to_string()),
                }
            });
        }
        Stage::Playing => {}
    }
}

/// Hands over to the connection: it logs in again with the session, into the room.
fn join(screen: &mut StartScreen, commands: &mut Commands, room: String, password: Option<String>) {
    let Some(creds) = &screen.creds else { return };
    commands.insert_resource(ServerTarget {
        session: (!creds.session.is_empty()).then(|| creds.session.clone()),
        room: Some(room.clone()),
        room_password: password.filter(|p| !p.is_empty()),
        look: screen.look,
        ..ServerTarget::guest(&screen.server, &creds.name)
    });
    screen.joining = Some(room);
    screen.stage = Stage::Playing;
    screen.message = "joining...".into();
}

fn take_answers(screen: Option<ResMut<StartScreen>>, mut commands: Commands) {
    let Some(mut screen) = screen else { return };
    let answer = match screen.pending.as_ref().map(Pending::take) {
        Some(Taken::Done(answer)) => answer,
        Some(Taken::Waiting) | None => return,
        Some(Taken::Lost) => Answer::Failed("the request ended without an answer".into()),
    };
    screen.pending = None;
    match answer {
        Answer::LoggedIn(creds, rooms) => {
            screen.creds = Some(*creds);
            screen.rooms = rooms;
            screen.selected = 0;
            screen.fields.clear();
            screen.stage = Stage::Rooms;
            screen.message = rooms_help();
        }
        Answer::Rooms(rooms) => {
            screen.rooms = rooms;
            screen.selected = screen.selected.min(screen.rooms.len().saturating_sub(1));
            screen.message = rooms_help();
        }
        Answer::Made(room) => {
            let password = Some(screen.field("Room password"));
            screen.rooms.insert(0, room.clone());
            screen.selected = 0;
            join(&mut screen, &mut commands, room.id, password);
        }
        Answer::Failed(why) => screen.message = why,
    }
}

/// A join that the server refused brings the list back with the reason.
fn back_on_failure(
    screen: Option<ResMut<StartScreen>>,
    mut status: ResMut<ConnectionStatus>,
    mut commands: Commands,
) {
    let Some(mut screen) = screen else { return };
    if screen.stage != Stage::Playing {
        return;
    }
    if let ConnectionStatus::Failed(why) = &*status {
        screen.message = why.clone();
        screen.stage = Stage::Rooms;
        screen.fields.clear();
        screen.joining = None;
        commands.remove_resource::<ServerTarget>();
        *status = ConnectionStatus::Idle;
    }
}

/// The screen as text.
pub fn screen_text(screen: &StartScreen) -> String {
    let mut out = String::from("TAVERN\n\n");
    match screen.stage {
        Stage::Login => out.push_str("Log in\n\n"),
        Stage::Rooms | Stage::RoomPassword | Stage::Create | Stage::Playing => {
            let who = screen.creds.as_ref().map_or("", |c| c.name.as_str());
            out.push_str(&format!("{} - logged in as {who}\n\n", screen.server));
            out.push_str("Rooms\n");
            if screen.rooms.is_empty() {
                out.push_str("  (no public rooms: press C to make one)\n");
            }
            for (i, r) in screen.rooms.iter().enumerate() {
                let mark = if i == screen.selected { ">" } else { " " };
                out.push_str(&format!(
                    "{mark} {:<28} {:<10} {:>3}/{:<3} {}{}\n",
                    r.name,
                    r.map,
                    r.players,
                    r.max_players,
                    if r.has_password { "[password] " } else { "" },
                    if r.status == tavern_shared::api::RoomStatus::Full {
                        "full"
                    } else {
                        ""
                    },
                ));
            }
            out.push('\n');
        }
    }
    for (i, (label, value)) in screen.fields.iter().enumerate() {
        let shown = if is_secret(label) {
            "*".repeat(value.chars().count())
        } else {
            value.clone()
        };
        let cursor = if i == screen.focus { "_" } else { "" };
        let mark = if i == screen.focus { ">" } else { " " };
        out.push_str(&format!("{mark} {label:<14} {shown}{cursor}\n"));
    }
    out.push_str(&format!("\n{}", screen.message));
    out
}

fn draw(
    screen: Option<Res<StartScreen>>,
    mut text: Query<(&mut Text, &mut Visibility), With<StartText>>,
) {
    let Ok((mut text, mut visibility)) = text.single_mut() else {
        return;
    };
    let shown = screen.as_ref().is_some_and(|s| s.stage != Stage::Playing);
    let want = if shown {
        Visibility::Visible
    } else {
        Visibility::Hidden
    };
    if *visibility != want {
        *visibility = want;
    }
    if let Some(screen) = screen.filter(|_| shown) {
        let line = screen_text(&screen);
        if text.0 != line {
            text.0 = line;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tavern_shared::api::RoomStatus;

    #[test]
    fn the_screen_lists_rooms_and_hides_passwords() {
        let mut screen = StartScreen::new("http://127.0.0.1:8080", "Ada", None);
        screen.fields[2].1 = "secret".into();
        let text = screen_text(&screen);
        assert!(text.contains("> Password       ******_"), "{text}");
        assert!(!text.contains("secret"));
        screen.stage = Stage::Rooms;
        screen.fields.clear();
        screen.rooms = vec![RoomInfo {
            id: "abc".into(),
            name: "Ada's table".into(),
            map: "town".into(),
            players: 2,
            max_players: 8,
            has_password: true,
            private: false,
            persistent: false,
            status: RoomStatus::Open,
            campaign: None,
        }];
        let text = screen_text(&screen);
        assert!(text.contains("> Ada's table"), "{text}");
        assert!(
            text.contains("2/8") && text.contains("[password]"),
            "{text}"
        );
    }
}
