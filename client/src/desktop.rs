//! The desktop game: window, rendering and input on top of the client plugin; with no
//! `--server` it starts an embedded server and joins it.

use std::path::PathBuf;
use std::process::ExitCode;

use bevy::prelude::*;
use bevy::window::WindowPlugin;
use clap::Parser;

use crate::cli::init_logging;
use crate::connection::ServerTarget;
use crate::login::normalize_url;

#[derive(Parser, Debug)]
#[command(
    name = "tavern",
    version,
    about = "Tavern: walk around a shared world with other players.",
    after_help = "With no --server, Tavern starts its own server on this machine and joins it, \
        so you can look around at once; others can't join that one.\n\n\
        Controls: WASD or arrow keys to move, Shift to run, Enter to chat. Voice: type \
        /voice on in the chat to use your microphone, then hold V to talk to those near you.\n\n\
        Example: tavern --server http://192.0.2.10:8080 --name Ada"
)]
pub struct DesktopArgs {
    /// A server's HTTP address to join, like http://host:8080.
    #[arg(long, value_name = "URL", value_parser = |s: &str| normalize_url(s).map_err(|e| e.to_string()))]
    pub server: Option<String>,
    /// Your display name (1 to 24 characters).
    #[arg(long, value_name = "NAME", value_parser = check_name)]
    pub name: Option<String>,
    /// The room to join: its id, or an invitation `tavern://HOST/room/ID` (which also
    /// names the server). With --server and no --room, a start screen lists the rooms.
    #[arg(long, value_name = "ID|INVITE", value_parser = crate::login::parse_invite)]
    pub room: Option<(Option<String>, String)>,
    /// A map file or folder for the built-in server to run (only without --server).
    #[arg(long, value_name = "PATH", conflicts_with = "server")]
    pub map: Option<PathBuf>,
    /// Your avatar's look: 0 traveller, 1 ranger, 2 scholar, 3 smith.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = check_look)]
    pub look: u8,
}

fn check_look(text: &str) -> Result<u8, String> {
    let n: u8 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a look's number"))?;
    tavern_shared::avatar::Look::new(n).map(|look| look.0)
}

fn check_name(text: &str) -> Result<String, String> {
    tavern_shared::avatar::validate_name(text)
        .map(|()| text.to_string())
        .map_err(|e| e.to_string())
}

/// `assets/` of the checkout (or next to the working directory), for Bevy's asset server.
fn assets_dir() -> PathBuf {
    let here = PathBuf::from("assets");
    if here.is_dir() {
        return std::fs::canonicalize(&here).unwrap_or(here);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../assets")
}

/// Closing the window: says goodbye (the avatar leaves at once rather than waiting for
/// a reconnection), then exits once the server closed the connection, or after 1 s.
fn quit(world: &mut World, mut since: Local<Option<f64>>) {
    let now = world.resource::<Time<Real>>().elapsed_secs_f64();
    let asked = world
        .resource_mut::<Messages<bevy::window::WindowCloseRequested>>()
        .drain()
        .count()
        > 0;
    if asked && since.is_none() {
        *since = Some(now);
        crate::connection::say_goodbye(world);
    }
    let Some(at) = *since else { return };
    let connected = *world.resource::<crate::connection::ConnectionStatus>()
        == crate::connection::ConnectionStatus::Connected;
    if !connected || now - at > 1.0 {
        world.write_message(AppExit::Success);
    }
}

/// `tavern`: parse the command line, start the embedded server if needed, play.
pub fn main() -> ExitCode {
    let args = DesktopArgs::parse();
    init_logging("info,wgpu=error,naga=warn");
    let name = args.name.clone().unwrap_or_else(|| {
        let n = std::process::id() % 10_000;
        format!("Player {n}")
    });
    #[cfg(feature = "embedded-server")]
    let mut _embedded = None;
    let invited = args.room.as_ref().and_then(|(server, _)| server.clone());
    let url = match args.server.clone().or(invited) {
        Some(url) => url,
        #[cfg(feature = "embedded-server")]
        None => match crate::embedded::start(args.map.clone()) {
            Ok(server) => {
                let url = server.http_url();
                _embedded = Some(server);
                url
            }
            Err(e) => {
                eprintln!("tavern: cannot start the built-in server: {e:#}");
                return ExitCode::FAILURE;
            }
        },
        #[cfg(not(feature = "embedded-server"))]
        None => {
            eprintln!("tavern: this build has no built-in server; pass --server http://host:port");
            return ExitCode::FAILURE;
        }
    };
    // The built-in server's address changes from run to run; its data folder does not.
    let builtin = args.server.is_none() && args.room.is_none();
    let server = if builtin { "built-in" } else { url.as_str() };
    let sessions = crate::sessions::SessionFile::new(
        crate::sessions::data_dir().join("sessions.json"),
        server,
    );
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title: "Tavern".into(),
                    ..default()
                }),
                // Closing says goodbye to the server first (see `quit`).
                close_when_requested: false,
                ..default()
            })
            .set(AssetPlugin {
                file_path: assets_dir().to_string_lossy().into_owned(),
                ..default()
            })
            .set(ImagePlugin::default_nearest())
            .disable::<bevy::log::LogPlugin>(),
    )
    .insert_resource(ClearColor(Color::srgb(0.08, 0.07, 0.1)))
    .add_plugins(crate::plugin)
    .add_plugins(crate::render::plugin)
    .add_systems(Update, (crate::sessions::remember, quit));
    match (&args.room, builtin) {
        // A room given, or the built-in server's town: straight in.
        (Some((_, room)), _) => {
            app.insert_resource(ServerTarget {
                session: sessions.load(&name),
                room: Some(room.clone()),
                look: args.look,
                ..ServerTarget::guest(&url, &name)
            });
        }
        (None, true) => {
            app.insert_resource(ServerTarget {
                session: sessions.load(&name),
                look: args.look,
                ..ServerTarget::guest(&url, &name)
            });
        }
        // A server without a room: the start screen.
        (None, false) => {
            let mut screen =
                crate::render::start::StartScreen::new(&url, &name, sessions.load(&name));
            screen.look = args.look;
            app.insert_resource(screen);
        }
    }
    app.insert_resource(sessions).run();
    ExitCode::SUCCESS
}
