//! Files shared at a campaign's table, end to end: the GM uploads over HTTP (multipart)
//! and every client in the room is told at once and can download the file; uploads are
//! checked by content and size and only the GM's are taken; the GM shows a handout and
//! plays a sound for everyone; a player arriving later gets both; the files outlive a
//! restart and go with the campaign.

use std::time::Duration;

use serde_json::json;
use tavern_client::bot::{Bot, Brain};
use tavern_client::handouts::upload;
use tavern_client::http::wait;
use tavern_server::ServerConfig;
use tavern_shared::gm::assets::{AssetKind, SharedAsset};

use crate::campaign::{at_table, register};
use crate::common::{call, call_with, get, pump_until, temp_dir};

fn fixture(path: &str) -> Vec<u8> {
    let path = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Whether every bot knows `count` shared files.
fn all_know(bots: &mut [&mut Bot], count: usize) -> bool {
    pump_until(bots, Duration::from_secs(10), |b| {
        b.iter().all(|b| b.handouts().assets.len() == count)
    })
}

#[test]
fn shared_files_reach_the_table_and_the_gm_shows_and_plays_them() {
    let _turn = crate::common::serial();
    let data = temp_dir("handouts").join("data");
    let server = tavern_server::start(ServerConfig::local(&data)).expect("the server starts");
    let url = server.http_url();
    let (_, gm_token, gm_session) = register(&url, "Gaia");
    let (_, bram_token, bram_session) = register(&url, "Bram");
    let (_, cy_token, cy_session) = register(&url, "Cy");
    let (status, room) = call(
        &url,
        "/api/rooms",
        Some(&gm_token),
        Some(json!({"name": "Keep", "map": "town", "campaign": true, "password": "keep"})),
    );
    assert_eq!(status, 201, "{room}");
    let id = room["id"].as_str().unwrap().to_string();
    let mut gaia = at_table(&url, "Gaia", &gm_session, &id, Brain::Idle);
    let mut bram = at_table(&url, "Bram", &bram_session, &id, Brain::Idle);
    assert!(pump_until(
        &mut [&mut gaia, &mut bram],
        Duration::from_secs(15),
        |b| b.iter().all(|b| b.table().state.is_some())
    ));
    let share = |token: &str, name: &str, bytes: &[u8]| wait(upload(&url, token, &id, name, bytes));
    let jpeg = fixture("tests/fixtures/assets/keep.jpg");
    let ogg = fixture("assets/audio/library-rain.ogg");

    // Refused, each with its reason, and nothing kept: a player's upload, an
    // executable named .png, a damaged image, a file over the limit (5 MB).
    let refused = share(&bram_token, "keep.jpg", &jpeg).unwrap_err();
    assert_eq!(refused, "only the GM can share files with the table");
    let elf = [b"\x7fELF\x02\x01\x01\0".as_slice(), &[0; 4000]].concat();
    let refused = share(&gm_token, "map.png", &elf).unwrap_err();
    assert!(
        refused.starts_with("`map.png` is refused") && refused.contains("an ELF executable"),
        "{refused}"
    );
    let refused = share(&gm_token, "half.jpg", &jpeg[..jpeg.len() / 2]).unwrap_err();
    assert!(refused.contains("the JPEG does not decode"), "{refused}");
    let huge = [b"\x89PNG\r\n\x1a\n".as_slice(), &vec![0; 5 * 1024 * 1024]].concat();
    let refused = share(&gm_token, "huge.png", &huge).unwrap_err();
    assert_eq!(refused, "shared files are at most 5 MB");
    let (status, list) = call(
        &url,
        &format!("/api/campaigns/{id}/assets"),
        Some(&gm_token),
        None,
    );
    assert_eq!((status, list), (200, json!([])), "nothing was kept");
    assert!(
        !data.join("assets").exists() || walk_files(&data.join("assets")).is_empty(),
        "no file was written"
    );

    // The GM shares a picture and a sound: both players are told at once.
    let keep = share(&gm_token, "keep.jpg", &jpeg).unwrap();
    assert_eq!(
        (keep.kind, keep.width, keep.height, keep.bytes),
        (AssetKind::Image, 120, 80, jpeg.len() as u64)
    );
    let rain = share(&gm_token, "library-rain.ogg", &ogg).unwrap();
    assert_eq!(rain.kind, AssetKind::Audio);
    assert!(all_know(&mut [&mut gaia, &mut bram], 2));
    // The same content again is the same file, told to nobody again.
    assert_eq!(share(&gm_token, "again.jpg", &jpeg).unwrap(), keep);

    // Served by hash, for ever cacheable; the view and thumbnail are PNGs.
    let got = get(&format!("{url}{}", keep.url), None);
    assert_eq!((got.status, got.body == jpeg), (200, true));
    assert_eq!(got.header("content-type").as_deref(), Some("image/jpeg"));
    assert!(got.header("cache-control").unwrap().contains("immutable"));
    let etag = got.header("etag").unwrap();
    assert_eq!(get(&format!("{url}{}", keep.url), Some(&etag)).status, 304);
    for picture in [&keep.view_url, &keep.thumbnail_url] {
        let got = get(&format!("{url}{}", picture.as_ref().unwrap()), None);
        assert_eq!(got.status, 200);
        assert!(got.body.starts_with(b"\x89PNG"));
    }
    let got = get(&format!("{url}{}", rain.url), None);
    assert_eq!(
        (got.status, got.header("content-type").as_deref()),
        (200, Some("audio/ogg"))
    );

    // The list: for the table, not for others.
    let (status, list) = call(
        &url,
        &format!("/api/campaigns/{id}/assets"),
        Some(&bram_token),
        None,
    );
    let listed: Vec<SharedAsset> = serde_json::from_value(list).unwrap();
    assert_eq!((status, listed), (200, vec![keep.clone(), rain.clone()]));
    let (status, _) = call(
        &url,
        &format!("/api/campaigns/{id}/assets"),
        Some(&cy_token),
        None,
    );
    assert_eq!(status, 403);

    // Only the GM shows and plays.
    bram.gm_act("show", "keep.jpg").unwrap();
    assert!(pump_until(&mut [&mut bram], Duration::from_secs(5), |b| {
        b[0].table()
            .notices
            .iter()
            .any(|(_, t)| t == "only the GM can show handouts")
    }));
    gaia.gm_act("show", "library-rain.ogg").unwrap();
    gaia.gm_act("play", "nothing.ogg").unwrap();
    assert!(pump_until(&mut [&mut gaia], Duration::from_secs(5), |b| {
        let notices: Vec<&str> = b[0]
            .table()
            .notices
            .iter()
            .map(|(_, t)| t.as_str())
            .collect();
        notices.contains(&"library-rain.ogg is a sound: /play it")
            && notices.contains(
                &"no shared file is called `nothing.ogg` (shared: keep.jpg, library-rain.ogg)",
            )
    }));

    // The handout reaches both, and its picture is downloaded (checked by hash).
    gaia.gm_act("show", "keep.jpg").unwrap();
    let view = keep.view_url.clone().unwrap();
    assert!(
        pump_until(&mut [&mut gaia, &mut bram], Duration::from_secs(10), |b| {
            b.iter().all(|b| {
                b.handouts()
                    .open()
                    .is_some_and(|h| h.asset == keep && h.by == "Gaia")
                    && b.downloads().ready(&view).is_some()
            })
        }),
        "the handout is shown to all"
    );
    // The sound starts for both, about half a second after the GM played it.
    gaia.gm_act("play", "library-rain.ogg").unwrap();
    assert!(
        pump_until(&mut [&mut gaia, &mut bram], Duration::from_secs(10), |b| {
            b.iter().all(|b| {
                b.handouts().sounds_started == 1 && b.downloads().ready(&rain.url).is_some()
            })
        }),
        "the sound plays for all"
    );

    // A player arriving later is given the files and the handout shown.
    let mut cy = at_table(&url, "Cy", &cy_session, &id, Brain::Idle);
    assert!(
        pump_until(
            &mut [&mut gaia, &mut bram, &mut cy],
            Duration::from_secs(15),
            |b| {
                b[2].handouts().assets.len() == 2
                    && b[2].handouts().open().is_some_and(|h| h.asset == keep)
            }
        ),
        "Cy sees the handout"
    );
    // The GM puts it away for all.
    gaia.gm_act("hide", "").unwrap();
    assert!(pump_until(
        &mut [&mut gaia, &mut bram, &mut cy],
        Duration::from_secs(10),
        |b| b.iter().all(|b| b.handouts().shown.is_none())
    ));
    drop((gaia, bram, cy));
    drop(server);

    // A restart keeps the files and serves them.
    let server = tavern_server::start(ServerConfig::local(&data)).expect("the server starts again");
    let url = server.http_url();
    let (_, gm_token, _) = register(&url, "Gaia");
    let (status, list) = call(
        &url,
        &format!("/api/campaigns/{id}/assets"),
        Some(&gm_token),
        None,
    );
    assert_eq!(status, 200, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(get(&format!("{url}{}", keep.url), None).body, jpeg);

    // Deleting the campaign deletes its files.
    let (status, body) = call_with(
        "DELETE",
        &url,
        &format!("/api/campaigns/{id}"),
        Some(&gm_token),
        None,
    );
    assert_eq!(status, 204, "{body}");
    assert_eq!(get(&format!("{url}{}", keep.url), None).status, 404);
    assert!(
        walk_files(&data.join("assets")).is_empty(),
        "the files are gone"
    );
}

/// Every file under `dir`.
fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk_files(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// A throwaway S3-compatible store (moto's server, installed by `./setup.sh`) on a
/// free loopback port, stopped on drop.
struct S3Store {
    child: std::process::Child,
    url: String,
}

impl Drop for S3Store {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `moto_server` on the PATH, in `./setup.sh`'s virtual environment, or where
/// `TAVERN_MOTO_SERVER` says.
fn moto_server() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("TAVERN_MOTO_SERVER") {
        return Some(path.into());
    }
    let venv = std::env::var_os("HOME")
        .map(|h| std::path::PathBuf::from(h).join(".cache/tavern-venv/bin/moto_server"))
        .filter(|p| p.exists());
    venv.or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("moto_server"))
                .find(|p| p.exists())
        })
    })
}

/// Starts the store, or says why it cannot (and fails when CI requires it).
fn s3_store() -> Option<S3Store> {
    let unavailable = |why: String| {
        crate::common::unavailable("the S3 store", &why);
        None
    };
    let Some(binary) = moto_server() else {
        return unavailable("moto_server is not installed (./setup.sh installs it)".into());
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let child = match std::process::Command::new(&binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => return unavailable(format!("{} cannot start: {e}", binary.display())),
    };
    let store = S3Store {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            return unavailable(format!("{} did not listen within 30 s", binary.display()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(store)
}

#[test]
fn shared_files_can_live_in_an_s3_bucket() {
    use tavern_server::gm::bucket::{Bucket, BucketConfig};
    let _turn = crate::common::serial();
    let Some(store) = s3_store() else {
        return;
    };
    let bucket_config = |url: String| BucketConfig {
        url,
        region: "us-east-1".into(),
        access_key: "tavern-test".into(),
        secret_key: "tavern-test-secret".into(),
    };
    // A server pointed at a bucket that is not there does not start, and says why.
    let mut config = ServerConfig::local(temp_dir("handouts-s3"));
    config.assets_s3 = Some(bucket_config(format!("{}/missing", store.url)));
    let Err(refused) = tavern_server::start(config.clone()) else {
        panic!("a server with a missing bucket started");
    };
    assert!(
        format!("{refused:#}").contains("there is no bucket `missing`"),
        "{refused:#}"
    );
    let s3 = bucket_config(format!("{}/tavern/campaign-files", store.url));
    let bucket = Bucket::new(&s3).unwrap();
    bucket.create().unwrap();
    config.assets_s3 = Some(s3);
    let data = config.data_dir.clone();
    let server = tavern_server::start(config).expect("the server starts");
    let url = server.http_url();
    let (_, token, _) = register(&url, "Gaia");
    let (status, room) = call(
        &url,
        "/api/rooms",
        Some(&token),
        Some(json!({"name": "Keep", "map": "town", "campaign": true})),
    );
    assert_eq!(status, 201, "{room}");
    let id = room["id"].as_str().unwrap().to_string();
    let jpeg = fixture("tests/fixtures/assets/keep.jpg");
    let keep = wait(upload(&url, &token, &id, "keep.jpg", &jpeg)).unwrap();
    // In the bucket, under its hash (and the prefix), not on the server's disk.
    let name = format!("{}/{}", &keep.hash[..2], keep.hash);
    assert_eq!(bucket.get(&name).unwrap(), jpeg);
    assert!(!data.join("assets").exists());
    let got = get(&format!("{url}{}", keep.url), None);
    assert_eq!((got.status, got.body == jpeg), (200, true));
    let thumbnail = get(&format!("{url}{}", keep.thumbnail_url.unwrap()), None);
    assert!(thumbnail.body.starts_with(b"\x89PNG"));
    // Deleting the campaign deletes its objects.
    let (status, _) = call_with(
        "DELETE",
        &url,
        &format!("/api/campaigns/{id}"),
        Some(&token),
        None,
    );
    assert_eq!(status, 204);
    assert_eq!(
        bucket.get(&name).unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
}
