//! Requests to the server's HTTP API and work beside the frame, the same on the desktop
//! and in a browser: natively a request is ureq on a thread of its own; in a browser it
//! is `fetch`, run by the page's event loop (a page has no threads to block).

use std::sync::Mutex;
use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::time::Duration;

/// One request: a GET, or a POST of a body (JSON, or a file upload).
#[derive(Debug, Clone)]
pub struct Request {
    pub url: String,
    pub bearer: Option<String>,
    /// A POST's content type and body.
    pub body: Option<(String, Vec<u8>)>,
    /// The largest body read back; a longer one is an error.
    pub limit: u64,
    pub timeout: Duration,
}

impl Request {
    /// A GET of `url`: 5 s at most, 1 MiB at most back.
    pub fn get(url: impl Into<String>) -> Self {
        Request {
            url: url.into(),
            bearer: None,
            body: None,
            limit: 1024 * 1024,
            timeout: Duration::from_secs(5),
        }
    }

    /// A POST of `body` as JSON to `url`.
    pub fn post(url: impl Into<String>, body: &impl serde::Serialize) -> Self {
        let json = serde_json::to_vec(body).unwrap_or_default();
        Request::post_bytes(url, "application/json", json)
    }

    /// A POST of `body` of type `content_type` to `url`.
    pub fn post_bytes(url: impl Into<String>, content_type: &str, body: Vec<u8>) -> Self {
        Request {
            body: Some((content_type.to_string(), body)),
            ..Request::get(url)
        }
    }

    pub fn bearer(mut self, token: Option<&str>) -> Self {
        self.bearer = token.map(str::to_string);
        self
    }

    pub fn limit(mut self, bytes: u64) -> Self {
        self.limit = bytes;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// What the server answered: any status (an error's JSON body says what was wrong).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `request`; `Err` says why no answer came (unreachable, timed out, too long).
/// Natively this blocks its thread: await it inside [`spawn`] or [`wait`].
#[cfg(not(target_arch = "wasm32"))]
pub async fn send(request: Request) -> Result<Reply, String> {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(request.timeout))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let bearer = request.bearer.map(|t| format!("Bearer {t}"));
    let mut response = match request.body {
        Some((content_type, body)) => {
            let mut r = agent.post(&request.url);
            if let Some(b) = &bearer {
                r = r.header("Authorization", b);
            }
            r.header("Content-Type", &content_type).send(&body[..])
        }
        None => {
            let mut r = agent.get(&request.url);
            if let Some(b) = &bearer {
                r = r.header("Authorization", b);
            }
            r.call()
        }
    }
    .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(request.limit)
        .read_to_vec()
        .map_err(|e| format!("the answer broke off: {e}"))?;
    Ok(Reply { status, body })
}

/// Sends `request` with the browser's `fetch`.
#[cfg(target_arch = "wasm32")]
pub async fn send(request: Request) -> Result<Reply, String> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    let shown = |e: wasm_bindgen::JsValue| {
        e.as_string()
            .or_else(|| {
                e.dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
            })
            .unwrap_or_else(|| format!("{e:?}"))
    };
    let window = web_sys::window().ok_or("no browser window")?;
    let init = web_sys::RequestInit::new();
    let headers = web_sys::Headers::new().map_err(shown)?;
    if let Some(token) = &request.bearer {
        headers
            .set("Authorization", &format!("Bearer {token}"))
            .map_err(shown)?;
    }
    match &request.body {
        Some((content_type, body)) => {
            init.set_method("POST");
            headers.set("Content-Type", content_type).map_err(shown)?;
            init.set_body(&js_sys::Uint8Array::from(&body[..]));
        }
        None => init.set_method("GET"),
    }
    init.set_headers(&headers);
    let fetch = web_sys::Request::new_with_str_and_init(&request.url, &init).map_err(shown)?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&fetch))
        .await
        .map_err(shown)?
        .dyn_into()
        .map_err(|_| "fetch did not answer a response".to_string())?;
    let status = response.status();
    let buffer = JsFuture::from(response.array_buffer().map_err(shown)?)
        .await
        .map_err(|e| format!("the answer broke off: {}", shown(e)))?;
    let body = js_sys::Uint8Array::new(&buffer).to_vec();
    if body.len() as u64 > request.limit {
        return Err(format!("the answer is over {} bytes", request.limit));
    }
    Ok(Reply { status, body })
}

/// Work handed to [`spawn`]: natively it runs on a thread of its own, so it must be
/// `Send`; in a browser it runs on the page's one thread.
#[cfg(not(target_arch = "wasm32"))]
pub trait Work<T>: Future<Output = T> + Send + 'static {}
#[cfg(not(target_arch = "wasm32"))]
impl<T, F: Future<Output = T> + Send + 'static> Work<T> for F {}
#[cfg(target_arch = "wasm32")]
pub trait Work<T>: Future<Output = T> + 'static {}
#[cfg(target_arch = "wasm32")]
impl<T, F: Future<Output = T> + 'static> Work<T> for F {}

/// The answer of work running beside the frame, taken when it is there.
#[derive(Debug)]
pub struct Pending<T>(Mutex<Receiver<T>>);

/// Whether [`Pending::take`] found an answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Taken<T> {
    Waiting,
    Done(T),
    /// The work ended without answering (it panicked).
    Lost,
}

impl<T> Pending<T> {
    pub fn take(&self) -> Taken<T> {
        let Ok(rx) = self.0.lock() else {
            return Taken::Lost;
        };
        match rx.try_recv() {
            Ok(answer) => Taken::Done(answer),
            Err(TryRecvError::Empty) => Taken::Waiting,
            Err(TryRecvError::Disconnected) => Taken::Lost,
        }
    }
}

/// Starts `work` beside the frame (a thread natively, the page's event loop in a
/// browser); its answer waits in the returned [`Pending`].
pub fn spawn<T: Send + 'static>(work: impl Work<T>) -> Pending<T> {
    let (tx, rx) = channel();
    let run = async move {
        let _ = tx.send(work.await);
    };
    #[cfg(not(target_arch = "wasm32"))]
    std::thread::spawn(move || bevy::tasks::block_on(run));
    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_futures::spawn_local(run);
    Pending(Mutex::new(rx))
}

/// Runs `work` to its end on this thread (tools, bots and tests; never in a browser).
#[cfg(not(target_arch = "wasm32"))]
pub fn wait<T>(work: impl Future<Output = T>) -> T {
    bevy::tasks::block_on(work)
}
