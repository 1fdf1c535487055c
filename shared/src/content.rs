//! Game content: combat stats, enemy types, abilities, loot tables and items. The
//! server loads them from `assets/data/*.toml` (one file per kind, one table per entry,
//! keyed by id), checks every reference between them, and serves them read-only at
//! `/api/content` so clients and tools can cache them. The same types describe both.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything, by kind, each kind by id.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Content {
    pub combat_stats: BTreeMap<String, CombatStats>,
    pub enemy_types: BTreeMap<String, EnemyType>,
    pub abilities: BTreeMap<String, Ability>,
    pub loot_tables: BTreeMap<String, LootTable>,
    pub items: BTreeMap<String, Item>,
}

/// The kinds of content: the file each comes from (`assets/data/<file>.toml`) and its
/// name in `/api/content/{kind}/{id}`.
pub const KINDS: [ContentKind; 5] = [
    ContentKind::CombatStats,
    ContentKind::EnemyTypes,
    ContentKind::Abilities,
    ContentKind::LootTables,
    ContentKind::Items,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContentKind {
    CombatStats,
    EnemyTypes,
    Abilities,
    LootTables,
    Items,
}

impl ContentKind {
    /// The file's name in the content folder.
    pub fn file(self) -> &'static str {
        match self {
            ContentKind::CombatStats => "combat_stats.toml",
            ContentKind::EnemyTypes => "enemy_types.toml",
            ContentKind::Abilities => "abilities.toml",
            ContentKind::LootTables => "loot_tables.toml",
            ContentKind::Items => "items.toml",
        }
    }

    /// The kind's name in URLs.
    pub fn url_name(self) -> &'static str {
        match self {
            ContentKind::CombatStats => "combat-stats",
            ContentKind::EnemyTypes => "enemy-types",
            ContentKind::Abilities => "abilities",
            ContentKind::LootTables => "loot-tables",
            ContentKind::Items => "items",
        }
    }

    /// What one entry is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            ContentKind::CombatStats => "combat stats",
            ContentKind::EnemyTypes => "enemy type",
            ContentKind::Abilities => "ability",
            ContentKind::LootTables => "loot table",
            ContentKind::Items => "item",
        }
    }

    pub fn from_url_name(name: &str) -> Option<ContentKind> {
        KINDS.into_iter().find(|k| k.url_name() == name)
    }
}

impl Content {
    /// One entry as JSON, if the id exists.
    pub fn entry_json(&self, kind: ContentKind, id: &str) -> Option<serde_json::Value> {
        fn get<T: Serialize>(map: &BTreeMap<String, T>, id: &str) -> Option<serde_json::Value> {
            map.get(id).and_then(|e| serde_json::to_value(e).ok())
        }
        match kind {
            ContentKind::CombatStats => get(&self.combat_stats, id),
            ContentKind::EnemyTypes => get(&self.enemy_types, id),
            ContentKind::Abilities => get(&self.abilities, id),
            ContentKind::LootTables => get(&self.loot_tables, id),
            ContentKind::Items => get(&self.items, id),
        }
    }

    /// The ability ids on the players' hotbar (the `player` stats'), keys 1 to 4.
    pub fn player_hotbar(&self) -> &[String] {
        self.combat_stats
            .get(crate::combat::PLAYER_STATS)
            .map_or(&[], |s| {
                &s.hotbar[..s.hotbar.len().min(crate::combat::HOTBAR_SLOTS)]
            })
    }

    /// The ids of one kind, in order.
    pub fn ids(&self, kind: ContentKind) -> Vec<&str> {
        fn keys<T>(map: &BTreeMap<String, T>) -> Vec<&str> {
            map.keys().map(String::as_str).collect()
        }
        match kind {
            ContentKind::CombatStats => keys(&self.combat_stats),
            ContentKind::EnemyTypes => keys(&self.enemy_types),
            ContentKind::Abilities => keys(&self.abilities),
            ContentKind::LootTables => keys(&self.loot_tables),
            ContentKind::Items => keys(&self.items),
        }
    }
}

/// Health, mana, stamina and the rest, shared by players and enemy types.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CombatStats {
    pub health: u32,
    #[serde(default)]
    pub mana: u32,
    #[serde(default)]
    pub stamina: u32,
    /// Added to every ability's damage roll.
    #[serde(default)]
    pub damage: u32,
    /// Taken off every hit received (a hit always does at least 1).
    #[serde(default)]
    pub armor: u32,
    /// Pixels per second.
    pub move_speed: f32,
    /// Mana and stamina won back per second (health only comes back with potions,
    /// respawning, or a monster's walk home).
    #[serde(default)]
    pub mana_regen: f32,
    #[serde(default)]
    pub stamina_regen: f32,
    /// Abilities on the hotbar (ids, at most four): keys 1 to 4 for players.
    #[serde(default)]
    pub hotbar: Vec<String>,
    /// The dexterity score (1 to 30, default 10): its modifier is added to the
    /// initiative this body rolls at the GM's table.
    #[serde(default = "default_dexterity")]
    pub dexterity: u8,
}

fn default_dexterity() -> u8 {
    10
}

/// How an enemy behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AiKind {
    /// Walks up to its target and strikes.
    Melee,
    /// Keeps at its attack's range and shoots.
    Ranged,
}

/// A kind of monster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnemyType {
    pub name: String,
    /// Id of its combat stats.
    pub stats: String,
    /// It notices players this close (px), in line of sight.
    pub aggro_radius: f32,
    /// It gives up and walks home past this distance from home (px).
    pub leash_radius: f32,
    /// Id of the ability it attacks with.
    pub attack: String,
    pub ai: AiKind,
    /// Id of the loot table rolled when it dies.
    #[serde(default)]
    pub loot_table: Option<String>,
    /// Its sprite's name in `assets/sprites/`.
    pub sprite: String,
    /// For bosses: phases entered at health thresholds, highest first.
    #[serde(default)]
    pub phases: Vec<BossPhase>,
}

/// A boss phase: entered when health falls to `at_health` (a fraction of full).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BossPhase {
    pub name: String,
    pub at_health: f32,
    /// Abilities it gains (ids).
    #[serde(default)]
    pub abilities: Vec<String>,
    /// Its speed is multiplied by this.
    #[serde(default = "one")]
    pub speed: f32,
}

fn one() -> f32 {
    1.0
}

/// How an ability reaches its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    Melee,
    Projectile,
}

/// Something an ability leaves on its target for a while.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusEffect {
    pub kind: EffectKind,
    pub secs: f32,
    /// Slow: the fraction of speed taken away; poison: damage per second.
    pub amount: f32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EffectKind {
    Slow,
    Poison,
}

/// An attack or spell, of players and monsters alike.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ability {
    pub name: String,
    /// Damage rolled between these, inclusive.
    pub damage: [u32; 2],
    /// Reach in pixels, from the user's position.
    pub range: f32,
    pub cooldown_secs: f32,
    #[serde(default)]
    pub mana: u32,
    #[serde(default)]
    pub stamina: u32,
    /// Hits everything this close to the target point; 0 hits one target.
    #[serde(default)]
    pub area_radius: f32,
    #[serde(default)]
    pub cast_secs: f32,
    pub delivery: Delivery,
    /// Pixels per second; required for projectiles.
    #[serde(default)]
    pub projectile_speed: Option<f32>,
    #[serde(default)]
    pub effect: Option<StatusEffect>,
}

/// What a monster or a chest drops.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LootTable {
    /// Draws from `entries`, by weight.
    #[serde(default = "one_roll")]
    pub rolls: u32,
    #[serde(default)]
    pub entries: Vec<LootEntry>,
    /// Gold dropped, between these, inclusive.
    #[serde(default)]
    pub gold: [u32; 2],
    /// Items always dropped (ids).
    #[serde(default)]
    pub guaranteed: Vec<String>,
}

fn one_roll() -> u32 {
    1
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LootEntry {
    /// Item id.
    pub item: String,
    pub weight: u32,
    /// How many drop, between these, inclusive.
    #[serde(default = "one_count")]
    pub count: [u32; 2],
}

fn one_count() -> [u32; 2] {
    [1, 1]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemKind {
    /// Used up when used (potions).
    Consumable,
    /// Opens doors whose `key` names it.
    Key,
    /// Carried and traded, not used.
    Material,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rarity {
    #[default]
    Common,
    Uncommon,
    Rare,
    Epic,
    Legendary,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub name: String,
    pub kind: ItemKind,
    /// Most of it in one inventory slot.
    #[serde(default = "one_stack")]
    pub stack: u32,
    #[serde(default)]
    pub rarity: Rarity,
    /// Health restored when used.
    #[serde(default)]
    pub heal: u32,
    /// Mana restored when used.
    #[serde(default)]
    pub restore_mana: u32,
}

fn one_stack() -> u32 {
    1
}
