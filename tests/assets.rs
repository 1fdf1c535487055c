//! Map images come from the server: a map whose tileset image lives only in the
//! server's map folder (under a name the client has never seen) reaches a client over
//! HTTP at a content-addressed URL, is checked and cached on disk, comes from the cache
//! the next time, and an edited image gets a new URL while the old one is gone. Only
//! the files loaded maps reference are served.

use std::path::Path;
use std::time::Duration;

use tavern_client::assets::{AssetCache, MapAssets};
use tavern_client::bot::{Bot, Brain};
use tavern_client::prediction::CurrentMap;
use tavern_server::ServerConfig;

use crate::common::{get, pump_until, temp_dir};

/// A 10 x 6 map of 32 px tiles drawn from `pictures/odd tiles.png` (the sample
/// tileset's picture, copied there), starting players on row 3.
fn write_map(dir: &Path) -> std::path::PathBuf {
    const W: usize = 10;
    const H: usize = 6;
    let pictures = dir.join("pictures");
    std::fs::create_dir_all(&pictures).unwrap();
    let sample = tavern_server::config::repo_path("assets/tilesets/town.png");
    std::fs::copy(sample, pictures.join("odd tiles.png")).unwrap();
    let mut start = vec![0u32; W * H];
    start[3 * W + 4] = 1;
    let map = serde_json::json!({
        "type": "map", "orientation": "orthogonal", "width": W, "height": H,
        "tilewidth": 32, "tileheight": 32, "infinite": false,
        "tilesets": [{"firstgid": 1, "name": "odd", "tilewidth": 32, "tileheight": 32,
            "tilecount": 10, "columns": 5, "image": "pictures/odd tiles.png",
            "imagewidth": 160, "imageheight": 64}],
        "layers": [
            {"type": "tilelayer", "id": 1, "name": "ground", "width": W, "height": H,
             "data": vec![1u32; W * H]},
            {"type": "tilelayer", "id": 2, "name": "start", "width": W, "height": H,
             "visible": false, "data": start}
        ]
    });
    let path = dir.join("odd.tmj");
    std::fs::write(&path, serde_json::to_vec_pretty(&map).unwrap()).unwrap();
    path
}

/// A bot keeping its downloads in `cache`, once its map's images have all arrived.
fn bot_with_images(url: &str, name: &str, cache: &Path) -> Bot {
    let mut bot = Bot::new(url, name, Brain::Idle);
    bot.app
        .world_mut()
        .insert_resource(AssetCache(cache.to_path_buf()));
    assert!(
        pump_until(&mut [&mut bot], Duration::from_secs(15), |b| {
            let assets = b[0].app.world().resource::<MapAssets>();
            !assets.files.is_empty() && assets.settled()
        }),
        "{name} gets the map's images"
    );
    bot
}

fn image_url(bot: &Bot) -> String {
    bot.app.world().resource::<CurrentMap>().data.tilesets[0]
        .image_url
        .clone()
        .expect("the server names the image's URL")
}

#[test]
fn map_images_come_from_the_server_cached_and_renewed_when_edited() {
    let _turn = crate::common::serial();
    let dir = temp_dir("assets");
    let map = write_map(&dir.join("maps"));
    let mut config = ServerConfig::local(dir.join("data"));
    config.maps = vec![map];
    let server = tavern_server::start(config).expect("the server starts");
    let url = server.http_url();
    let picture = std::fs::read(dir.join("maps/pictures/odd tiles.png")).unwrap();

    // The first player downloads the picture; what arrived is the file.
    let cache = dir.join("cache");
    let mut ada = bot_with_images(&url, "Ada", &cache);
    let first_url = image_url(&ada);
    assert!(
        first_url.starts_with("/assets/") && first_url.ends_with("/odd%20tiles.png"),
        "{first_url}"
    );
    let assets = ada.app.world().resource::<MapAssets>();
    assert_eq!((assets.downloaded, assets.from_cache), (1, 0));
    assert_eq!(&**assets.ready(&first_url).unwrap(), picture.as_slice());

    // Over HTTP: the picture, cacheable for ever; unchanged, a 304.
    let got = get(&format!("{url}{first_url}"), None);
    assert_eq!(got.status, 200);
    assert_eq!(got.body, picture);
    assert_eq!(got.header("content-type").as_deref(), Some("image/png"));
    assert!(got.header("cache-control").unwrap().contains("immutable"));
    let hash = first_url.split('/').nth(2).unwrap();
    let got = get(&format!("{url}{first_url}"), Some(&format!("\"{hash}\"")));
    assert_eq!(got.status, 304);
    // Nothing else: not another hash, not a path.
    for other in [
        format!("/assets/{}/odd%20tiles.png", "0".repeat(32)),
        "/assets/..%2F..%2Fdata/netcode.key".to_string(),
        "/assets/pictures/odd%20tiles.png".to_string(),
    ] {
        assert_eq!(get(&format!("{url}{other}"), None).status, 404, "{other}");
    }

    // A second player with the same cache takes it from the disk.
    let bo = bot_with_images(&url, "Bo", &cache);
    let assets = bo.app.world().resource::<MapAssets>();
    assert_eq!((assets.downloaded, assets.from_cache), (0, 1));

    // The picture is edited: the map reloads with a new URL, which Ada downloads; the
    // old URL is gone.
    let mut edited = picture.clone();
    edited.extend_from_slice(b"edited");
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(dir.join("maps/pictures/odd tiles.png"), &edited).unwrap();
    assert!(
        pump_until(&mut [&mut ada], Duration::from_secs(15), |b| {
            let now = image_url(b[0]);
            now != first_url
                && b[0]
                    .app
                    .world()
                    .resource::<MapAssets>()
                    .ready(&now)
                    .is_some_and(|bytes| **bytes == *edited)
        }),
        "the edited picture arrives under a new URL"
    );
    assert_eq!(
        get(&format!("{url}{first_url}"), None).status,
        404,
        "the old picture is no longer served"
    );
}
