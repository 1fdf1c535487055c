//! `tavern-server validate-map`: loads maps the way the server does and reports every
//! problem, for designers and for CI. Exit code 0 only if no map has errors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use tavern_shared::content::Content;
use tavern_shared::map::{FsFiles, MapData, Problem, check_exits, load_map};

use crate::content::{check_map, default_dir};

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Map files (.tmx, .tmj, .json) or folders of them.
    #[arg(value_name = "FILES", required = true)]
    pub files: Vec<PathBuf>,

    /// Print one JSON report per map (size, layers, spawns, entry points, zones, exits,
    /// warnings, errors) instead of text.
    #[arg(long)]
    pub json: bool,

    /// The content folder the maps' enemies, chests, bosses and door keys are checked
    /// against. [default: assets/data]
    #[arg(long, value_name = "DIR")]
    pub content: Option<PathBuf>,
}

/// What `--json` prints for one map.
#[derive(Serialize, Debug)]
pub struct MapReport {
    pub file: String,
    pub ok: bool,
    pub name: Option<String>,
    /// Width and height in tiles.
    pub size: Option<[u32; 2]>,
    pub tile_size: Option<[u32; 2]>,
    pub layers: Option<u32>,
    pub spawns: Option<usize>,
    pub entry_points: Vec<String>,
    pub zones: Vec<ZoneReport>,
    pub exits: Vec<ExitReport>,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
}

#[derive(Serialize, Debug)]
pub struct ZoneReport {
    pub name: String,
    pub kinds: Vec<&'static str>,
    /// `[x, y, width, height]` in pixels.
    pub bounds: [f32; 4],
    pub place: String,
}

#[derive(Serialize, Debug)]
pub struct ExitReport {
    pub zone: String,
    pub map: String,
    pub file: String,
    pub entry: Option<String>,
}

/// Validates every map named by `paths` (folders expanded), against the content in
/// `assets/data`.
pub fn validate(paths: &[PathBuf]) -> Vec<MapReport> {
    match crate::content::load(&crate::content::default_dir()) {
        Ok(content) => validate_with(paths, Some(&content)),
        Err(_) => validate_with(paths, None),
    }
}

/// Validates every map named by `paths` (folders expanded), their content ids against
/// `content` when given.
pub fn validate_with(paths: &[PathBuf], content: Option<&Content>) -> Vec<MapReport> {
    let mut cache: HashMap<PathBuf, Option<Result<MapData, String>>> = HashMap::new();
    let mut reports = Vec::new();
    for file in expand(paths, &mut reports) {
        let loaded = load_map(&file, &mut FsFiles::default());
        let mut problems = loaded.problems;
        if let Some(map) = &loaded.map {
            let shown = file.display().to_string();
            for (place, problem) in content.map(|c| check_map(c, map)).unwrap_or_default() {
                problems.push(Problem::error(&shown, &place, problem));
            }
            problems.extend(check_exits(&file, map, |target| {
                cache
                    .entry(target.to_path_buf())
                    .or_insert_with(|| load_target(target))
                    .clone()
            }));
        }
        reports.push(report(&file, loaded.map.as_ref(), problems));
    }
    reports
}

fn load_target(path: &Path) -> Option<Result<MapData, String>> {
    if !path.is_file() {
        return None;
    }
    Some(
        load_map(path, &mut FsFiles::default())
            .into_result()
            .map(|(m, _)| m)
            .map_err(|e| {
                let errors = e.0.iter().filter(|p| p.is_error()).count();
                format!("{errors} error(s); run validate-map on it")
            }),
    )
}

fn expand(paths: &[PathBuf], reports: &mut Vec<MapReport>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let found = crate::world::maps_in_folder(p).unwrap_or_default();
            if found.is_empty() {
                let problem = Problem::error(
                    &p.display().to_string(),
                    "",
                    "the folder has no map files (.tmx, .tmj or .json)",
                );
                reports.push(report(p, None, vec![problem]));
            }
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    out
}

fn report(file: &Path, map: Option<&MapData>, problems: Vec<Problem>) -> MapReport {
    let (errors, warnings): (Vec<_>, Vec<_>) = problems.iter().partition(|p| p.is_error());
    let text = |ps: Vec<&Problem>| ps.iter().map(|p| p.to_string()).collect();
    MapReport {
        file: file.display().to_string(),
        ok: errors.is_empty(),
        name: map.map(|m| m.name.clone()),
        size: map.map(|m| [m.width, m.height]),
        tile_size: map.map(|m| [m.tile_width, m.tile_height]),
        layers: map.map(|m| m.layer_count),
        spawns: map.map(|m| m.spawns.len()),
        entry_points: map
            .map(|m| m.entries.iter().map(|e| e.name.clone()).collect())
            .unwrap_or_default(),
        zones: map
            .map(|m| {
                m.zones
                    .iter()
                    .map(|z| {
                        let b = z.area.bounds();
                        ZoneReport {
                            name: z.name.clone(),
                            kinds: z.effects.kinds(),
                            bounds: [b.min.x, b.min.y, b.width(), b.height()],
                            place: z.place.clone(),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default(),
        exits: map
            .map(|m| {
                m.zones
                    .iter()
                    .filter_map(|z| {
                        let e = z.effects.exit.as_ref()?;
                        Some(ExitReport {
                            zone: z.name.clone(),
                            map: e.map.clone(),
                            file: e.file.clone(),
                            entry: e.entry.clone(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
        warnings: text(warnings),
        errors: text(errors),
    }
}

/// One readable paragraph per map.
pub fn render_text(r: &MapReport) -> String {
    let mut out = String::new();
    if let (Some([w, h]), Some([tw, th])) = (r.size, r.tile_size) {
        let exits: Vec<String> = r
            .exits
            .iter()
            .map(|e| match &e.entry {
                Some(entry) => format!("{}#{entry}", e.map),
                None => e.map.clone(),
            })
            .collect();
        out.push_str(&format!(
            "{}: {} ({w}x{h} tiles of {tw}x{th} px, {} layers, {} spawn points, entry points: {}, {} zones, exits: {})\n",
            r.file,
            if r.ok { "ok" } else { "NOT OK" },
            r.layers.unwrap_or(0),
            r.spawns.unwrap_or(0),
            if r.entry_points.is_empty() { "none".into() } else { r.entry_points.join(", ") },
            r.zones.len(),
            if exits.is_empty() { "none".into() } else { exits.join(", ") },
        ));
    } else {
        out.push_str(&format!("{}: NOT OK (does not load)\n", r.file));
    }
    for line in r.errors.iter().chain(&r.warnings) {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

pub fn main(args: &ValidateArgs) -> ExitCode {
    let dir = args.content.clone().unwrap_or_else(default_dir);
    let content = match crate::content::load(&dir) {
        Ok(content) => content,
        Err(errors) => {
            eprintln!(
                "the content in {} has {} problem(s) (--content):",
                dir.display(),
                errors.len()
            );
            for e in errors {
                eprintln!("  {e}");
            }
            return ExitCode::FAILURE;
        }
    };
    let reports = validate_with(&args.files, Some(&content));
    if args.json {
        match serde_json::to_string_pretty(&reports) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("cannot write the report: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        for r in &reports {
            print!("{}", render_text(r));
        }
        let bad = reports.iter().filter(|r| !r.ok).count();
        let warnings: usize = reports.iter().map(|r| r.warnings.len()).sum();
        println!(
            "{} map(s) checked: {} with errors, {} warning(s)",
            reports.len(),
            bad,
            warnings
        );
    }
    if reports.iter().all(|r| r.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
