//! `tavern-server admin ...`: the admin API from the command line. It prints what the
//! server answers (JSON lists as they come; an error with the server's reason and exit
//! code 1).

use std::time::Duration;

use clap::{Args, Subcommand};

#[derive(Args, Debug)]
pub struct AdminArgs {
    /// The server's HTTP address.
    #[arg(
        long,
        value_name = "URL",
        env = "TAVERN_ADMIN_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,
    /// The server's --admin-token (from the environment, rather than the command line).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "TAVERN_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub token: String,
    #[command(subcommand)]
    pub order: AdminOrder,
}

#[derive(Subcommand, Debug)]
pub enum AdminOrder {
    /// List every player: id, name, identity, room, map, position, presence.
    Players,
    /// List every room, private ones too.
    Rooms,
    /// List the server nodes.
    Nodes,
    /// Send a player away (by its client id, from `players`), telling it why.
    Kick {
        client_id: u64,
        /// Shown to the player.
        #[arg(default_value = "")]
        reason: String,
    },
    /// Ban a player (by its client id) from the server: its account, or its guest
    /// session; sent away and refused at login with the reason.
    Ban {
        client_id: u64,
        /// Shown to the player, now and at each login.
        #[arg(default_value = "")]
        reason: String,
    },
    /// List the bans.
    Bans,
    /// Lift the ban of an identity (as `bans` lists it).
    Unban { identity: String },
    /// Send a system message to everyone, or to one room's players.
    Broadcast {
        text: String,
        /// Only this room (its id).
        #[arg(long)]
        room: Option<String>,
    },
    /// Close the server gracefully: no new players or rooms, everyone told (MESSAGE, or
    /// that it closes and they may log in again), and it stops once empty or after
    /// --deadline seconds.
    Drain {
        /// Seconds until it stops anyway.
        #[arg(long, default_value_t = 300)]
        deadline: u64,
        message: Option<String>,
    },
}

/// Runs the order; the exit code.
pub fn main(args: &AdminArgs) -> std::process::ExitCode {
    match call(args) {
        Ok(text) => {
            if !text.is_empty() {
                println!("{text}");
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn call(args: &AdminArgs) -> Result<String, String> {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent();
    let base = args.url.trim_end_matches('/');
    let bearer = format!("Bearer {}", args.token);
    let url = |path: &str| format!("{base}/api/admin/{path}");
    let answer = match &args.order {
        AdminOrder::Players => agent
            .get(url("players"))
            .header("Authorization", &bearer)
            .call(),
        AdminOrder::Rooms => agent
            .get(url("rooms"))
            .header("Authorization", &bearer)
            .call(),
        AdminOrder::Nodes => agent
            .get(url("nodes"))
            .header("Authorization", &bearer)
            .call(),
        AdminOrder::Kick { client_id, reason } => agent
            .post(url("kick"))
            .header("Authorization", &bearer)
            .send_json(serde_json::json!({"client_id": client_id, "reason": reason})),
        AdminOrder::Ban { client_id, reason } => agent
            .post(url("ban"))
            .header("Authorization", &bearer)
            .send_json(serde_json::json!({"client_id": client_id, "reason": reason})),
        AdminOrder::Bans => agent
            .get(url("bans"))
            .header("Authorization", &bearer)
            .call(),
        AdminOrder::Unban { identity } => agent
            .delete(url(&format!("bans/{}", urlencode(identity))))
            .header("Authorization", &bearer)
            .call(),
        AdminOrder::Broadcast { text, room } => agent
            .post(url("broadcast"))
            .header("Authorization", &bearer)
            .send_json(serde_json::json!({"text": text, "room": room})),
        AdminOrder::Drain { deadline, message } => agent
            .post(url("drain"))
            .header("Authorization", &bearer)
            .send_json(serde_json::json!({"deadline_secs": deadline, "message": message})),
    };
    let mut answer = answer.map_err(|e| format!("{base}: {e}"))?;
    let status = answer.status();
    let body = answer
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("{base}: {e}"))?;
    if status.is_success() {
        let drain = matches!(args.order, AdminOrder::Drain { .. });
        return Ok(match status.as_u16() {
            202 | 204 if !drain => "done".into(),
            _ => body,
        });
    }
    let reason = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or(body);
    Err(format!(
        "{} {}: {reason}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    ))
}

/// `s` for a URL's path: everything but letters, digits and `-_.~` percent-encoded.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
