//! Dice expressions for the table (`/roll 2d6+3`, `/roll d20+5 adv`, `/roll 4d6kh3`):
//! parsed here, shared so a client can check what it sends, and rolled on the server
//! with its own random numbers, every die kept for everyone to see.
//!
//! An expression is terms joined by `+` and `-`: dice `NdS` (N 1 to 100, left out for
//! 1; S 2 to 1000), optionally keeping the highest or lowest K (`kh3`, `kl1`), and whole
//! numbers. `adv` or `dis` at the end rolls a single die twice and keeps the higher or
//! lower. At most [`MAX_DICE`] dice in all.

use serde::{Deserialize, Serialize};

/// Most dice one expression may roll, advantage's second die included.
pub const MAX_DICE: u32 = 100;
/// Fewest and most sides of a die.
pub const MIN_SIDES: u32 = 2;
pub const MAX_SIDES: u32 = 1000;
/// Longest expression, in bytes.
pub const MAX_EXPRESSION: usize = 100;
/// Largest flat number in an expression.
const MAX_FLAT: i64 = 100_000;

/// What to keep of a group of dice.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    All,
    Highest(u32),
    Lowest(u32),
}

/// One term of an expression, with its sign.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Term {
    Dice {
        negative: bool,
        count: u32,
        sides: u32,
        keep: Keep,
    },
    Flat(i64),
}

/// A parsed expression, ready to roll.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Expression {
    pub terms: Vec<Term>,
}

/// Why an expression does not parse: what was wrong and where (a byte offset).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (in `{text}`, at character {at})")]
pub struct DiceError {
    pub text: String,
    pub at: usize,
    pub message: String,
}

/// One die as rolled: its face and whether it counts.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Die {
    pub face: u32,
    pub kept: bool,
}

/// A term as rolled.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum Rolled {
    Dice {
        negative: bool,
        sides: u32,
        keep: Keep,
        dice: Vec<Die>,
    },
    Flat(i64),
}

/// A rolled expression: every die and the total.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The expression as written back (`2d6+3`, `2d20kh1+5`).
    pub expression: String,
    pub terms: Vec<Rolled>,
    pub total: i64,
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn fail<T>(&self, at: usize, message: impl Into<String>) -> Result<T, DiceError> {
        Err(DiceError {
            text: self.text.to_string(),
            at: at + 1,
            message: message.into(),
        })
    }

    fn skip_spaces(&mut self) {
        while self.bytes.get(self.at) == Some(&b' ') {
            self.at += 1;
        }
    }

    /// A run of digits, if one starts here (capped so it cannot overflow).
    fn number(&mut self) -> Result<Option<u64>, DiceError> {
        let start = self.at;
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        if start == self.at {
            return Ok(None);
        }
        if self.at - start > 9 {
            return self.fail(start, "a number too large");
        }
        Ok(Some(self.text[start..self.at].parse().unwrap_or(u64::MAX)))
    }

    fn peek_lower(&self) -> Option<u8> {
        self.bytes.get(self.at).map(u8::to_ascii_lowercase)
    }

    fn term(&mut self, negative: bool) -> Result<Term, DiceError> {
        self.skip_spaces();
        let start = self.at;
        let count = self.number()?;
        if self.peek_lower() != Some(b'd') {
            return match count {
                Some(n) if n as i64 <= MAX_FLAT => {
                    Ok(Term::Flat(if negative { -(n as i64) } else { n as i64 }))
                }
                Some(_) => self.fail(start, format!("numbers go up to {MAX_FLAT}")),
                None => self.fail(start, "expected a number or dice like 2d6"),
            };
        }
        self.at += 1;
        let count = count.unwrap_or(1);
        if count == 0 {
            return self.fail(start, "roll at least one die");
        }
        let sides_at = self.at;
        let Some(sides) = self.number()? else {
            return self.fail(sides_at, "a die needs its sides, like d6");
        };
        if !(u64::from(MIN_SIDES)..=u64::from(MAX_SIDES)).contains(&sides) {
            return self.fail(
                sides_at,
                format!("dice have {MIN_SIDES} to {MAX_SIDES} sides, not {sides}"),
            );
        }
        if count > u64::from(MAX_DICE) {
            return self.fail(start, format!("at most {MAX_DICE} dice, not {count}"));
        }
        let keep_at = self.at;
        let keep = if self.peek_lower() == Some(b'k') {
            self.at += 1;
            let highest = match self.peek_lower() {
                Some(b'h') => true,
                Some(b'l') => false,
                _ => return self.fail(keep_at, "keep the highest (kh3) or the lowest (kl1)"),
            };
            self.at += 1;
            let Some(k) = self.number()? else {
                return self.fail(keep_at, "say how many dice to keep, like kh3");
            };
            if k == 0 || k > count {
                return self.fail(
                    keep_at,
                    format!("keep 1 to {count} of {count} dice, not {k}"),
                );
            }
            if highest {
                Keep::Highest(k as u32)
            } else {
                Keep::Lowest(k as u32)
            }
        } else {
            Keep::All
        };
        Ok(Term::Dice {
            negative,
            count: count as u32,
            sides: sides as u32,
            keep,
        })
    }
}

/// Parses `text`; the error names what is wrong and where.
pub fn parse(text: &str) -> Result<Expression, DiceError> {
    let trimmed = text.trim();
    let mut p = Parser {
        text: trimmed,
        bytes: trimmed.as_bytes(),
        at: 0,
    };
    if trimmed.is_empty() {
        return p.fail(0, "nothing to roll: try 2d6+3, d20 adv or 4d6kh3");
    }
    if trimmed.len() > MAX_EXPRESSION {
        return p.fail(
            MAX_EXPRESSION,
            format!("at most {MAX_EXPRESSION} characters"),
        );
    }
    // `adv` / `dis` at the end.
    let lower = trimmed.to_ascii_lowercase();
    let (body_len, advantage) = ["advantage", "adv", "disadvantage", "dis"]
        .iter()
        .find(|word| lower.ends_with(*word) && lower[..lower.len() - word.len()].ends_with(' '))
        .map_or((trimmed.len(), None), |word| {
            (trimmed.len() - word.len(), Some(word.starts_with("adv")))
        });
    p.bytes = &trimmed.as_bytes()[..body_len];
    let mut terms = Vec::new();
    // A leading sign: `-d4`, `+3`.
    p.skip_spaces();
    let mut negative = match p.bytes.get(p.at) {
        Some(b'-') => {
            p.at += 1;
            true
        }
        Some(b'+') => {
            p.at += 1;
            false
        }
        _ => false,
    };
    loop {
        terms.push(p.term(negative)?);
        p.skip_spaces();
        match p.bytes.get(p.at) {
            None => break,
            Some(b'+') => negative = false,
            Some(b'-') => negative = true,
            Some(_) => {
                let c = trimmed[p.at..].chars().next().unwrap_or(' ');
                return p.fail(p.at, format!("unexpected `{c}`: join terms with + or -"));
            }
        }
        p.at += 1;
    }
    if let Some(higher) = advantage {
        let mut dice = terms.iter_mut().filter(|t| matches!(t, Term::Dice { .. }));
        match (dice.next(), dice.next()) {
            (Some(Term::Dice { count, keep, .. }), None) if *count == 1 && *keep == Keep::All => {
                *count = 2;
                *keep = if higher {
                    Keep::Highest(1)
                } else {
                    Keep::Lowest(1)
                };
            }
            _ => {
                return p.fail(
                    body_len,
                    "advantage and disadvantage take a single die, like d20+5 adv",
                );
            }
        }
    }
    let dice: u32 = terms
        .iter()
        .map(|t| match t {
            Term::Dice { count, .. } => *count,
            Term::Flat(_) => 0,
        })
        .sum();
    if dice > MAX_DICE {
        return p.fail(0, format!("at most {MAX_DICE} dice in all, not {dice}"));
    }
    Ok(Expression { terms })
}

/// Adds the `i`th term to `out`: `a + b - c`, a leading minus written `-a`.
fn push_term(out: &mut String, i: usize, negative: bool, text: &str) {
    match (i, negative) {
        (0, true) => out.push('-'),
        (0, false) => {}
        (_, true) => out.push_str(" - "),
        (_, false) => out.push_str(" + "),
    }
    out.push_str(text);
}

impl Expression {
    /// The expression written out (`2d20kh1+5`).
    pub fn written(&self) -> String {
        let mut out = String::new();
        for (i, term) in self.terms.iter().enumerate() {
            let (negative, text) = match *term {
                Term::Dice {
                    negative,
                    count,
                    sides,
                    keep,
                } => {
                    let keep = match keep {
                        Keep::All => String::new(),
                        Keep::Highest(k) => format!("kh{k}"),
                        Keep::Lowest(k) => format!("kl{k}"),
                    };
                    (negative, format!("{count}d{sides}{keep}"))
                }
                Term::Flat(n) => (n < 0, n.unsigned_abs().to_string()),
            };
            push_term(&mut out, i, negative, &text);
        }
        out
    }

    /// Rolls it: `die(sides)` gives a face from 1 to `sides` (the server's random
    /// numbers; a test's fixed ones).
    pub fn roll(&self, mut die: impl FnMut(u32) -> u32) -> Outcome {
        let mut total = 0i64;
        let terms = self
            .terms
            .iter()
            .map(|term| match *term {
                Term::Flat(n) => {
                    total += n;
                    Rolled::Flat(n)
                }
                Term::Dice {
                    negative,
                    count,
                    sides,
                    keep,
                } => {
                    let mut dice: Vec<Die> = (0..count)
                        .map(|_| Die {
                            face: die(sides).clamp(1, sides),
                            kept: true,
                        })
                        .collect();
                    let mut order: Vec<usize> = (0..dice.len()).collect();
                    // Stable: of equal faces, the earlier die is kept.
                    order.sort_by_key(|&i| dice[i].face);
                    let dropped: Vec<usize> = match keep {
                        Keep::All => Vec::new(),
                        Keep::Highest(k) => order[..dice.len() - k as usize].to_vec(),
                        Keep::Lowest(k) => order[k as usize..].to_vec(),
                    };
                    for i in dropped {
                        dice[i].kept = false;
                    }
                    let sum: i64 = dice
                        .iter()
                        .filter(|d| d.kept)
                        .map(|d| i64::from(d.face))
                        .sum();
                    total += if negative { -sum } else { sum };
                    Rolled::Dice {
                        negative,
                        sides,
                        keep,
                        dice,
                    }
                }
            })
            .collect();
        Outcome {
            expression: self.written(),
            terms,
            total,
        }
    }
}

impl Outcome {
    /// Every die shown, dropped ones in parentheses (`2d20kh1 + 5: [17, (4)] + 5 = 22`),
    /// for the chat line and the dice log.
    pub fn shown(&self) -> String {
        let mut parts = String::new();
        for (i, term) in self.terms.iter().enumerate() {
            let (negative, text) = match term {
                Rolled::Flat(n) => (*n < 0, n.unsigned_abs().to_string()),
                Rolled::Dice { negative, dice, .. } => {
                    let faces: Vec<String> = dice
                        .iter()
                        .map(|d| {
                            if d.kept {
                                d.face.to_string()
                            } else {
                                format!("({})", d.face)
                            }
                        })
                        .collect();
                    (*negative, format!("[{}]", faces.join(", ")))
                }
            };
            push_term(&mut parts, i, negative, &text);
        }
        format!("{}: {} = {}", self.expression, parts, self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faces(list: &[u32]) -> impl FnMut(u32) -> u32 + '_ {
        let mut next = list.iter();
        move |_| *next.next().expect("enough faces")
    }

    #[test]
    fn the_usual_expressions_parse_and_roll() {
        let roll = parse("2d6+3").unwrap().roll(faces(&[4, 5]));
        assert_eq!(roll.total, 12);
        assert_eq!(roll.shown(), "2d6 + 3: [4, 5] + 3 = 12");

        let roll = parse("4d6kh3").unwrap().roll(faces(&[3, 1, 6, 3]));
        assert_eq!(roll.total, 12, "the 1 is dropped");
        assert_eq!(roll.shown(), "4d6kh3: [3, (1), 6, 3] = 12");

        let roll = parse("d20+5 adv").unwrap().roll(faces(&[4, 17]));
        assert_eq!(roll.total, 22);
        assert_eq!(roll.expression, "2d20kh1 + 5");
        let roll = parse("D20 - 1 dis").unwrap().roll(faces(&[4, 17]));
        assert_eq!(roll.total, 3);

        let roll = parse("1d100").unwrap().roll(faces(&[100]));
        assert_eq!(roll.total, 100);
        let roll = parse("1d8 + 1d6 - 2").unwrap().roll(faces(&[8, 1]));
        assert_eq!(roll.total, 7);
        let roll = parse("3d4kl1").unwrap().roll(faces(&[2, 2, 4]));
        assert_eq!(
            roll.shown(),
            "3d4kl1: [2, (2), (4)] = 2",
            "ties: the first is kept"
        );
        assert_eq!(parse(" 7 ").unwrap().roll(faces(&[])).total, 7);
        assert_eq!(parse("-d4").unwrap().roll(faces(&[3])).total, -3);
    }

    #[test]
    fn bad_expressions_say_what_and_where() {
        for (text, says, at) in [
            ("", "nothing to roll", 1),
            ("2d", "needs its sides", 3),
            ("2d1", "2 to 1000 sides, not 1", 3),
            ("1d1001", "2 to 1000 sides", 3),
            ("101d6", "at most 100 dice, not 101", 1),
            ("60d6+60d6", "at most 100 dice in all, not 120", 1),
            ("0d6", "at least one die", 1),
            ("4d6kh5", "keep 1 to 4 of 4 dice, not 5", 4),
            ("4d6kx1", "keep the highest", 4),
            ("4d6kh", "how many dice to keep", 4),
            ("2d6*3", "unexpected `*`", 4),
            ("2d6+", "expected a number or dice", 5),
            ("2d6 + 3d8 adv", "a single die", 11),
            ("2d20 adv", "a single die", 6),
            ("1234567890d6", "too large", 1),
            ("100001", "numbers go up to", 1),
            ("d20 + é", "expected a number", 7),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.message.contains(says), "{text}: {e}");
            assert_eq!(e.at, at, "{text}: {e}");
            assert!(e.to_string().contains("at character"), "{e}");
        }
        let long = "1+".repeat(60) + "1";
        assert!(
            parse(&long)
                .unwrap_err()
                .message
                .contains("at most 100 characters")
        );
        // Advantage is for one die alone.
        assert!(
            parse("99d6 + d20 adv")
                .unwrap_err()
                .message
                .contains("a single die")
        );
    }

    #[test]
    fn rolls_are_spread_evenly_and_stay_in_range() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let d6 = parse("d6").unwrap();
        let mut counts = [0u32; 7];
        for _ in 0..60_000 {
            let total = d6.roll(|s| rng.random_range(1..=s)).total;
            counts[total as usize] += 1;
        }
        assert_eq!(counts[0], 0);
        for (face, &n) in counts.iter().enumerate().skip(1) {
            assert!((9_400..=10_600).contains(&n), "face {face}: {n} of 60000");
        }
        // 4d6 keep the highest 3: from 3 to 18, mean about 12.24.
        let stat = parse("4d6kh3").unwrap();
        let rolls: Vec<i64> = (0..20_000)
            .map(|_| stat.roll(|s| rng.random_range(1..=s)).total)
            .collect();
        assert!(rolls.iter().all(|t| (3..=18).contains(t)));
        let mean = rolls.iter().sum::<i64>() as f64 / rolls.len() as f64;
        assert!((12.0..12.5).contains(&mean), "mean {mean}");
        // Advantage raises a d20's mean from 10.5 to about 13.8.
        let adv = parse("d20 adv").unwrap();
        let mean = (0..20_000)
            .map(|_| adv.roll(|s| rng.random_range(1..=s)).total)
            .sum::<i64>() as f64
            / 20_000.0;
        assert!((13.5..14.1).contains(&mean), "mean {mean}");
    }

    #[test]
    fn a_die_out_of_range_is_clamped() {
        let roll = parse("2d6").unwrap().roll(faces(&[0, 9]));
        assert_eq!(roll.total, 7, "1 + 6");
    }
}
