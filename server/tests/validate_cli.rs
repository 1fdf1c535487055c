//! `tavern-server validate-map` as an admin or CI runs it: the real binary, its output
//! and its exit code.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tavern-server"))
        .arg("validate-map")
        .args(args)
        .output()
        .expect("the server binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_sample_world_passes_and_a_broken_map_fails_with_its_reasons() {
    let maps = repo("maps");
    let (code, text) = run(&[maps.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("town.tmx: ok (40x30 tiles of 32x32 px"),
        "{text}"
    );
    assert!(text.contains("dungeon.tmj: ok"), "{text}");
    assert!(text.contains("2 map(s) checked: 0 with errors"), "{text}");

    let bad = repo("tests/fixtures/maps/bad/exits.tmj");
    let good = repo("tests/fixtures/maps/encodings.tmx");
    let (code, text) = run(&[good.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("encodings.tmx: ok"), "{text}");
    assert!(
        text.contains("exit leads to `missing.tmj`, but there is no such file"),
        "{text}"
    );
    assert!(text.contains("2 map(s) checked: 1 with errors"), "{text}");
}

#[test]
fn json_reports_describe_each_map() {
    let (code, text) = run(&["--json", repo("maps/dungeon.tmj").to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    let reports: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let d = &reports[0];
    assert_eq!(d["name"], "dungeon");
    assert_eq!(d["size"], serde_json::json!([30, 11]));
    assert_eq!(d["spawns"], 1);
    assert_eq!(d["entry_points"], serde_json::json!(["from-town"]));
    assert_eq!(d["exits"][0]["map"], "town");
    assert_eq!(d["exits"][0]["entry"], "from-dungeon");
    assert!(d["zones"].as_array().unwrap().len() >= 10);
    assert_eq!(d["errors"], serde_json::json!([]));

    let (code, text) = run(&["--json", "/nonexistent/map.tmx"]);
    assert_eq!(code, 1);
    let reports: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(reports[0]["ok"], false);
    assert!(
        reports[0]["errors"][0]
            .as_str()
            .unwrap()
            .contains("/nonexistent/map.tmx"),
        "{text}"
    );
}
