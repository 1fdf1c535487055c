//! The configuration file (`--config tavern.toml`): every flag of `tavern-server run`
//! as a TOML key named like the flag (`hearing-radius = 300`, `map = ["maps/town.tmx"]`,
//! `no-watch = true`). Precedence: flags, then the environment, then the file, then
//! the defaults. The file's settings are checked one by one against the flag they set
//! (an unknown key, a wrong type or a bad value is an error naming the key and its
//! line), and then go in as if given on the command line, so the checks between flags
//! (`--cert` needs `--key`) hold for them too.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};

/// The flag naming the file, and its environment variable.
pub const CONFIG_FLAG: &str = "config";
pub const CONFIG_ENV: &str = "TAVERN_CONFIG";

/// One setting of the file: its flag, the values it gives, and its line.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub key: String,
    pub values: Vec<String>,
    pub line: usize,
}

/// A configuration file, read and checked against the flags of `run`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub settings: Vec<Setting>,
    /// The settings [`ConfigFile::merged`] put in (those the command line and the
    /// environment did not set).
    pub applied: Vec<String>,
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line a key is set on: where `key =` first starts a line, else the value's line.
fn key_line(text: &str, key: &str, value_at: usize) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key)
                .or_else(|| l.strip_prefix(&format!("\"{key}\"")))
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or_else(|| line_of(text, value_at), |i| i + 1)
}

impl ConfigFile {
    /// Reads `path` and checks every key against the flags of `run` (the arguments of
    /// `command`).
    pub fn load(path: &Path, command: &Command) -> anyhow::Result<ConfigFile> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("{}: cannot read the configuration: {e}", path.display())
        })?;
        Self::parse(path, &text, command)
    }

    /// Checks `text` (the contents of `path`).
    pub fn parse(path: &Path, text: &str, command: &Command) -> anyhow::Result<ConfigFile> {
        let here = path.display();
        let table: BTreeMap<String, toml::Spanned<toml::Value>> =
            toml::from_str(text).map_err(|e| {
                let line = e.span().map_or(0, |s| line_of(text, s.start));
                anyhow::anyhow!("{here}:{line}: not TOML: {}", e.message())
            })?;
        let mut settings = Vec::new();
        for (key, value) in table {
            let line = key_line(text, &key, value.span().start);
            let at = format!("{here}:{line}: `{key}`");
            let arg = settable(command)
                .find(|a| a.get_long() == Some(key.as_str()))
                .ok_or_else(|| {
                    let near = closest(command, &key)
                        .map(|k| format!(" (did you mean `{k}`?)"))
                        .unwrap_or_default();
                    anyhow::anyhow!(
                        "{at} is not a setting{near}; the settings are the flags of `tavern-server run --help`, without their dashes"
                    )
                })?;
            let values =
                values_of(arg, value.get_ref()).map_err(|why| anyhow::anyhow!("{at}: {why}"))?;
            check(command, arg, &values).map_err(|why| anyhow::anyhow!("{at}: {why}"))?;
            settings.push(Setting { key, values, line });
        }
        settings.sort_by_key(|s| s.line);
        Ok(ConfigFile {
            path: path.to_path_buf(),
            settings,
            applied: Vec::new(),
        })
    }

    /// The command line with the file's settings added as flags, except those given on
    /// the command line or in the environment (which win).
    pub fn merged(&mut self, command: &Command, argv: &[OsString]) -> Vec<OsString> {
        let given = given_on_command_line(command, argv);
        let mut out = argv.to_vec();
        self.applied.clear();
        for setting in &self.settings {
            let Some(arg) = settable(command).find(|a| a.get_long() == Some(&setting.key)) else {
                continue;
            };
            let from_env = arg.get_env().is_some_and(|v| std::env::var_os(v).is_some());
            if given.contains(&setting.key) || from_env {
                continue;
            }
            out.extend(flag_args(arg, &setting.values));
            self.applied.push(setting.key.clone());
        }
        out
    }
}

/// The flags a file may set: every long flag but `--config`, `--help` and `--version`.
fn settable(command: &Command) -> impl Iterator<Item = &Arg> {
    command.get_arguments().filter(|a| {
        a.get_long()
            .is_some_and(|l| !matches!(l, CONFIG_FLAG | "help" | "version"))
    })
}

/// The settable flag nearest `key` (a typo, or underscores for dashes).
fn closest<'a>(command: &'a Command, key: &str) -> Option<&'a str> {
    let want = key.replace('_', "-");
    settable(command)
        .filter_map(|a| a.get_long())
        .map(|l| (strsim_distance(l, &want), l))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, l)| l)
}

/// Edit distance (Levenshtein) between two short strings.
fn strsim_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (prev + cost).min(row[j].min(row[j + 1]) + 1);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// Whether `arg` is an on/off switch (no value).
fn is_switch(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse)
}

/// Whether `arg` takes several values (repeated, or a list).
fn is_list(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append)
}

/// A TOML value as the flag's values: a switch takes `true` or `false`; a list an array
/// (or one value); anything else one string, number or boolean.
fn values_of(arg: &Arg, value: &toml::Value) -> Result<Vec<String>, String> {
    use toml::Value;
    let scalar = |v: &Value| -> Result<String, String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Integer(i) => Ok(i.to_string()),
            Value::Float(f) => Ok(f.to_string()),
            Value::Boolean(b) => Ok(b.to_string()),
            Value::Datetime(d) => Ok(d.to_string()),
            Value::Array(_) => Err("a list, where one value goes".into()),
            Value::Table(_) => Err("a table, where one value goes".into()),
        }
    };
    if is_switch(arg) {
        return match value {
            Value::Boolean(b) => Ok(vec![b.to_string()]),
            other => Err(format!("takes true or false, not {}", other.type_str())),
        };
    }
    match value {
        Value::Array(items) if is_list(arg) => items.iter().map(scalar).collect(),
        Value::Array(_) => Err("takes one value, not a list".into()),
        other => Ok(vec![scalar(other)?]),
    }
}

/// Checks `values` with the flag's own parser (the checks between flags come later,
/// with the whole command line).
fn check(command: &Command, arg: &Arg, values: &[String]) -> Result<(), String> {
    use clap::error::ErrorKind;
    let Some(long) = arg.get_long() else {
        return Ok(());
    };
    if is_switch(arg) {
        return Ok(());
    }
    let mut argv = vec![OsString::from("tavern-server")];
    for value in values {
        argv.push(format!("--{long}").into());
        argv.push(value.into());
    }
    match command.clone().try_get_matches_from(argv) {
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::InvalidValue
                    | ErrorKind::ValueValidation
                    | ErrorKind::WrongNumberOfValues
                    | ErrorKind::TooManyValues
                    | ErrorKind::InvalidUtf8
            ) =>
        {
            Err(clap_reason(&e))
        }
        _ => Ok(()),
    }
}

/// What a clap error says, on one line, without its usage and help hints.
pub fn clap_reason(e: &clap::Error) -> String {
    let text = e.to_string();
    let said = text.split("\n\n").next().unwrap_or_default();
    said.trim_start_matches("error: ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The command-line words that set `arg` to `values`.
fn flag_args(arg: &Arg, values: &[String]) -> Vec<OsString> {
    let Some(long) = arg.get_long() else {
        return Vec::new();
    };
    if is_switch(arg) {
        let on = values.first().is_some_and(|v| v == "true");
        let set = matches!(arg.get_action(), ArgAction::SetTrue) == on;
        return if set {
            vec![format!("--{long}").into()]
        } else {
            Vec::new()
        };
    }
    values
        .iter()
        .flat_map(|v| [OsString::from(format!("--{long}")), OsString::from(v)])
        .collect()
}

/// The long flags given on the command line (a lenient parse: an error elsewhere is the
/// real parse's to report).
fn given_on_command_line(command: &Command, argv: &[OsString]) -> Vec<String> {
    let Ok(mut matches) = command
        .clone()
        .ignore_errors(true)
        .try_get_matches_from(argv)
    else {
        return Vec::new();
    };
    let mut given = Vec::new();
    // The flags of `run` at the top, or after a subcommand (`run`, `config print`).
    loop {
        given.extend(
            settable(command)
                .filter(|a| {
                    matches
                        .try_contains_id(a.get_id().as_str())
                        .unwrap_or(false)
                        && matches.value_source(a.get_id().as_str())
                            == Some(ValueSource::CommandLine)
                })
                .filter_map(|a| a.get_long().map(str::to_string)),
        );
        match matches.remove_subcommand() {
            Some((_, sub)) => matches = sub,
            None => break,
        }
    }
    given
}

/// Whether a setting holds a secret, shown redacted: secrets, passwords and tokens
/// (`jitsi-secret`, `admin-token`; not `tokens-per-ip`). The database URL shows all but
/// its password ([`redact_url`]).
pub fn is_secret(key: &str) -> bool {
    key.contains("secret") || key.contains("password") || key.ends_with("token")
}

/// A database URL with its password replaced.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((user, host)) => {
            let name = user.split_once(':').map_or(user, |(n, _)| n);
            if user.contains(':') {
                format!("{scheme}://{name}:<redacted>@{host}")
            } else {
                url.to_string()
            }
        }
        None => url.to_string(),
    }
}

/// The effective configuration, as a file `--config` reads: each setting with where it
/// came from (the file's settings counted as such), secrets redacted, unset flags as
/// comments.
pub fn describe(command: &Command, matches: &ArgMatches, file: Option<&ConfigFile>) -> String {
    let mut out = String::from(
        "# tavern-server's effective configuration (flags > environment > file > defaults)\n",
    );
    if let Some(file) = file {
        out.push_str(&format!("# file: {}\n", file.path.display()));
    }
    for arg in settable(command) {
        let (Some(long), id) = (arg.get_long(), arg.get_id().as_str()) else {
            continue;
        };
        let values: Vec<String> = matches
            .get_raw(id)
            .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let source = match matches.value_source(id) {
            Some(ValueSource::CommandLine)
                if file.is_some_and(|f| f.applied.iter().any(|k| k == long)) =>
            {
                "file"
            }
            Some(ValueSource::CommandLine) => "command line",
            Some(ValueSource::EnvVariable) => "environment",
            Some(ValueSource::DefaultValue) => "default",
            _ => "",
        };
        if values.is_empty() || source.is_empty() {
            out.push_str(&format!("# {long} (not set)\n"));
            continue;
        }
        let shown: Vec<String> = values
            .iter()
            .map(|v| {
                if is_secret(long) {
                    "<redacted>".to_string()
                } else if long.starts_with("database-url") {
                    redact_url(v)
                } else {
                    v.clone()
                }
            })
            .collect();
        let value = if is_switch(arg) {
            shown[0].clone()
        } else if is_list(arg) {
            let items: Vec<String> = shown.iter().map(|v| toml_string(v)).collect();
            format!("[{}]", items.join(", "))
        } else {
            toml_string(&shown[0])
        };
        out.push_str(&format!("{long} = {value}  # {source}\n"));
    }
    out
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn run_command() -> Command {
        crate::cli::Cli::command()
    }

    fn parse(text: &str) -> anyhow::Result<ConfigFile> {
        ConfigFile::parse(Path::new("tavern.toml"), text, &run_command())
    }

    #[test]
    fn settings_are_flags_with_their_values_and_lines() {
        let file = parse(
            "# a comment\nhearing-radius = 300\nmap = [\"maps/town.tmx\", \"maps/dungeon.tmj\"]\nno-watch = true\nhttp = \"127.0.0.1:9000\"\n",
        )
        .unwrap();
        let keys: Vec<_> = file
            .settings
            .iter()
            .map(|s| (s.key.as_str(), s.line))
            .collect();
        assert_eq!(
            keys,
            [
                ("hearing-radius", 2),
                ("map", 3),
                ("no-watch", 4),
                ("http", 5)
            ]
        );
        assert_eq!(
            file.settings[1].values,
            ["maps/town.tmx", "maps/dungeon.tmj"]
        );
    }

    #[test]
    fn unknown_keys_wrong_types_and_bad_values_name_the_key_and_line() {
        let e = parse("udp = \"0.0.0.0:5000\"\nhearing_radius = 3\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("tavern.toml:2")
                && e.contains("`hearing_radius` is not a setting")
                && e.contains("did you mean `hearing-radius`"),
            "{e}"
        );
        let e = parse("\n\nno-watch = \"yes\"\n").unwrap_err().to_string();
        assert!(
            e.contains("tavern.toml:3: `no-watch`: takes true or false, not string"),
            "{e}"
        );
        let e = parse("udp = [\"a\"]\n").unwrap_err().to_string();
        assert!(
            e.contains("tavern.toml:1: `udp`: takes one value, not a list"),
            "{e}"
        );
        let e = parse("hearing-radius = 0\n").unwrap_err().to_string();
        assert!(
            e.contains("tavern.toml:1: `hearing-radius`: invalid value '0'"),
            "{e}"
        );
        let e = parse("udp = \"nowhere\"\n").unwrap_err().to_string();
        assert!(
            e.contains("tavern.toml:1: `udp`: invalid value 'nowhere'"),
            "{e}"
        );
        let e = parse("udp = \n").unwrap_err().to_string();
        assert!(e.contains("tavern.toml:1: not TOML"), "{e}");
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let command = run_command();
        let mut file =
            parse("http = \"127.0.0.1:9000\"\nudp = \"127.0.0.1:6000\"\nno-watch = true\n")
                .unwrap();
        let argv: Vec<OsString> = ["tavern-server", "--udp", "127.0.0.1:7000"]
            .iter()
            .map(OsString::from)
            .collect();
        let merged = file.merged(&command, &argv);
        let matches = command.clone().try_get_matches_from(&merged).unwrap();
        let raw = |id: &str| {
            matches
                .get_raw(id)
                .unwrap()
                .map(|v| v.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(raw("udp"), ["127.0.0.1:7000"]);
        assert_eq!(raw("http"), ["127.0.0.1:9000"]);
        assert_eq!(raw("no_watch"), ["true"]);
        let shown = describe(&command, &matches, Some(&file));
        assert!(
            shown.contains("udp = \"127.0.0.1:7000\"  # command line"),
            "{shown}"
        );
        assert!(
            shown.contains("http = \"127.0.0.1:9000\"  # file"),
            "{shown}"
        );
        assert!(shown.contains("no-watch = true  # file"), "{shown}");
        assert!(shown.contains("# ws (not set)"), "{shown}");
        // What it prints reads back as a configuration file.
        let printed: String = shown
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{}\n", l.split("  #").next().unwrap()))
            .collect();
        parse(&printed).unwrap();
    }

    #[test]
    fn printed_strings_are_toml() {
        let text = format!("k = {}", toml_string("a \"b\" \\ c\nd"));
        let back: BTreeMap<String, String> = toml::from_str(&text).unwrap();
        assert_eq!(back["k"], "a \"b\" \\ c\nd");
    }

    #[test]
    fn secrets_are_redacted() {
        assert!(is_secret("jitsi-secret") && is_secret("admin-token"));
        assert!(!is_secret("http") && !is_secret("tokens-per-ip"));
        assert_eq!(
            redact_url("postgres://tavern:hunter2@db:5432/tavern"),
            "postgres://tavern:<redacted>@db:5432/tavern"
        );
        assert_eq!(
            redact_url("sqlite://data/tavern.db"),
            "sqlite://data/tavern.db"
        );
    }
}
