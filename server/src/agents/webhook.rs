//! NPC replies from an HTTP webhook (`--agent-webhook URL`): the server POSTs
//! `{agent_id, user, message, history}` and expects `{reply}` within the timeout.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Longest reply kept from a webhook, in characters; the rest is cut.
pub const MAX_REPLY_CHARS: usize = 2000;
/// Largest answer body read from a webhook, in bytes.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// One earlier line of the conversation, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryLine {
    pub from: String,
    pub text: String,
    pub at_ms: i64,
}

/// What the webhook receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRequest {
    pub agent_id: String,
    /// The player's display name.
    pub user: String,
    /// What the player just said.
    pub message: String,
    /// The conversation so far (without `message`), oldest first.
    pub history: Vec<HistoryLine>,
}

#[derive(Debug, Deserialize)]
struct AgentAnswer {
    reply: String,
}

/// A failure: what the player is told, and the details for the log.
fn failed(player: &str, detail: impl std::fmt::Display) -> String {
    tracing::warn!("NPC webhook: {player}: {detail}");
    player.to_string()
}

/// POSTs `body` as JSON to the webhook at `url` and answers the response body.
/// Blocking (run it off the game loop). Redirects are not followed. The error says in
/// plain words what went wrong, naming the `service` ("the agent service"), for
/// players; the technical details go to the log.
pub fn post_json(
    url: &str,
    timeout: Duration,
    body: &impl Serialize,
    service: &str,
) -> Result<String, String> {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent();
    let mut response = agent.post(url).send_json(body).map_err(|e| {
        let timed_out = match &e {
            ureq::Error::Timeout(_) => true,
            ureq::Error::Io(io) => io.kind() == std::io::ErrorKind::TimedOut,
            _ => false,
        };
        if timed_out {
            failed(
                &format!(
                    "{service} did not answer within {:.1} s",
                    timeout.as_secs_f32()
                ),
                &e,
            )
        } else {
            failed(&format!("{service} cannot be reached"), &e)
        }
    })?;
    let status = response.status();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_string()
        .map_err(|e| match e {
            ureq::Error::Timeout(_) => failed(
                &format!(
                    "{service} did not finish its answer within {:.1} s",
                    timeout.as_secs_f32()
                ),
                &e,
            ),
            other => failed(&format!("{service}'s answer could not be read"), other),
        })?;
    if status.is_redirection() {
        return Err(failed(
            &format!("{service} answered with a redirect, which is not followed"),
            format!("HTTP {status} from {url}"),
        ));
    }
    if !status.is_success() {
        return Err(failed(
            &format!("{service} answered HTTP {}", status.as_u16()),
            format!("HTTP {status} from {url}"),
        ));
    }
    Ok(body)
}

/// Asks the webhook at `url` for the reply to `request` ([`post_json`]).
pub fn ask(url: &str, timeout: Duration, request: &AgentRequest) -> Result<String, String> {
    let body = post_json(url, timeout, request, "the agent service")?;
    let answer: AgentAnswer = serde_json::from_str(&body).map_err(|e| {
        failed(
            "the agent service's answer is not JSON like {\"reply\": \"...\"}",
            e,
        )
    })?;
    let reply: String = answer
        .reply
        .chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .take(MAX_REPLY_CHARS)
        .collect();
    let reply = reply.trim();
    if reply.is_empty() {
        return Err("the agent service answered with an empty reply".into());
    }
    Ok(reply.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::stub::{StubAnswer, serve};
    use std::sync::{Mutex, mpsc};

    /// A stub that answers `status` and `body` after `delay`, and passes on what it got.
    fn stub(
        status: u16,
        body: &str,
        delay: Duration,
    ) -> (String, mpsc::Receiver<serde_json::Value>) {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let body = body.to_string();
        let url = serve(move |request| {
            let _ = tx.lock().unwrap().send(request);
            StubAnswer {
                status,
                body: body.clone(),
                delay,
            }
        })
        .unwrap();
        (url, rx)
    }

    fn request() -> AgentRequest {
        AgentRequest {
            agent_id: "innkeeper".into(),
            user: "Ada".into(),
            message: "a room, please".into(),
            history: vec![HistoryLine {
                from: "Marta".into(),
                text: "Welcome!".into(),
                at_ms: 1,
            }],
        }
    }

    #[test]
    fn the_webhook_gets_the_conversation_and_its_reply_is_used() {
        let (url, seen) = stub(200, r#"{"reply": "  Five silver.\u0007 "}"#, Duration::ZERO);
        let reply = ask(&url, Duration::from_secs(5), &request()).unwrap();
        assert_eq!(reply, "Five silver.");
        let sent = seen.recv().unwrap();
        assert_eq!(sent["agent_id"], "innkeeper");
        assert_eq!(sent["user"], "Ada");
        assert_eq!(sent["message"], "a room, please");
        assert_eq!(sent["history"][0]["from"], "Marta");
        assert_eq!(sent["history"][0]["text"], "Welcome!");
    }

    #[test]
    fn a_slow_webhook_times_out_with_a_clear_reason() {
        let (url, _seen) = stub(200, r#"{"reply": "late"}"#, Duration::from_secs(3));
        let e = ask(&url, Duration::from_millis(300), &request()).unwrap_err();
        assert!(e.contains("did not answer within 0.3 s"), "{e}");
    }

    #[test]
    fn webhook_failures_say_what_went_wrong() {
        let (url, _seen) = stub(500, r#"{"error": "boom"}"#, Duration::ZERO);
        let e = ask(&url, Duration::from_secs(5), &request()).unwrap_err();
        assert!(e.contains("HTTP 500"), "{e}");
        let (url, _seen) = stub(200, r#"{"answer": "x"}"#, Duration::ZERO);
        let e = ask(&url, Duration::from_secs(5), &request()).unwrap_err();
        assert!(e.contains("not JSON like {\"reply\""), "{e}");
        let (url, _seen) = stub(200, r#"{"reply": "   "}"#, Duration::ZERO);
        let e = ask(&url, Duration::from_secs(5), &request()).unwrap_err();
        assert!(e.contains("empty reply"), "{e}");
        // Nothing listens on a port that was just freed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = ask(
            &format!("http://127.0.0.1:{port}/x"),
            Duration::from_secs(5),
            &request(),
        )
        .unwrap_err();
        assert_eq!(
            e, "the agent service cannot be reached",
            "no raw error for players"
        );
        let (url, _seen) = stub(302, "", Duration::ZERO);
        let e = ask(&url, Duration::from_secs(5), &request()).unwrap_err();
        assert!(e.contains("redirect, which is not followed"), "{e}");
    }
}
