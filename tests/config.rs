//! The configuration file, as an admin uses it: `tavern-server --config tavern.toml`
//! runs with the file's settings under the command line's; `config print` shows where
//! each setting came from with secrets hidden; `config check` and a bad file at start
//! name the key and the line.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{free_addr, server_bin, temp_dir};

fn maps() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("maps/town.tmx")
}

#[test]
fn the_server_runs_with_the_file_under_its_flags() {
    let dir = temp_dir("config-run");
    std::fs::create_dir_all(&dir).unwrap();
    let (file_http, flag_http) = (free_addr(), free_addr());
    let config = dir.join("tavern.toml");
    std::fs::write(
        &config,
        format!(
            "# a node's settings\nhttp = \"{file_http}\"\nudp = \"{}\"\ndata-dir = \"{}\"\nmap = [\"{}\"]\nno-watch = true\nhearing-radius = 300\njitsi-secret = \"hunter2\"\njitsi-app-id = \"tavern\"\n",
            free_addr(),
            dir.join("data").display(),
            maps().display(),
        ),
    )
    .unwrap();

    // What it would run with: the flag's address, the file's others, the secret hidden.
    let printed = Command::new(server_bin())
        .args(["config", "print", "--config"])
        .arg(&config)
        .args(["--http", &flag_http.to_string()])
        .env_remove("TAVERN_HTTP")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&printed.stdout);
    assert!(
        printed.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    assert!(
        text.contains(&format!("http = \"{flag_http}\"  # command line")),
        "{text}"
    );
    assert!(text.contains("hearing-radius = \"300\"  # file"), "{text}");
    assert!(
        text.contains("jitsi-secret = \"<redacted>\"  # file"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("  # default"), "{text}");

    // And it runs so: the API answers on the flag's address, the data is in the file's
    // folder.
    let mut server = Command::new(server_bin())
        .arg("--config")
        .arg(&config)
        .args(["--http", &flag_http.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut up = false;
    while start.elapsed() < Duration::from_secs(30) && !up {
        up = ureq::get(&format!("http://{flag_http}/healthz"))
            .call()
            .is_ok();
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = server.kill();
    let _ = server.wait();
    assert!(up, "the server did not answer on {flag_http}");
    assert!(
        dir.join("data/netcode.key").exists(),
        "the file's data-dir was not used"
    );
}

/// `tavern-server config check FILE`.
fn config_check(file: &std::path::Path) -> std::process::Output {
    Command::new(server_bin())
        .args(["config", "check"])
        .arg(file)
        .output()
        .unwrap()
}

#[test]
fn a_bad_file_is_refused_with_its_key_and_line() {
    let dir = temp_dir("config-bad");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("tavern.toml");
    std::fs::write(&config, "udp = \"127.0.0.1:0\"\n\nhearing_radius = 300\n").unwrap();
    let check = config_check(&config);
    let said = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(1), "{said}");
    assert!(
        said.contains(
            "tavern.toml:3: `hearing_radius` is not a setting (did you mean `hearing-radius`?)"
        ),
        "{said}"
    );
    // At start: the same words, exit 2, nothing started.
    let run = Command::new(server_bin())
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{said}");
    assert!(said.contains("tavern.toml:3: `hearing_radius`"), "{said}");
    // The checks between flags hold for the file's settings too.
    std::fs::write(&config, "cert = \"cert.pem\"\n").unwrap();
    let check = config_check(&config);
    let said = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(1), "{said}");
    assert!(
        said.contains("--key") || said.contains("--webtransport"),
        "{said}"
    );
    // A good file passes.
    std::fs::write(&config, "udp = \"127.0.0.1:0\"\nno-watch = true\n").unwrap();
    let check = config_check(&config);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("2 settings, all good"));
}

/// The sample configuration the systemd unit and the Dockerfile use checks, and says
/// what it sets.
#[test]
fn the_sample_configuration_checks() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/tavern.toml");
    let check = config_check(std::path::Path::new(sample));
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let printed = Command::new(server_bin())
        .args(["config", "print", "--config", sample])
        .env_remove("TAVERN_HTTP")
        .env_remove("TAVERN_DATA_DIR")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&printed.stdout);
    assert!(
        text.contains("data-dir = \"/var/lib/tavern\"  # file")
            && text.contains("ws = \"0.0.0.0:8081\"  # file"),
        "{text}"
    );
}
