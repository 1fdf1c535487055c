//! A small loopback HTTP server that plays an agent webhook, for tests: each request's
//! JSON body goes to a handler that says what to answer and how long to wait first.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// What the stub answers one request with.
#[derive(Debug, Clone)]
pub struct StubAnswer {
    pub status: u16,
    pub body: String,
    /// Waited before answering (to play a slow service).
    pub delay: Duration,
}

/// Starts the stub on an ephemeral loopback port; returns its URL. It serves until the
/// process ends, one thread per request.
pub fn serve(
    handler: impl Fn(serde_json::Value) -> StubAnswer + Send + Sync + 'static,
) -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/agent", listener.local_addr()?);
    let handler = Arc::new(handler);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handler = handler.clone();
            std::thread::spawn(move || answer(stream, &*handler));
        }
    });
    Ok(url)
}

fn answer(stream: TcpStream, handler: &dyn Fn(serde_json::Value) -> StubAnswer) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let reply = handler(request);
    std::thread::sleep(reply.delay);
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {} Stub\r\nContent-Type: application/json\r\n{}Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        reply.status,
        // A redirect points back at the stub itself, so following it would be seen.
        if (300..400).contains(&reply.status) {
            "Location: /elsewhere\r\n"
        } else {
            ""
        },
        reply.body.len(),
        reply.body
    );
}
