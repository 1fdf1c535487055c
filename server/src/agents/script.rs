//! Scripted NPC lines from a content file (`assets/agents.toml`): what each agent says
//! when greeted and how it answers, by keyword. Used when the server has no agent webhook.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// One agent's lines.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// The NPC's name in game; the zone's object name when absent.
    pub name: Option<String>,
    /// Said when a conversation opens.
    pub greeting: Option<String>,
    /// Keyword answers, tried in order; the first that matches answers.
    #[serde(default, rename = "reply")]
    pub replies: Vec<Reply>,
    /// Said in turn when no keyword matches.
    pub fallback: Vec<String>,
}

/// An answer to lines containing one of its keywords.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    /// Words (or phrases) that start a word of the player's line, case-insensitive.
    pub keywords: Vec<String>,
    pub text: String,
}

/// Every agent's script, by agent id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scripts(pub BTreeMap<String, Script>);

/// Lowercase words of `text`, separated and surrounded by single spaces.
fn words(text: &str) -> String {
    let mut out = String::from(" ");
    for w in text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        out.push_str(w);
        out.push(' ');
    }
    out
}

impl Script {
    /// The answer to `message`; `turn` (how many lines the player said before) picks
    /// the fallback line, so an NPC that does not understand does not repeat itself.
    pub fn reply(&self, message: &str, turn: usize) -> &str {
        let said = words(message);
        for reply in &self.replies {
            if reply.keywords.iter().any(|k| {
                let k = words(k);
                // " key " must start a word: compare without the trailing space.
                said.contains(k.trim_end())
            }) {
                return &reply.text;
            }
        }
        &self.fallback[turn % self.fallback.len()]
    }
}

impl Scripts {
    /// Reads and checks a scripts file. Errors name the file and, where it is the
    /// problem, the agent and the field.
    pub fn parse(text: &str, file: &Path) -> Result<Scripts, String> {
        let file = file.display();
        let scripts: BTreeMap<String, Script> =
            toml::from_str(text).map_err(|e| format!("{file}: {e}"))?;
        for (id, s) in &scripts {
            let blank = |t: &str| t.trim().is_empty();
            if s.fallback.is_empty() || s.fallback.iter().any(|l| blank(l)) {
                return Err(format!(
                    "{file}: agent `{id}`: `fallback` needs at least one line, and no line may be empty"
                ));
            }
            if s.greeting.as_deref().is_some_and(blank) || s.name.as_deref().is_some_and(blank) {
                return Err(format!(
                    "{file}: agent `{id}`: `greeting` and `name` may be left out but not empty"
                ));
            }
            for (i, r) in s.replies.iter().enumerate() {
                if blank(&r.text)
                    || r.keywords.is_empty()
                    || r.keywords.iter().any(|k| words(k).trim().is_empty())
                {
                    return Err(format!(
                        "{file}: agent `{id}`, reply {}: needs a non-empty `text` and at least one keyword with a letter or digit",
                        i + 1
                    ));
                }
            }
        }
        Ok(Scripts(scripts))
    }

    /// Reads a scripts file from disk.
    pub fn load(path: &Path) -> Result<Scripts, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "{}: cannot read the NPC scripts (--agents): {e}",
                path.display()
            )
        })?;
        Scripts::parse(&text, path)
    }

    pub fn get(&self, agent: &str) -> Option<&Script> {
        self.0.get(agent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[innkeeper]
name = "Marta"
greeting = "Welcome!"
fallback = ["Hm?", "Say again?"]

[[innkeeper.reply]]
keywords = ["room", "bed"]
text = "Five silver a night."

[[innkeeper.reply]]
keywords = ["dungeon key"]
text = "Ask the guard."
"#;

    fn scripts() -> Scripts {
        Scripts::parse(SAMPLE, Path::new("agents.toml")).unwrap()
    }

    #[test]
    fn keywords_match_word_starts_in_any_case() {
        let s = scripts();
        let marta = s.get("innkeeper").unwrap();
        assert_eq!(marta.reply("Any ROOMS free?", 0), "Five silver a night.");
        assert_eq!(marta.reply("I need a bed.", 0), "Five silver a night.");
        assert_eq!(
            marta.reply("where's the DUNGEON  key?", 0),
            "Ask the guard."
        );
        assert_eq!(marta.reply("broom", 0), "Hm?", "inside a word is no match");
        assert_eq!(
            marta.reply("dungeon", 0),
            "Hm?",
            "a phrase needs all its words"
        );
    }

    #[test]
    fn fallbacks_take_turns() {
        let s = scripts();
        let marta = s.get("innkeeper").unwrap();
        assert_eq!(marta.reply("weather?", 0), "Hm?");
        assert_eq!(marta.reply("weather?", 1), "Say again?");
        assert_eq!(marta.reply("weather?", 2), "Hm?");
    }

    #[test]
    fn bad_files_are_explained() {
        let bad = |text: &str| Scripts::parse(text, Path::new("a.toml")).unwrap_err();
        let e = bad("[bob]\ngreeting = \"hi\"\n");
        assert!(e.contains("a.toml") && e.contains("fallback"), "{e}");
        let e = bad("[bob]\nfallback = []\n");
        assert!(e.contains("agent `bob`") && e.contains("fallback"), "{e}");
        let e = bad("[bob]\nfallback = [\"x\"]\ncolour = \"red\"\n");
        assert!(e.contains("colour"), "{e}");
        let e = bad("[bob]\nfallback = [\"x\"]\n[[bob.reply]]\nkeywords = []\ntext = \"y\"\n");
        assert!(e.contains("agent `bob`, reply 1"), "{e}");
        let e = bad("[bob\n");
        assert!(e.contains("a.toml") && e.contains("line 1"), "{e}");
    }

    #[test]
    fn the_sample_content_file_is_valid() {
        let path = crate::config::repo_path("assets/agents.toml");
        let scripts = Scripts::load(&path).unwrap();
        assert!(scripts.get("innkeeper").is_some());
    }
}
