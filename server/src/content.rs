//! Content files (`assets/data/*.toml`, see [`tavern_shared::content`]): loaded at
//! start with every reference between them checked, served read-only at
//! `/api/content`, and used by `validate-map` to check a map's enemies, chests, bosses
//! and door keys. Every problem names the file, the line and the entry.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::path::{Path, PathBuf};

use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use bevy::prelude::*;
use serde::de::DeserializeOwned;
use tavern_shared::content::{
    Ability, CombatStats, Content, ContentKind, Delivery, EnemyType, Item, ItemKind, LootTable,
};
use tavern_shared::map::MapData;

/// The content folder used when `--content` is not given: `assets/data`.
pub fn default_dir() -> PathBuf {
    crate::config::repo_path("assets/data")
}

/// Content ready to serve: the tables, their JSON and its ETag.
#[derive(Debug, Clone)]
pub struct Served {
    pub content: Content,
    pub json: String,
    pub etag: String,
}

impl Served {
    pub fn new(content: Content) -> Self {
        let json = serde_json::to_string(&content).unwrap_or_else(|_| "{}".into());
        let mut hasher = std::hash::DefaultHasher::new();
        json.hash(&mut hasher);
        Served {
            etag: format!("\"{:016x}\"", hasher.finish()),
            content,
            json,
        }
    }
}

/// The content in use, shared by the game and the HTTP API; swapped whole when the
/// files change and load.
#[derive(Resource, Debug, Clone)]
pub struct ContentHandle(Arc<RwLock<Arc<Served>>>);

impl ContentHandle {
    pub fn new(content: Content) -> Self {
        ContentHandle(Arc::new(RwLock::new(Arc::new(Served::new(content)))))
    }

    pub fn current(&self) -> Arc<Served> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, content: Content) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(Served::new(content));
    }
}

/// Where the content files are, and when each was last changed.
#[derive(Resource, Debug)]
pub struct ContentWatch {
    dir: PathBuf,
    stamps: Vec<Option<SystemTime>>,
    loading: Option<Mutex<Receiver<Result<Content, Vec<String>>>>>,
}

impl ContentWatch {
    pub fn new(dir: PathBuf) -> Self {
        let stamps = stamps(&dir);
        ContentWatch {
            dir,
            stamps,
            loading: None,
        }
    }
}

fn stamps(dir: &Path) -> Vec<Option<SystemTime>> {
    tavern_shared::content::KINDS
        .iter()
        .map(|k| {
            std::fs::metadata(dir.join(k.file()))
                .and_then(|m| m.modified())
                .ok()
        })
        .collect()
}

/// Content files are watched with the maps (`--no-watch` turns both off): a changed
/// file is loaded on a thread of its own and swapped in if it loads and every map's
/// content ids still exist; otherwise the errors are logged and the old content kept.
pub fn plugin(app: &mut App) {
    app.add_systems(
        Update,
        (start_loading_changed_content, swap_in_loaded_content)
            .chain()
            .run_if(|w: Option<Res<crate::reload::WatchMaps>>| w.is_none_or(|w| w.0))
            .run_if(resource_exists::<ContentWatch>),
    );
}

fn start_loading_changed_content(
    time: Res<Time<Real>>,
    mut since: Local<f32>,
    mut watch: ResMut<ContentWatch>,
) {
    *since += time.delta_secs();
    if *since < crate::reload::POLL.as_secs_f32() || watch.loading.is_some() {
        return;
    }
    *since = 0.0;
    let now = stamps(&watch.dir);
    if now == watch.stamps {
        return;
    }
    watch.stamps = now;
    let (tx, rx) = std::sync::mpsc::channel();
    let dir = watch.dir.clone();
    let started = std::thread::Builder::new()
        .name("tavern-content-load".into())
        .spawn(move || {
            let _ = tx.send(load(&dir));
        });
    match started {
        Ok(_) => watch.loading = Some(Mutex::new(rx)),
        Err(e) => error!("cannot start loading the changed content: {e}"),
    }
}

fn swap_in_loaded_content(
    mut watch: ResMut<ContentWatch>,
    handle: Res<ContentHandle>,
    maps: Res<crate::world::Maps>,
) {
    let Some(rx) = &mut watch.loading else {
        return;
    };
    let result = match rx.get_mut().map(|rx| rx.try_recv()) {
        Ok(Err(TryRecvError::Empty)) => return,
        Ok(Ok(result)) => result,
        _ => Err(vec!["the content loader stopped without an answer".into()]),
    };
    watch.loading = None;
    let dir = watch.dir.display().to_string();
    let content = match result {
        Ok(content) => content,
        Err(errors) => {
            for e in &errors {
                error!("{e}");
            }
            warn!(%dir, problems = errors.len(), "the changed content does not load; keeping the old");
            return;
        }
    };
    let problems = unknown_in_maps(&content, &maps);
    if !problems.is_empty() {
        for p in &problems {
            error!("{p}");
        }
        warn!(%dir, problems = problems.len(), "maps name content the changed files no longer have; keeping the old");
        return;
    }
    handle.replace(content);
    info!(%dir, "content reloaded");
}

/// One file's text, to turn byte offsets into lines.
struct Source {
    path: String,
    text: String,
}

impl Source {
    fn line_at(&self, offset: usize) -> usize {
        self.text.as_bytes()[..offset.min(self.text.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    /// The line of `field = ...` inside the entry spanning `span`, else the entry's.
    fn field_line(&self, span: &Range<usize>, field: &str) -> usize {
        let body = &self.text[span.start.min(self.text.len())..span.end.min(self.text.len())];
        let mut offset = span.start;
        for line in body.split_inclusive('\n') {
            let trimmed = line.trim_start();
            let assigned = trimmed
                .strip_prefix(field)
                .is_some_and(|rest| rest.trim_start().starts_with('='));
            // `[[id.field]]`: an array of tables.
            let table = trimmed.starts_with('[') && trimmed.contains(&format!(".{field}]"));
            if assigned || table {
                return self.line_at(offset);
            }
            offset += line.len();
        }
        self.entry_line(span)
    }

    /// The line of the entry's `[id]` header.
    fn entry_line(&self, span: &Range<usize>) -> usize {
        self.line_at(span.start)
    }
}

/// One kind's entries with where each is in its file.
struct Parsed<T> {
    /// Whether the file was read and parsed (else its entries are missing, not wrong).
    errors_free: bool,
    entries: BTreeMap<String, T>,
    spans: BTreeMap<String, Range<usize>>,
    source: Source,
}

fn parse<T: DeserializeOwned>(
    dir: &Path,
    kind: ContentKind,
    errors: &mut Vec<String>,
) -> Parsed<T> {
    let path = dir.join(kind.file());
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            errors.push(format!(
                "{shown}: cannot read the {} file: {e}",
                kind.noun()
            ));
            String::new()
        }
    };
    let mut entries = BTreeMap::new();
    let mut spans = BTreeMap::new();
    let before = errors.len();
    if !text.is_empty() {
        match toml::from_str::<BTreeMap<String, toml::Spanned<T>>>(&text) {
            Ok(parsed) => {
                // An entry's span is its `[id]` header; its lines run to the next one.
                let mut starts: Vec<usize> = parsed.values().map(|e| e.span().start).collect();
                starts.sort_unstable();
                for (id, entry) in parsed {
                    let start = entry.span().start;
                    let end = starts
                        .iter()
                        .copied()
                        .find(|s| *s > start)
                        .unwrap_or(text.len());
                    spans.insert(id.clone(), start..end);
                    entries.insert(id, entry.into_inner());
                }
            }
            Err(e) => errors.push(format!("{shown}: {}", e.to_string().trim_end())),
        }
    }
    Parsed {
        errors_free: errors.len() == before,
        entries,
        spans,
        source: Source { path: shown, text },
    }
}

/// Collects problems, each at a file, line and entry.
struct Problems<'a> {
    errors: &'a mut Vec<String>,
}

impl Problems<'_> {
    fn at<T>(
        &mut self,
        parsed: &Parsed<T>,
        kind: ContentKind,
        id: &str,
        field: &str,
        what: String,
    ) {
        let span = parsed.spans.get(id).cloned().unwrap_or(0..0);
        let line = if field.is_empty() {
            parsed.source.entry_line(&span)
        } else {
            parsed.source.field_line(&span, field)
        };
        self.errors.push(format!(
            "{}:{line}: {} `{id}`: {what}",
            parsed.source.path,
            kind.noun()
        ));
    }
}

/// "not an ability in abilities.toml (there: a, b)".
fn not_in<'a>(kind: ContentKind, known: impl IntoIterator<Item = &'a str>) -> String {
    let known: Vec<&str> = known.into_iter().collect();
    format!(
        "not {} {} in {} (there: {})",
        if kind.noun().starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        },
        kind.noun(),
        kind.file(),
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    )
}

/// "`x` is not an ability in abilities.toml (there: a, b)".
fn unknown(what: &str, id: &str, kind: ContentKind, known: Vec<&String>) -> String {
    let known = not_in(kind, known.into_iter().map(String::as_str));
    format!("{what} `{id}` is {known}")
}

/// Loads the content in `dir` and checks it: every problem found, or the content.
pub fn load(dir: &Path) -> Result<Content, Vec<String>> {
    let mut errors = Vec::new();
    let stats: Parsed<CombatStats> = parse(dir, ContentKind::CombatStats, &mut errors);
    let enemies: Parsed<EnemyType> = parse(dir, ContentKind::EnemyTypes, &mut errors);
    let abilities: Parsed<Ability> = parse(dir, ContentKind::Abilities, &mut errors);
    let loot: Parsed<LootTable> = parse(dir, ContentKind::LootTables, &mut errors);
    let items: Parsed<Item> = parse(dir, ContentKind::Items, &mut errors);
    let mut p = Problems {
        errors: &mut errors,
    };

    for (id, s) in &stats.entries {
        let k = ContentKind::CombatStats;
        if s.health == 0 {
            p.at(
                &stats,
                k,
                id,
                "health",
                "health should be at least 1".into(),
            );
        }
        if !(s.move_speed > 0.0 && s.move_speed.is_finite()) {
            p.at(
                &stats,
                k,
                id,
                "move_speed",
                format!("move_speed should be above 0, not {}", s.move_speed),
            );
        }
        if !(1..=30).contains(&s.dexterity) {
            p.at(
                &stats,
                k,
                id,
                "dexterity",
                format!("dexterity should be 1 to 30, not {}", s.dexterity),
            );
        }
    }

    if stats.errors_free
        && !stats
            .entries
            .contains_key(tavern_shared::combat::PLAYER_STATS)
    {
        p.errors.push(format!(
            "{}: there are no `[{}]` stats: players use them",
            stats.source.path,
            tavern_shared::combat::PLAYER_STATS
        ));
    }

    for (id, a) in &abilities.entries {
        let k = ContentKind::Abilities;
        if a.damage[0] > a.damage[1] {
            p.at(
                &abilities,
                k,
                id,
                "damage",
                format!(
                    "damage [{}, {}] should be [least, most]",
                    a.damage[0], a.damage[1]
                ),
            );
        }
        if !(a.range > 0.0 && a.range.is_finite()) {
            p.at(
                &abilities,
                k,
                id,
                "range",
                format!("range should be above 0, not {}", a.range),
            );
        }
        for (field, value) in [
            ("cooldown_secs", a.cooldown_secs),
            ("cast_secs", a.cast_secs),
            ("area_radius", a.area_radius),
        ] {
            if !(value >= 0.0 && value.is_finite()) {
                p.at(
                    &abilities,
                    k,
                    id,
                    field,
                    format!("{field} should not be negative, not {value}"),
                );
            }
        }
        match (a.delivery, a.projectile_speed) {
            (Delivery::Projectile, None) => p.at(
                &abilities,
                k,
                id,
                "delivery",
                "a projectile needs projectile_speed".into(),
            ),
            (Delivery::Projectile, Some(speed)) if !(speed > 0.0 && speed.is_finite()) => {
                p.at(
                    &abilities,
                    k,
                    id,
                    "projectile_speed",
                    format!("projectile_speed should be above 0, not {speed}"),
                );
            }
            (Delivery::Melee, Some(_)) => p.at(
                &abilities,
                k,
                id,
                "projectile_speed",
                "projectile_speed is only for projectiles".into(),
            ),
            _ => {}
        }
        if let Some(effect) = &a.effect
            && !(effect.secs > 0.0 && effect.amount > 0.0)
        {
            p.at(
                &abilities,
                k,
                id,
                "effect",
                "an effect needs secs and amount above 0".into(),
            );
        }
    }

    for (id, s) in &stats.entries {
        let k = ContentKind::CombatStats;
        for (field, value) in [
            ("mana_regen", s.mana_regen),
            ("stamina_regen", s.stamina_regen),
        ] {
            if !(value >= 0.0 && value.is_finite()) {
                p.at(
                    &stats,
                    k,
                    id,
                    field,
                    format!("{field} should not be negative, not {value}"),
                );
            }
        }
        if s.hotbar.len() > tavern_shared::combat::HOTBAR_SLOTS {
            p.at(
                &stats,
                k,
                id,
                "hotbar",
                format!(
                    "the hotbar has {} abilities; it holds at most {}",
                    s.hotbar.len(),
                    tavern_shared::combat::HOTBAR_SLOTS
                ),
            );
        }
        for ability in &s.hotbar {
            if !abilities.entries.contains_key(ability) {
                p.at(
                    &stats,
                    k,
                    id,
                    "hotbar",
                    unknown(
                        "hotbar ability",
                        ability,
                        ContentKind::Abilities,
                        abilities.entries.keys().collect(),
                    ),
                );
            }
        }
    }

    for (id, e) in &enemies.entries {
        let k = ContentKind::EnemyTypes;
        if !stats.entries.contains_key(&e.stats) {
            p.at(
                &enemies,
                k,
                id,
                "stats",
                unknown(
                    "stats",
                    &e.stats,
                    ContentKind::CombatStats,
                    stats.entries.keys().collect(),
                ),
            );
        }
        if !abilities.entries.contains_key(&e.attack) {
            p.at(
                &enemies,
                k,
                id,
                "attack",
                unknown(
                    "attack",
                    &e.attack,
                    ContentKind::Abilities,
                    abilities.entries.keys().collect(),
                ),
            );
        }
        if let Some(table) = &e.loot_table
            && !loot.entries.contains_key(table)
        {
            p.at(
                &enemies,
                k,
                id,
                "loot_table",
                unknown(
                    "loot_table",
                    table,
                    ContentKind::LootTables,
                    loot.entries.keys().collect(),
                ),
            );
        }
        if !(e.aggro_radius > 0.0 && e.aggro_radius.is_finite()) {
            p.at(
                &enemies,
                k,
                id,
                "aggro_radius",
                format!("aggro_radius should be above 0, not {}", e.aggro_radius),
            );
        } else if e.leash_radius < e.aggro_radius || !e.leash_radius.is_finite() {
            p.at(
                &enemies,
                k,
                id,
                "leash_radius",
                format!(
                    "leash_radius ({}) should be at least aggro_radius ({})",
                    e.leash_radius, e.aggro_radius
                ),
            );
        }
        let mut above = 1.0f32;
        for phase in &e.phases {
            if !(phase.at_health > 0.0 && phase.at_health < above) {
                p.at(&enemies, k, id, "phases", format!("phase `{}`: at_health {} should be below {above} and above 0 (phases go from the highest threshold down)", phase.name, phase.at_health));
            }
            above = phase.at_health;
            for ability in &phase.abilities {
                if !abilities.entries.contains_key(ability) {
                    p.at(
                        &enemies,
                        k,
                        id,
                        "phases",
                        unknown(
                            &format!("phase `{}`: ability", phase.name),
                            ability,
                            ContentKind::Abilities,
                            abilities.entries.keys().collect(),
                        ),
                    );
                }
            }
        }
    }

    for (id, t) in &loot.entries {
        let k = ContentKind::LootTables;
        for entry in &t.entries {
            if !items.entries.contains_key(&entry.item) {
                p.at(
                    &loot,
                    k,
                    id,
                    "entries",
                    unknown(
                        "entry",
                        &entry.item,
                        ContentKind::Items,
                        items.entries.keys().collect(),
                    ),
                );
            }
            if entry.weight == 0 {
                p.at(
                    &loot,
                    k,
                    id,
                    "entries",
                    format!("entry `{}`: weight should be at least 1", entry.item),
                );
            }
            if entry.count[0] == 0 || entry.count[0] > entry.count[1] {
                p.at(
                    &loot,
                    k,
                    id,
                    "entries",
                    format!(
                        "entry `{}`: count [{}, {}] should be [least, most], at least 1",
                        entry.item, entry.count[0], entry.count[1]
                    ),
                );
            }
        }
        for item in &t.guaranteed {
            if !items.entries.contains_key(item) {
                p.at(
                    &loot,
                    k,
                    id,
                    "guaranteed",
                    unknown(
                        "guaranteed item",
                        item,
                        ContentKind::Items,
                        items.entries.keys().collect(),
                    ),
                );
            }
        }
        if t.gold[0] > t.gold[1] {
            p.at(
                &loot,
                k,
                id,
                "gold",
                format!(
                    "gold [{}, {}] should be [least, most]",
                    t.gold[0], t.gold[1]
                ),
            );
        }
        if t.rolls > 100 {
            p.at(
                &loot,
                k,
                id,
                "rolls",
                format!("rolls should be at most 100, not {}", t.rolls),
            );
        }
    }

    for (id, item) in &items.entries {
        let k = ContentKind::Items;
        if item.stack == 0 {
            p.at(&items, k, id, "stack", "stack should be at least 1".into());
        }
        if item.kind == ItemKind::Consumable && item.heal == 0 && item.restore_mana == 0 {
            p.at(
                &items,
                k,
                id,
                "kind",
                "a consumable should heal or restore_mana".into(),
            );
        }
    }

    if errors.is_empty() {
        Ok(Content {
            combat_stats: stats.entries,
            enemy_types: enemies.entries,
            abilities: abilities.entries,
            loot_tables: loot.entries,
            items: items.entries,
        })
    } else {
        Err(errors)
    }
}

/// Loads the content for a server starting with `maps`: an error listing every problem
/// in the content files and every map naming content that does not exist.
pub fn load_for(dir: &Path, maps: &crate::world::Maps) -> anyhow::Result<Content> {
    let content = load(dir).map_err(|errors| {
        anyhow::anyhow!(
            "the content in {} has {} problem(s) (--content):\n  {}",
            dir.display(),
            errors.len(),
            errors.join("\n  ")
        )
    })?;
    let problems = unknown_in_maps(&content, maps);
    if !problems.is_empty() {
        anyhow::bail!(
            "maps name content that does not exist in {}:\n  {}",
            dir.display(),
            problems.join("\n  ")
        );
    }
    Ok(content)
}

/// What any of `maps` names that `content` does not have, one line per problem
/// (file: place: problem).
fn unknown_in_maps(content: &Content, maps: &crate::world::Maps) -> Vec<String> {
    maps.all()
        .flat_map(|m| {
            check_map(content, &m.data)
                .into_iter()
                .map(move |(place, p)| format!("{}: {place}: {p}", m.path.display()))
        })
        .collect()
}

/// What in `map` names content that does not exist, as (place, problem): enemy spawns
/// and bosses (enemy types), loot chests (loot tables) and door keys (items of kind
/// `key`).
pub fn check_map(content: &Content, map: &MapData) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for zone in &map.zones {
        let e = &zone.effects;
        let mut refer = |property: &str, id: &str, kind: ContentKind| {
            let known = content.ids(kind);
            if !known.contains(&id) {
                problems.push((
                    zone.place.clone(),
                    format!(
                        "`{property}` names `{id}`, which is {}",
                        not_in(kind, known)
                    ),
                ));
            }
        };
        if let Some(spawn) = &e.enemy_spawn {
            refer("enemySpawn", &spawn.enemy, ContentKind::EnemyTypes);
        }
        if let Some(boss) = &e.boss {
            refer("boss", boss, ContentKind::EnemyTypes);
        }
        if let Some(chest) = &e.loot_chest {
            refer("lootChest", chest, ContentKind::LootTables);
        }
        if let Some(key) = e.door.as_ref().and_then(|d| d.key.as_ref()) {
            match content.items.get(key) {
                Some(item) if item.kind != ItemKind::Key => problems.push((
                    zone.place.clone(),
                    format!(
                        "`key` names `{key}`, which is an item of kind {:?}, not a key",
                        item.kind
                    ),
                )),
                Some(_) => {}
                None => refer("key", key, ContentKind::Items),
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes the sample content with one file replaced, and loads it.
    fn load_with(file: &str, text: &str) -> Result<Content, Vec<String>> {
        let dir = std::env::temp_dir().join(format!(
            "tavern-content-{}-{}",
            std::process::id(),
            file.replace('.', "-")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for kind in tavern_shared::content::KINDS {
            let sample = std::fs::read_to_string(default_dir().join(kind.file())).unwrap();
            let text = if kind.file() == file { text } else { &sample };
            std::fs::write(dir.join(kind.file()), text).unwrap();
        }
        let result = load(&dir);
        std::fs::remove_dir_all(&dir).ok();
        result
    }

    #[test]
    fn the_sample_content_loads_and_every_kind_has_entries() {
        let content = load(&default_dir()).unwrap();
        for kind in tavern_shared::content::KINDS {
            assert!(!content.ids(kind).is_empty(), "{kind:?}");
        }
        assert!(content.enemy_types["ogre"].phases.len() >= 2);
    }

    #[test]
    fn an_unknown_id_names_the_file_the_line_and_the_entry() {
        let enemies = "[slime]\nname = \"Slime\"\nstats = \"slime\"\naggro_radius = 150.0\nleash_radius = 400.0\nattack = \"bit\"\nai = \"melee\"\nsprite = \"slime\"\n\n[ogre]\nname = \"Ogre\"\nstats = \"ogre\"\naggro_radius = 200.0\nleash_radius = 600.0\nattack = \"smash\"\nai = \"melee\"\nloot_table = \"nope\"\nsprite = \"ogre\"\n";
        let errors = load_with("enemy_types.toml", enemies).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(
            errors[0].ends_with("enemy_types.toml:17: enemy type `ogre`: loot_table `nope` is not a loot table in loot_tables.toml (there: ogre-hoard, slime-drops, store-chest)")
                || errors[1].ends_with("enemy_types.toml:17: enemy type `ogre`: loot_table `nope` is not a loot table in loot_tables.toml (there: ogre-hoard, slime-drops, store-chest)"),
            "{errors:#?}"
        );
        assert!(
            errors.iter().any(|e| e.contains("enemy_types.toml:6: enemy type `slime`: attack `bit` is not an ability in abilities.toml (there: ")),
            "{errors:#?}"
        );
    }

    #[test]
    fn broken_files_and_bad_values_are_reported_each_in_its_place() {
        let errors = load_with(
            "items.toml",
            "[potion]\nname = \"Potion\"\nkind = \"consumable\"\nstak = 5\n",
        )
        .unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.contains("items.toml") && e.contains("line 4") && e.contains("stak")),
            "{errors:#?}"
        );
        let errors = load_with("abilities.toml", "[zap]\nname = \"Zap\"\ndamage = [9, 3]\nrange = 100.0\ncooldown_secs = 1.0\ndelivery = \"projectile\"\n").unwrap_err();
        assert!(
            errors.iter().any(|e| e.ends_with(
                "abilities.toml:3: ability `zap`: damage [9, 3] should be [least, most]"
            )),
            "{errors:#?}"
        );
        assert!(
            errors.iter().any(|e| e
                .ends_with("abilities.toml:6: ability `zap`: a projectile needs projectile_speed")),
            "{errors:#?}"
        );
        // Entries that referred to abilities now missing are reported too.
        assert!(
            errors
                .iter()
                .any(|e| e.contains("enemy_types.toml") && e.contains("is not an ability")),
            "{errors:#?}"
        );
        let errors = load_with("combat_stats.toml", "[slime]\nhealth = 30\nmove_speed = 60.0\n[skeleton]\nhealth = 45\nmove_speed = 90.0\n[ogre]\nhealth = 400\nmove_speed = 80.0\n").unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(
            errors[0]
                .ends_with("combat_stats.toml: there are no `[player]` stats: players use them"),
            "{errors:#?}"
        );
        let stats = std::fs::read_to_string(default_dir().join("combat_stats.toml")).unwrap();
        let errors = load_with(
            "combat_stats.toml",
            &stats
                .replace(
                    "hotbar = [\"slash\", \"fireball\", \"frost-bolt\", \"kick\"]",
                    "hotbar = [\"slash\", \"zap\", \"kick\", \"kick\", \"kick\"]",
                )
                .replace("mana_regen = 4.0", "mana_regen = -1.0"),
        )
        .unwrap_err();
        assert!(
            errors.iter().any(|e| e.contains("combat_stats.toml:")
                && e.contains("combat stats `player`: hotbar ability `zap` is not an ability in abilities.toml")),
            "{errors:#?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.ends_with("the hotbar has 5 abilities; it holds at most 4")),
            "{errors:#?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.ends_with("mana_regen should not be negative, not -1")),
            "{errors:#?}"
        );
        let errors = load_with("loot_tables.toml", "not toml [").unwrap_err();
        assert!(
            errors[0].contains("loot_tables.toml") && errors[0].contains("line 1"),
            "{errors:#?}"
        );
    }

    #[test]
    fn a_map_naming_unknown_content_is_reported() {
        let content = load(&default_dir()).unwrap();
        let dungeon = tavern_shared::map::load_map(
            &crate::config::repo_path("maps/dungeon.tmj"),
            &mut tavern_shared::map::FsFiles::default(),
        )
        .into_result()
        .unwrap()
        .0;
        assert_eq!(check_map(&content, &dungeon), Vec::new());
        let mut broken = dungeon.clone();
        let mut first_spawn = true;
        for zone in &mut broken.zones {
            if let Some(spawn) = &mut zone.effects.enemy_spawn
                && std::mem::take(&mut first_spawn)
            {
                spawn.enemy = "dragon".into();
            }
            if let Some(door) = &mut zone.effects.door
                && door.key.is_some()
            {
                door.key = Some("health-potion".into());
            }
        }
        let problems = check_map(&content, &broken);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(
            problems[0].1.contains(
                "`enemySpawn` names `dragon`, which is not an enemy type in enemy_types.toml"
            ),
            "{problems:#?}"
        );
        assert!(
            problems[1].1.contains(
                "`key` names `health-potion`, which is an item of kind Consumable, not a key"
            ),
            "{problems:#?}"
        );
    }
}
