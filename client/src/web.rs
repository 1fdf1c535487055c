//! The game in a browser: the page (`client/index.html`, built with Trunk) is served by
//! the server it plays on, so the server is the page's own origin (the address is read
//! by [`read_page`] on every target, so it is tested natively; the rest is built for
//! the browser only). The player's name
//! comes from `?name=` (the page's form fills it in), the room from `?room=`; the game
//! draws into the page's `#tavern` canvas over WebGL2 and connects over the WebSocket
//! the login answer names.

#[cfg(target_arch = "wasm32")]
use bevy::prelude::*;

/// Where the page keeps the guest sessions: a `localStorage` key.
#[cfg(target_arch = "wasm32")]
const SESSIONS_KEY: &str = "tavern.sessions";

/// What the page's address asks for: the server (its origin), the name, the room and
/// the avatar's look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub server: String,
    pub name: String,
    pub room: Option<String>,
    pub look: u8,
}

/// Reads a page address's origin and query (`?name=Ada&room=town&look=2`): `Err` says
/// what is wrong, for the page to show.
pub fn read_page(origin: &str, query: &str) -> Result<PageRequest, String> {
    let server = crate::login::normalize_url(origin).map_err(|e| {
        format!("this page must be opened from a Tavern server's http:// address ({e})")
    })?;
    let mut name = None;
    let mut room = None;
    let mut look = 0;
    for pair in query.trim_start_matches('?').split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = urlencoding::decode(&value.replace('+', " "))
            .map_err(|_| format!("`{key}` in the page address is not valid text"))?
            .trim()
            .to_string();
        match key {
            "name" => name = Some(value),
            "room" if !value.is_empty() => room = Some(value),
            "look" if !value.is_empty() => {
                let n = value
                    .parse()
                    .map_err(|_| format!("look: `{value}` is not a look's number"))?;
                look = tavern_shared::avatar::Look::new(n)?.0;
            }
            _ => {}
        }
    }
    let name = name.ok_or("enter a name to play")?;
    tavern_shared::avatar::validate_name(&name).map_err(|e| format!("name: {e}"))?;
    if let Some(id) = &room {
        crate::login::parse_invite(id)?;
    }
    Ok(PageRequest {
        server,
        name,
        room,
        look,
    })
}

/// Shows `text` in the page's `#status` line, with the form for another try.
#[cfg(target_arch = "wasm32")]
fn tell_page(text: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if let Some(body) = document.body() {
        body.set_class_name("");
    }
    if let Some(element) = document.get_element_by_id("status") {
        element.set_text_content(Some(text));
    }
}

/// Starts the game when the page's address names a player; else leaves the page's form
/// to ask for one.
#[cfg(target_arch = "wasm32")]
pub fn main() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let location = window.location();
    let (origin, query) = (
        location.origin().unwrap_or_default(),
        location.search().unwrap_or_default(),
    );
    let page = match read_page(&origin, &query) {
        Ok(page) => page,
        Err(reason) => {
            tell_page(&reason);
            return;
        }
    };
    let sessions = crate::sessions::SessionFile::new(SESSIONS_KEY, &page.server);
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(bevy::window::WindowPlugin {
                primary_window: Some(Window {
                    title: "Tavern".into(),
                    canvas: Some("#tavern".into()),
                    fit_canvas_to_parent: true,
                    // Keys go to the game, not to the page (no scrolling on arrows).
                    prevent_default_event_handling: true,
                    ..default()
                }),
                ..default()
            })
            .set(AssetPlugin {
                // The game's own sprites and sounds sit beside the page under
                // /static (index.html copies them there); map images come from the
                // server's /assets.
                file_path: "static".into(),
                meta_check: bevy::asset::AssetMetaCheck::Never,
                ..default()
            })
            .set(ImagePlugin::default_nearest()),
    )
    .insert_resource(ClearColor(Color::srgb(0.08, 0.07, 0.1)))
    .add_plugins(crate::plugin)
    .add_plugins(crate::render::plugin)
    .add_systems(
        Update,
        (
            crate::sessions::remember,
            tell_page_avatars,
            tell_page_failure,
        ),
    )
    .insert_resource(crate::connection::ServerTarget {
        session: sessions.load(&page.name),
        room: page.room.clone(),
        look: page.look,
        ..crate::connection::ServerTarget::guest(&page.server, &page.name)
    })
    .insert_resource(sessions)
    .run();
}

/// Gives the page back its form, with the reason, when the game gave up connecting
/// (no such room, a name taken, the server gone): the player fixes the form and plays.
#[cfg(target_arch = "wasm32")]
fn tell_page_failure(status: Res<crate::connection::ConnectionStatus>) {
    if let crate::connection::ConnectionStatus::Failed(_) = &*status
        && status.is_changed()
    {
        tell_page(&status.to_string());
    }
}

/// Tells the page how many avatars it draws (`data-avatars` on the canvas), for
/// scripts and tests that look at the page from outside.
#[cfg(target_arch = "wasm32")]
fn tell_page_avatars(
    avatars: Query<(), (With<tavern_shared::avatar::PlayerId>, With<Sprite>)>,
    mut told: Local<Option<usize>>,
) {
    let count = avatars.iter().count();
    if *told == Some(count) {
        return;
    }
    if set_page_data("data-avatars", &count.to_string()) {
        *told = Some(count);
    }
}

/// Sets a data attribute on the page's canvas; whether there was one to set it on.
#[cfg(target_arch = "wasm32")]
pub fn set_page_data(name: &str, value: &str) -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("tavern"))
        .is_some_and(|canvas| canvas.set_attribute(name, value).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_address_names_the_player_and_room() {
        assert_eq!(
            read_page(
                "http://127.0.0.1:8080",
                "?name=Ada+Lovelace&room=town&look=3"
            ),
            Ok(PageRequest {
                server: "http://127.0.0.1:8080".into(),
                name: "Ada Lovelace".into(),
                room: Some("town".into()),
                look: 3,
            })
        );
        assert_eq!(
            read_page("http://h:1", "?name=Ada&look=").map(|p| p.look),
            Ok(0)
        );
        for bad in ["?name=Ada&look=4", "?name=Ada&look=-1", "?name=Ada&look=x"] {
            assert!(
                read_page("http://h:1", bad).unwrap_err().contains("look"),
                "{bad}"
            );
        }
        assert_eq!(
            read_page("http://h:1", "?room=&name=Bo%C3%A9").map(|p| (p.name, p.room)),
            Ok(("Boé".to_string(), None))
        );
        assert_eq!(
            read_page("http://h:1", ""),
            Err("enter a name to play".into())
        );
        assert!(
            read_page("http://h:1", "?name=")
                .unwrap_err()
                .contains("name")
        );
        assert!(read_page("http://h:1", "?name=Ada&room=Town Square").is_err());
        assert!(
            read_page("file://", "?name=Ada")
                .unwrap_err()
                .contains("http://")
        );
    }
}
