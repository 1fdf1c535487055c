//! Files the GM shares at a campaign's table, on the client: the list the server sent,
//! the handout shown now (the player may close it; the GM may take it away) and the
//! sounds the GM plays, each started [`PlaySound::lead_ms`] after the server sent it
//! (its arrival less half the round trip), so the table hears it together. Sounds are
//! downloaded as soon as they are shared, a handout's picture when it is shown. The
//! window draws and plays them ([`crate::render`]); bots keep the same counts, so
//! tests see what a player would.

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use bevy_replicon_renet2::renet2::RenetClient;
use tavern_shared::gm::assets::{AssetKind, AssetsShared, PlaySound, SharedAsset, ShowHandout};

use crate::PlaySystems;
use crate::assets::{AssetCache, MapAssets};
use crate::connection::ServerTarget;

/// The handout shown to the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Handout {
    pub asset: SharedAsset,
    /// The GM who showed it.
    pub by: String,
    /// The player closed it (it stays closed until the GM shows another).
    pub closed: bool,
}

/// The campaign's shared files and what the GM does with them.
#[derive(Resource, Debug, Default)]
pub struct Handouts {
    /// Every file shared with the campaign, oldest first.
    pub assets: Vec<SharedAsset>,
    pub shown: Option<Handout>,
    /// Sounds to start, with when (seconds since start).
    pub due: Vec<(f64, SharedAsset)>,
    /// Sounds whose time came, oldest first, for the window to play.
    pub started: Vec<SharedAsset>,
    /// Handouts shown and sounds started since connecting (for bots and tests).
    pub handouts_shown: u32,
    pub sounds_started: u32,
    /// The GM's uploads on their way: the file's name, or why not.
    pub uploads: Vec<crate::http::Pending<Result<String, String>>>,
}

impl Handouts {
    /// The handout to draw now, unless closed.
    pub fn open(&self) -> Option<&Handout> {
        self.shown.as_ref().filter(|h| !h.closed)
    }

    /// The player closes the handout.
    pub fn close(&mut self) {
        if let Some(h) = &mut self.shown {
            h.closed = true;
        }
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<Handouts>()
        .add_message::<UploadFile>()
        .add_systems(
            PreUpdate,
            (receive, start_sounds, start_uploads, finish_uploads)
                .chain()
                .in_set(PlaySystems::Receive),
        )
        .add_systems(OnExit(ClientState::Connected), |mut h: ResMut<Handouts>| {
            let uploads = std::mem::take(&mut h.uploads);
            *h = Handouts {
                uploads,
                ..Handouts::default()
            };
        });
}

/// Asks for the files a client needs at once: a sound (to start on time) or an image
/// shown (its view).
fn download(
    asset: &SharedAsset,
    files: &mut MapAssets,
    target: Option<&ServerTarget>,
    cache: &AssetCache,
) {
    let Some(target) = target else {
        return;
    };
    let url = match asset.kind {
        AssetKind::Audio => &asset.url,
        AssetKind::Image => asset.view_url.as_ref().unwrap_or(&asset.url),
    };
    files.request(&target.url, url, cache);
}

#[allow(clippy::too_many_arguments)]
fn receive(
    time: Res<Time>,
    mut shared: MessageReader<AssetsShared>,
    mut shows: MessageReader<ShowHandout>,
    mut sounds: MessageReader<PlaySound>,
    client: Option<Res<RenetClient>>,
    target: Option<Res<ServerTarget>>,
    cache: Res<AssetCache>,
    mut files: ResMut<MapAssets>,
    mut handouts: ResMut<Handouts>,
) {
    let target = target.as_deref();
    for update in shared.read() {
        for asset in &update.assets {
            if handouts.assets.iter().any(|a| a.hash == asset.hash) {
                continue;
            }
            info!(name = %asset.name, kind = ?asset.kind, bytes = asset.bytes, "a file was shared with the table");
            if asset.kind == AssetKind::Audio {
                download(asset, &mut files, target, &cache);
            }
            handouts.assets.push(asset.clone());
        }
    }
    for show in shows.read() {
        match &show.asset {
            Some(asset) => {
                info!(name = %asset.name, by = %show.by, "handout shown");
                download(asset, &mut files, target, &cache);
                handouts.handouts_shown += 1;
                handouts.shown = Some(Handout {
                    asset: asset.clone(),
                    by: show.by.clone(),
                    closed: false,
                });
            }
            None => handouts.shown = None,
        }
    }
    // Half the round trip ago the server sent it.
    let half_rtt = client
        .as_deref()
        .map_or(0.0, |c| c.network_info().rtt / 2.0)
        .min(f64::from(tavern_shared::gm::assets::SOUND_LEAD_MS) / 1000.0);
    let now = time.elapsed_secs_f64();
    for sound in sounds.read() {
        download(&sound.asset, &mut files, target, &cache);
        let at = now + f64::from(sound.lead_ms) / 1000.0 - half_rtt;
        info!(name = %sound.asset.name, by = %sound.by, in_ms = ((at - now) * 1000.0) as i64, "sound coming");
        handouts.due.push((at, sound.asset.clone()));
    }
}

fn start_sounds(time: Res<Time>, mut handouts: ResMut<Handouts>) {
    let now = time.elapsed_secs_f64();
    if handouts.due.iter().all(|(at, _)| *at > now) {
        return;
    }
    let handouts = &mut *handouts;
    let (now_due, later): (Vec<_>, Vec<_>) = handouts.due.drain(..).partition(|(at, _)| *at <= now);
    handouts.due = later;
    for (_, asset) in now_due {
        info!(name = %asset.name, "sound started");
        handouts.sounds_started += 1;
        handouts.started.push(asset);
    }
    // Without a window nothing takes them: keep the last few.
    let extra = handouts.started.len().saturating_sub(8);
    handouts.started.drain(..extra);
}

/// A `multipart/form-data` body with one `file` part named `name`: its content type
/// and bytes.
pub fn multipart_body(name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = format!("tavern-{:016x}", rand::random::<u64>());
    let quoted = name.replace('"', "%22");
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{quoted}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Shares `bytes` as the file `name` with campaign `room` on `server` (the GM's
/// `api_token`): the asset as the server keeps it, or the server's reason.
pub async fn upload(
    server: &str,
    api_token: &str,
    room: &str,
    name: &str,
    bytes: &[u8],
) -> Result<SharedAsset, String> {
    let (content_type, body) = multipart_body(name, bytes);
    let request = crate::http::Request::post_bytes(
        format!("{server}/api/campaigns/{room}/assets"),
        &content_type,
        body,
    )
    .bearer(Some(api_token))
    .timeout(std::time::Duration::from_secs(60));
    let reply = crate::http::send(request).await?;
    if !reply.ok() {
        let why = serde_json::from_slice::<serde_json::Value>(&reply.body)
            .ok()
            .and_then(|v| v.get("error")?.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("HTTP {}", reply.status));
        return Err(why);
    }
    serde_json::from_slice(&reply.body)
        .map_err(|e| format!("the server's answer is not an asset: {e}"))
}

/// The GM asks to share the file at this path on its disk (`/upload PATH`).
#[derive(Message, Debug, Clone)]
pub struct UploadFile(pub String);

/// Starts the uploads asked for; what went wrong at once is told in the table's
/// notices, like the result later.
fn start_uploads(
    time: Res<Time>,
    mut asked: MessageReader<UploadFile>,
    target: Option<Res<ServerTarget>>,
    me: Option<Res<crate::connection::LocalPlayer>>,
    mut table: ResMut<crate::table::Table>,
    mut handouts: ResMut<Handouts>,
) {
    for UploadFile(path) in asked.read() {
        let started = (|| {
            let (Some(target), Some(me)) = (&target, &me) else {
                return Err("not connected".to_string());
            };
            let Some(state) = &table.state else {
                return Err("files are shared at a campaign's table".to_string());
            };
            let (name, bytes) = read_upload(path)?;
            let (server, token, room) =
                (target.url.clone(), me.api_token.clone(), state.room.clone());
            Ok(crate::http::spawn(async move {
                upload(&server, &token, &room, &name, &bytes)
                    .await
                    .map(|a| a.name)
            }))
        })();
        match started {
            Ok(pending) => handouts.uploads.push(pending),
            Err(why) => table
                .notices
                .push_back((time.elapsed_secs_f64(), format!("Not shared: {why}"))),
        }
    }
}

/// The file at `path`: its name and bytes.
#[cfg(not(target_arch = "wasm32"))]
fn read_upload(path: &str) -> Result<(String, Vec<u8>), String> {
    let path = std::path::PathBuf::from(path.trim());
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("`{}` names no file", path.display()))?;
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok((name, bytes))
}

#[cfg(target_arch = "wasm32")]
fn read_upload(_path: &str) -> Result<(String, Vec<u8>), String> {
    Err("a browser cannot read files by path: upload with the desktop client or POST /api/campaigns/ROOM/assets".into())
}

/// Tells the GM how its uploads went.
fn finish_uploads(
    time: Res<Time>,
    mut handouts: ResMut<Handouts>,
    mut table: ResMut<crate::table::Table>,
) {
    let now = time.elapsed_secs_f64();
    handouts.uploads.retain(|pending| {
        let told = match pending.take() {
            crate::http::Taken::Waiting => return true,
            crate::http::Taken::Done(Ok(name)) => {
                format!("{name} is shared with the table (/show or /play it)")
            }
            crate::http::Taken::Done(Err(why)) => format!("Not shared: {why}"),
            crate::http::Taken::Lost => "Not shared: the upload stopped".into(),
        };
        table.notices.push_back((now, told));
        false
    });
}
