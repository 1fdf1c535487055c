//! Encounters: initiative order, turns with a movement budget and one action, a turn
//! timer, rounds, and death saving throws for players brought to 0 hit points. Pure
//! rules on ticks of the simulation clock (60 a second), so a test drives time itself;
//! the server enforces them and the client shows them.

use serde::{Deserialize, Serialize};

/// Feet in one map tile (the table-top grid square).
pub const FEET_PER_TILE: f32 = 5.0;
/// The turn time limit when the room sets none, in seconds.
pub const DEFAULT_TURN_SECS: u32 = 60;
/// Turn time limits a room may set, in seconds.
pub const TURN_SECS: std::ops::RangeInclusive<u32> = 10..=600;
/// How long a monster's turn lasts: it acts on its own, then the next turn comes.
pub const MONSTER_TURN_SECS: f32 = 3.0;

/// A walking speed in feet as map pixels, on tiles `tile` pixels wide.
pub fn feet_to_pixels(feet: u16, tile: u32) -> f32 {
    f32::from(feet) / FEET_PER_TILE * tile as f32
}

/// The modifier an ability score gives (see [`super::sheet::modifier`]).
pub use super::sheet::modifier;

/// Who rolled what for initiative.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Initiative {
    /// The d20.
    pub roll: u8,
    /// The dexterity score and its modifier.
    pub dexterity: u8,
    pub modifier: i32,
}

impl Initiative {
    pub fn new(roll: u8, dexterity: u8) -> Self {
        Initiative {
            roll,
            dexterity,
            modifier: modifier(dexterity),
        }
    }

    pub fn total(&self) -> i32 {
        i32::from(self.roll) + self.modifier
    }
}

/// Where a player brought to 0 hit points stands with death.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeathSaves {
    pub successes: u8,
    pub failures: u8,
}

/// What one death saving throw (or a hit while down) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    Success,
    Failure,
    /// Three successes: no longer dying (still down).
    Stable,
    /// Three failures.
    Died,
    /// A natural 20: back up with 1 hit point.
    Revived,
}

impl DeathSaves {
    /// A d20 rolled at the start of the player's turn: 10 or more succeeds, a 20
    /// revives, a 1 counts as two failures.
    pub fn roll(&mut self, d20: u8) -> SaveOutcome {
        match d20 {
            20 => {
                *self = DeathSaves::default();
                SaveOutcome::Revived
            }
            10..=19 => {
                self.successes += 1;
                if self.successes >= 3 {
                    SaveOutcome::Stable
                } else {
                    SaveOutcome::Success
                }
            }
            1 => self.fail(2),
            _ => self.fail(1),
        }
    }

    /// Damage while down is a failure.
    pub fn hit(&mut self) -> SaveOutcome {
        self.fail(1)
    }

    fn fail(&mut self, times: u8) -> SaveOutcome {
        self.failures = (self.failures + times).min(3);
        if self.failures >= 3 {
            SaveOutcome::Died
        } else {
            SaveOutcome::Failure
        }
    }

    /// "2 successes, 1 failure".
    pub fn shown(&self) -> String {
        let successes = match self.successes {
            1 => "1 success".to_string(),
            n => format!("{n} successes"),
        };
        let failures = match self.failures {
            1 => "1 failure".to_string(),
            n => format!("{n} failures"),
        };
        format!("{successes}, {failures}")
    }
}

/// How a combatant stands.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Standing {
    #[default]
    Up,
    /// At 0 hit points, making death saves on its turns.
    Dying(DeathSaves),
    /// At 0 hit points, no longer dying.
    Stable,
    /// Dead (a monster, or a player after three failures): its turns are skipped.
    Dead,
}

/// One combatant in the order.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Combatant {
    /// Its body's stream id (what the client draws it by).
    pub body: u32,
    pub name: String,
    /// A player (the others are monsters).
    pub player: bool,
    pub initiative: Initiative,
    /// Its movement per turn, in map pixels (players: the sheet's speed).
    pub budget: f32,
    pub standing: Standing,
}

/// Sorts combatants by initiative: the highest total first, ties broken by the higher
/// dexterity, then by re-rolling (`reroll` gives a d20) among those still tied until
/// none is.
pub fn order(mut combatants: Vec<Combatant>, mut reroll: impl FnMut() -> u8) -> Vec<Combatant> {
    let key = |c: &Combatant| (c.initiative.total(), c.initiative.dexterity);
    combatants.sort_by_key(|c| std::cmp::Reverse(key(c)));
    let mut start = 0;
    while start < combatants.len() {
        let end = start
            + combatants[start..]
                .iter()
                .take_while(|c| key(c) == key(&combatants[start]))
                .count();
        let tied = &mut combatants[start..end];
        // Re-roll until every roll of the tie differs (a fresh roll each round).
        while tied.len() > 1 {
            let mut rolls: Vec<(u8, usize)> = (0..tied.len()).map(|i| (reroll(), i)).collect();
            rolls.sort_by_key(|r| std::cmp::Reverse(r.0));
            if rolls.windows(2).all(|w| w[0].0 != w[1].0) {
                let reordered: Vec<Combatant> =
                    rolls.iter().map(|(_, i)| tied[*i].clone()).collect();
                tied.clone_from_slice(&reordered);
                break;
            }
        }
        start = end;
    }
    combatants
}

/// An encounter in progress, on the simulation clock.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Encounter {
    pub order: Vec<Combatant>,
    /// Whose turn it is (an index into `order`).
    pub turn: usize,
    /// From 1.
    pub round: u32,
    /// The tick the current turn ends on its own.
    pub ends_at: u32,
    /// Pixels the current combatant has moved this turn.
    pub moved: f32,
    /// Whether it has taken its action this turn.
    pub acted: bool,
}

/// What a change of turn brought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnChange {
    /// The combatant whose turn it is now (its body).
    pub body: u32,
    /// A new round began.
    pub new_round: bool,
}

impl Encounter {
    /// Starts with the first in `order` (sorted), its turn lasting `turn_ticks` (for a
    /// player; a monster's lasts [`MONSTER_TURN_SECS`]).
    pub fn start(order: Vec<Combatant>, now: u32, turn_ticks: u32) -> Option<Encounter> {
        if !order
            .iter()
            .any(|c| matches!(c.standing, Standing::Up | Standing::Dying(_)))
        {
            return None;
        }
        let mut encounter = Encounter {
            order,
            turn: 0,
            round: 1,
            ends_at: now,
            moved: 0.0,
            acted: false,
        };
        if !encounter.takes_turns(0) {
            encounter.step(1, now, turn_ticks);
        } else {
            encounter.begin(now, turn_ticks);
        }
        Some(encounter)
    }

    pub fn current(&self) -> Option<&Combatant> {
        self.order.get(self.turn)
    }

    /// Whether combatant `i` gets turns: those up, and the dying (to make their death
    /// saves); the stable and the dead do not.
    fn takes_turns(&self, i: usize) -> bool {
        self.order
            .get(i)
            .is_some_and(|c| matches!(c.standing, Standing::Up | Standing::Dying(_)))
    }

    fn begin(&mut self, now: u32, turn_ticks: u32) {
        self.moved = 0.0;
        self.acted = false;
        let ticks = match self.current() {
            Some(c) if !c.player => (MONSTER_TURN_SECS * 60.0) as u32,
            _ => turn_ticks,
        };
        self.ends_at = now.wrapping_add(ticks);
    }

    /// Moves `by` turns (1 forward, -1 back) to the next combatant that takes turns,
    /// counting rounds. `None` when nobody takes turns any more.
    fn step(&mut self, by: i32, now: u32, turn_ticks: u32) -> Option<TurnChange> {
        let n = self.order.len();
        if n == 0 || (0..n).all(|i| !self.takes_turns(i)) {
            return None;
        }
        let mut new_round = false;
        loop {
            if by > 0 {
                self.turn += 1;
                if self.turn >= n {
                    self.turn = 0;
                    self.round += 1;
                    new_round = true;
                }
            } else if self.turn == 0 {
                if self.round <= 1 {
                    break;
                }
                self.turn = n - 1;
                self.round -= 1;
                new_round = true;
            } else {
                self.turn -= 1;
            }
            if self.takes_turns(self.turn) {
                break;
            }
        }
        self.begin(now, turn_ticks);
        Some(TurnChange {
            body: self.order[self.turn].body,
            new_round,
        })
    }

    /// The next turn (the GM skips, the combatant ends its turn, or time ran out).
    pub fn next(&mut self, now: u32, turn_ticks: u32) -> Option<TurnChange> {
        self.step(1, now, turn_ticks)
    }

    /// The turn before, again (the GM goes back).
    pub fn back(&mut self, now: u32, turn_ticks: u32) -> Option<TurnChange> {
        self.step(-1, now, turn_ticks)
    }

    /// One tick: the turn ends on its own when its time is up.
    pub fn tick(&mut self, now: u32, turn_ticks: u32) -> Option<TurnChange> {
        if now.wrapping_sub(self.ends_at) as i32 >= 0 {
            return self.next(now, turn_ticks);
        }
        None
    }

    /// The clock stands still (the game is paused): the turn's end moves one tick later.
    pub fn hold(&mut self) {
        self.ends_at = self.ends_at.wrapping_add(1);
    }

    /// Ticks left in the current turn.
    pub fn ticks_left(&self, now: u32) -> u32 {
        let left = self.ends_at.wrapping_sub(now) as i32;
        left.max(0) as u32
    }

    /// Whether `body` may move or act now: it is its turn, it is up, and (for moving)
    /// budget is left.
    pub fn may_move(&self, body: u32) -> bool {
        self.current()
            .is_some_and(|c| c.body == body && c.standing == Standing::Up && self.moved < c.budget)
    }

    /// Why `body` may not act now; `None` if it may (its turn, up, not acted yet).
    pub fn refuse_action(&self, body: u32) -> Option<String> {
        let current = self.current()?;
        if current.body != body {
            return Some(format!("it is not your turn ({}'s turn)", current.name));
        }
        if current.standing != Standing::Up {
            return Some("you are down".into());
        }
        if self.acted {
            return Some("you already took your action this turn".into());
        }
        None
    }

    /// Adds a combatant where its initiative puts it (after those it ties with); the
    /// current turn stays with whoever has it.
    pub fn add(&mut self, combatant: Combatant) {
        let key = |c: &Combatant| (c.initiative.total(), c.initiative.dexterity);
        let at = self
            .order
            .iter()
            .position(|c| key(c) < key(&combatant))
            .unwrap_or(self.order.len());
        if at <= self.turn && !self.order.is_empty() {
            self.turn += 1;
        }
        self.order.insert(at, combatant);
    }

    /// Takes a combatant out; if it had the turn, the next one's turn begins. Whether
    /// anyone is left who takes turns.
    pub fn remove(&mut self, body: u32, now: u32, turn_ticks: u32) -> bool {
        let Some(at) = self.order.iter().position(|c| c.body == body) else {
            return true;
        };
        let had_turn = at == self.turn;
        self.order.remove(at);
        if self.order.is_empty() {
            return false;
        }
        if at < self.turn {
            self.turn -= 1;
        }
        if had_turn {
            // The one after it is now at the same index.
            if self.turn >= self.order.len() {
                self.turn = 0;
                self.round += 1;
            }
            if self.takes_turns(self.turn) {
                self.begin(now, turn_ticks);
            } else if self.step(1, now, turn_ticks).is_none() {
                return false;
            }
        }
        (0..self.order.len()).any(|i| self.takes_turns(i))
    }

    pub fn combatant_mut(&mut self, body: u32) -> Option<&mut Combatant> {
        self.order.iter_mut().find(|c| c.body == body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(body: u32, roll: u8, dex: u8, player: bool) -> Combatant {
        Combatant {
            body,
            name: format!("c{body}"),
            player,
            initiative: Initiative::new(roll, dex),
            budget: 192.0,
            standing: Standing::Up,
        }
    }

    #[test]
    fn initiative_is_d20_plus_dexterity_ties_by_dexterity_then_a_reroll() {
        // 15 + 2 = 17; 17 + 0 = 17 (lower dex); 12 + 5 = 17 (dex 20 first); 10 - 1 = 9;
        // two 9 + 0 with dex 10, 11: broken by re-rolls (3 then 5: the second goes first).
        let order_of = |list: Vec<Combatant>, rolls: Vec<u8>| {
            let mut rolls = rolls.into_iter();
            order(list, move || rolls.next().expect("a re-roll"))
                .iter()
                .map(|c| c.body)
                .collect::<Vec<_>>()
        };
        let list = vec![
            c(1, 15, 14, true),
            c(2, 17, 10, false),
            c(3, 12, 20, true),
            c(4, 10, 8, false),
        ];
        assert_eq!(order_of(list, vec![]), vec![3, 1, 2, 4]);
        let tied = vec![c(5, 9, 10, true), c(6, 9, 11, true)];
        assert_eq!(
            order_of(tied, vec![]),
            vec![6, 5],
            "dexterity 11 and 10 share +0: 11 first"
        );
        let tied = vec![c(5, 9, 10, true), c(6, 9, 10, true)];
        // First re-roll ties (4, 4), the second does not (3 for c5, 5 for c6).
        assert_eq!(order_of(tied, vec![4, 4, 3, 5]), vec![6, 5]);
        assert_eq!(Initiative::new(12, 20).total(), 17);
    }

    #[test]
    fn turns_advance_on_the_timer_skip_the_dead_and_count_rounds() {
        let limit = 60 * 60;
        let mut e = Encounter::start(
            vec![c(1, 20, 10, true), c(2, 10, 10, false), c(3, 5, 10, true)],
            0,
            limit,
        )
        .unwrap();
        assert_eq!(
            (e.current().unwrap().body, e.round, e.ends_at),
            (1, 1, limit)
        );
        assert_eq!(e.tick(limit - 1, limit), None, "not yet");
        assert_eq!(
            e.tick(limit, limit),
            Some(TurnChange {
                body: 2,
                new_round: false
            })
        );
        // A monster's turn is short.
        assert_eq!(e.ends_at, limit + 180);
        e.hold();
        assert_eq!(
            e.tick(limit + 180, limit),
            None,
            "a paused tick pushed the end back"
        );
        assert!(e.tick(limit + 181, limit).is_some());
        assert_eq!(e.current().unwrap().body, 3);
        e.combatant_mut(1).unwrap().standing = Standing::Dead;
        assert_eq!(
            e.next(5000, limit),
            Some(TurnChange {
                body: 2,
                new_round: true
            }),
            "the dead are skipped"
        );
        assert_eq!(e.round, 2);
        assert_eq!(
            e.back(5001, limit),
            Some(TurnChange {
                body: 3,
                new_round: true
            })
        );
        assert_eq!(e.round, 1);
        assert_eq!(e.ticks_left(5001), limit);
    }

    #[test]
    fn only_the_current_combatant_moves_within_its_budget_and_acts_once() {
        let mut e = Encounter::start(vec![c(1, 20, 10, true), c(2, 10, 10, true)], 0, 600).unwrap();
        assert!(e.may_move(1) && !e.may_move(2));
        assert_eq!(
            e.refuse_action(2),
            Some("it is not your turn (c1's turn)".into())
        );
        assert_eq!(e.refuse_action(1), None);
        e.acted = true;
        assert_eq!(
            e.refuse_action(1),
            Some("you already took your action this turn".into())
        );
        e.moved = 192.0;
        assert!(!e.may_move(1), "the budget is spent");
        e.next(10, 600);
        assert!(e.may_move(2) && e.moved == 0.0 && !e.acted);
    }

    #[test]
    fn combatants_join_by_initiative_and_leave_without_losing_the_turn() {
        let mut e = Encounter::start(
            vec![c(1, 20, 10, true), c(2, 10, 10, true), c(3, 5, 10, true)],
            0,
            600,
        )
        .unwrap();
        e.next(1, 600);
        assert_eq!(e.current().unwrap().body, 2);
        e.add(c(4, 18, 10, false));
        assert_eq!(
            e.order.iter().map(|c| c.body).collect::<Vec<_>>(),
            vec![1, 4, 2, 3]
        );
        assert_eq!(e.current().unwrap().body, 2, "still 2's turn");
        assert!(e.remove(2, 2, 600));
        assert_eq!(e.current().unwrap().body, 3, "the next one's turn");
        assert!(e.remove(1, 3, 600));
        assert_eq!(e.current().unwrap().body, 3);
        assert!(e.remove(3, 4, 600));
        assert_eq!((e.current().unwrap().body, e.round), (4, 2));
        assert!(!e.remove(4, 5, 600), "nobody left");
    }

    #[test]
    fn death_saves_stabilise_kill_or_revive() {
        let mut s = DeathSaves::default();
        assert_eq!(s.roll(10), SaveOutcome::Success);
        assert_eq!(s.roll(5), SaveOutcome::Failure);
        assert_eq!(s.hit(), SaveOutcome::Failure);
        assert_eq!(s.shown(), "1 success, 2 failures");
        assert_eq!(s.roll(15), SaveOutcome::Success);
        assert_eq!(s.roll(19), SaveOutcome::Stable);
        let mut s = DeathSaves::default();
        assert_eq!(s.roll(1), SaveOutcome::Failure);
        assert_eq!(s.failures, 2, "a natural 1 is two failures");
        assert_eq!(s.roll(9), SaveOutcome::Died);
        let mut s = DeathSaves {
            successes: 2,
            failures: 2,
        };
        assert_eq!(s.roll(20), SaveOutcome::Revived);
        assert_eq!(s, DeathSaves::default());
        assert_eq!(feet_to_pixels(30, 32), 192.0);
    }
}
