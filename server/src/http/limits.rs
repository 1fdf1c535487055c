//! Limits on logging in: how fast one address may call the login route (a
//! `tower_governor` layer), how many connect tokens one address or one name may hold
//! at once (governor's keyed limiters), and API tokens that expire (a `moka` cache).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// How long a connect token may wait before it is used. Short, so that a token a
/// client did not use stops holding a handshake slot soon.
pub const TOKEN_EXPIRE_SECS: u64 = 15;

/// Live API tokens kept at most; past that the least recently used go first.
pub const MAX_API_TOKENS: u64 = 100_000;

/// The HTTP server's limits; each is a flag of `tavern-server` (see the README).
#[derive(Clone, Debug, PartialEq)]
pub struct HttpLimits {
    /// Login requests one IP address may make per minute (on average).
    pub logins_per_minute: u32,
    /// Login requests one IP address may make at once before the rate applies.
    pub login_burst: u32,
    /// Connect tokens one IP address may hold within a token's lifetime.
    pub tokens_per_ip: u32,
    /// Connect tokens one name may hold within a token's lifetime.
    pub tokens_per_name: u32,
    /// API tokens one name may hold; logging in again drops the oldest.
    pub api_tokens_per_name: usize,
    /// An API token unused this long expires.
    pub api_token_idle: Duration,
    /// An account's login session lasts this long (`--session-ttl`).
    pub session_ttl: Duration,
    /// Failed password logins allowed per name and per address in a minute.
    pub password_failures_per_minute: usize,
    /// Open HTTP connections at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Requests handled at once; more are answered 503.
    pub max_requests: usize,
    /// A client has this long to send a request's headers.
    pub header_timeout: Duration,
    /// A request (body included) must be answered within this.
    pub request_timeout: Duration,
    /// At shutdown, connections still open after this are closed.
    pub shutdown_deadline: Duration,
    /// Largest file a GM may share with a campaign (`--max-asset-mb`).
    pub max_asset_bytes: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            logins_per_minute: 30,
            login_burst: 10,
            tokens_per_ip: 10,
            tokens_per_name: 3,
            api_tokens_per_name: 4,
            api_token_idle: Duration::from_secs(12 * 3600),
            session_ttl: Duration::from_secs(7 * 24 * 3600),
            password_failures_per_minute: 5,
            max_connections: 1024,
            max_requests: 256,
            header_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            shutdown_deadline: Duration::from_secs(5),
            max_asset_bytes: tavern_shared::gm::assets::DEFAULT_MAX_ASSET_BYTES,
        }
    }
}

impl HttpLimits {
    /// Limits loose enough for tests and load tests that log many players in from one
    /// address at once; everything else as by default.
    pub fn for_load_tests() -> Self {
        HttpLimits {
            logins_per_minute: 60_000,
            login_burst: 5_000,
            tokens_per_ip: 5_000,
            tokens_per_name: 20,
            ..HttpLimits::default()
        }
    }
}

/// Why a login was refused for a limit, and when to try again.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub message: String,
    pub retry_after: Duration,
}

/// At most `n` connect tokens per key within a token's lifetime: a burst of `n` that
/// refills one every lifetime / `n`.
fn live_token_limiter<K: std::hash::Hash + Eq + Clone>(n: u32) -> DefaultKeyedRateLimiter<K> {
    let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
    let period = Duration::from_secs(TOKEN_EXPIRE_SECS) / n.get();
    let quota = Quota::with_period(period.max(Duration::from_millis(1)))
        .unwrap_or_else(|| Quota::per_second(n))
        .allow_burst(n);
    RateLimiter::keyed(quota)
}

/// Caps on live connect tokens, per address and per name.
#[derive(Debug)]
pub struct TokenCaps {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_name: DefaultKeyedRateLimiter<String>,
}

impl TokenCaps {
    pub fn new(limits: &HttpLimits) -> Self {
        TokenCaps {
            per_ip: live_token_limiter(limits.tokens_per_ip),
            per_name: live_token_limiter(limits.tokens_per_name),
        }
    }

    /// Takes one token's place for `ip` and `name`, or says why not.
    pub fn take(&self, ip: IpAddr, name: &str) -> Result<(), Refusal> {
        let clock = DefaultClock::default();
        if let Err(wait) = self.per_ip.check_key(&ip) {
            return Err(Refusal {
                message: format!(
                    "too many logins from your address in the last {TOKEN_EXPIRE_SECS} s; try again shortly"
                ),
                retry_after: wait.wait_time_from(clock.now()),
            });
        }
        if let Err(wait) = self.per_name.check_key(&name.to_lowercase()) {
            return Err(Refusal {
                message: format!(
                    "too many logins as `{name}` in the last {TOKEN_EXPIRE_SECS} s; try again shortly"
                ),
                retry_after: wait.wait_time_from(clock.now()),
            });
        }
        Ok(())
    }

    /// Forgets keys whose limits have fully refilled, so memory follows live use.
    pub fn forget_idle(&self) {
        self.per_ip.retain_recent();
        self.per_ip.shrink_to_fit();
        self.per_name.retain_recent();
        self.per_name.shrink_to_fit();
    }

    /// How many addresses and names are remembered (for tests and metrics).
    pub fn remembered(&self) -> (usize, usize) {
        (self.per_ip.len(), self.per_name.len())
    }
}

/// Who an API token was given to: the name shown, and the identity (`account:7`,
/// `guest:12`) everything of theirs is kept under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub name: String,
    pub identity: String,
}

/// Bearer tokens for the chat API: random, expire when idle, at most a few per name.
#[derive(Debug, Clone)]
pub struct ApiTokens {
    cache: moka::sync::Cache<String, TokenOwner>,
    by_name: Arc<Mutex<HashMap<String, VecDeque<String>>>>,
    per_name: usize,
}

impl ApiTokens {
    pub fn new(limits: &HttpLimits) -> Self {
        let by_name: Arc<Mutex<HashMap<String, VecDeque<String>>>> = Arc::default();
        let listener = {
            let by_name = by_name.clone();
            move |token: Arc<String>, owner: TokenOwner, _cause| {
                let mut map = by_name.lock().unwrap_or_else(PoisonError::into_inner);
                let key = owner.name.to_lowercase();
                if let Some(list) = map.get_mut(&key) {
                    list.retain(|t| t != token.as_str());
                    if list.is_empty() {
                        map.remove(&key);
                    }
                }
            }
        };
        // LRU, not moka's default admission policy, which may turn a brand-new token
        // away when the cache is full.
        let cache = moka::sync::Cache::builder()
            .time_to_idle(limits.api_token_idle)
            .max_capacity(MAX_API_TOKENS)
            .eviction_policy(moka::policy::EvictionPolicy::lru())
            .eviction_listener(listener)
            .build();
        ApiTokens {
            cache,
            by_name,
            per_name: limits.api_tokens_per_name.max(1),
        }
    }

    /// A new token for `name` (with the identity `identity`); the name's oldest token
    /// goes if it has too many.
    pub fn issue(&self, name: &str, identity: &str) -> String {
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(bevy_replicon_renet2::netcode::generate_random_bytes::<32>());
        self.cache.insert(
            token.clone(),
            TokenOwner {
                name: name.to_string(),
                identity: identity.to_string(),
            },
        );
        let dropped: Vec<String> = {
            let mut map = self.by_name.lock().unwrap_or_else(PoisonError::into_inner);
            let list = map.entry(name.to_lowercase()).or_default();
            list.push_back(token.clone());
            let extra = list.len().saturating_sub(self.per_name);
            list.drain(..extra).collect()
        };
        for old in dropped {
            self.cache.invalidate(&old);
        }
        token
    }

    /// Whose token this is, if it is live.
    pub fn owner(&self, token: &str) -> Option<TokenOwner> {
        self.cache.get(token)
    }

    /// Runs the cache's pending expiry work now (tests; the cache also does it as it goes).
    pub fn run_pending_tasks(&self) {
        self.cache.run_pending_tasks();
    }

    /// Live tokens (after pending expiry work).
    pub fn len(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Names that hold tokens.
    pub fn names(&self) -> usize {
        self.by_name
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_tokens_are_capped_per_address_and_per_name() {
        let limits = HttpLimits {
            tokens_per_ip: 3,
            tokens_per_name: 2,
            ..HttpLimits::default()
        };
        let caps = TokenCaps::new(&limits);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(caps.take(a, "Ada").is_ok());
        assert!(caps.take(a, "ADA").is_ok(), "names are counted in any case");
        let refused = caps.take(b, "ada").unwrap_err();
        assert!(refused.message.contains("as `ada`"), "{refused:?}");
        assert!(refused.retry_after > Duration::ZERO);
        assert!(refused.retry_after <= Duration::from_secs(TOKEN_EXPIRE_SECS));
        assert!(caps.take(a, "Bo").is_ok());
        let refused = caps.take(a, "Cy").unwrap_err();
        assert!(refused.message.contains("your address"), "{refused:?}");
        assert!(
            caps.take(b, "Cy").is_ok(),
            "another address is not affected"
        );
    }

    #[test]
    fn api_tokens_are_capped_per_name_and_expire_when_idle() {
        let limits = HttpLimits {
            api_tokens_per_name: 2,
            api_token_idle: Duration::from_millis(300),
            ..HttpLimits::default()
        };
        let tokens = ApiTokens::new(&limits);
        let first = tokens.issue("Ada", "guest:1");
        let second = tokens.issue("ada", "guest:2");
        let third = tokens.issue("Ada", "guest:1");
        assert_eq!(tokens.owner(&first), None, "the oldest of three is dropped");
        let owner = tokens.owner(&second).unwrap();
        assert_eq!(
            (owner.name.as_str(), owner.identity.as_str()),
            ("ada", "guest:2")
        );
        assert_eq!(tokens.owner(&third).unwrap().name, "Ada");
        assert_ne!(second, third);
        assert_eq!(tokens.len(), 2);
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(tokens.owner(&third), None, "idle tokens expire");
        assert_eq!(tokens.len(), 0);
        assert_eq!(tokens.names(), 0, "and their names are forgotten");
    }

    #[test]
    fn many_logins_leave_bounded_state() {
        let limits = HttpLimits::default();
        let tokens = ApiTokens::new(&limits);
        for _ in 0..10_000 {
            tokens.issue("Ada", "guest:1");
        }
        assert_eq!(tokens.len(), limits.api_tokens_per_name as u64);
        assert_eq!(tokens.names(), 1);
    }
}

/// Failed password logins of the last minute, per account name (its key) and per
/// address: past the limit on either, password logins are refused until the oldest
/// failure is a minute old, whether the next password would be right or not.
#[derive(Debug)]
pub struct PasswordFailures {
    limit: usize,
    seen: Mutex<HashMap<String, VecDeque<std::time::Instant>>>,
}

/// Keys kept at most; past that, those with no failure in the last minute go first.
const MAX_FAILURE_KEYS: usize = 100_000;

impl PasswordFailures {
    pub fn new(limits: &HttpLimits) -> Self {
        PasswordFailures {
            limit: limits.password_failures_per_minute.max(1),
            seen: Mutex::new(HashMap::new()),
        }
    }

    fn keys(ip: IpAddr, name_key: &str) -> [String; 2] {
        [format!("ip {ip}"), format!("name {name_key}")]
    }

    /// How long until a password login for `name_key` from `ip` may be tried, if it
    /// may not be now.
    pub fn wait(&self, ip: IpAddr, name_key: &str) -> Option<Duration> {
        let now = std::time::Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        Self::keys(ip, name_key)
            .iter()
            .filter_map(|k| {
                let times = seen.get_mut(k)?;
                times.retain(|t| now.duration_since(*t) < Duration::from_secs(60));
                (times.len() >= self.limit)
                    .then(|| Duration::from_secs(60).saturating_sub(now.duration_since(times[0])))
            })
            .max()
    }

    /// Counts a failed password login.
    pub fn failed(&self, ip: IpAddr, name_key: &str) {
        let now = std::time::Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.len() >= MAX_FAILURE_KEYS {
            seen.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < Duration::from_secs(60))
            });
        }
        for key in Self::keys(ip, name_key) {
            let times = seen.entry(key).or_default();
            times.push_back(now);
            while times.len() > self.limit {
                times.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod password_failure_tests {
    use super::*;

    #[test]
    fn five_failures_a_minute_per_name_or_address_then_a_wait() {
        let failures = PasswordFailures::new(&HttpLimits::default());
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..4 {
            failures.failed(a, "ada");
        }
        assert_eq!(failures.wait(a, "ada"), None);
        failures.failed(a, "ada");
        let wait = failures.wait(a, "ada").expect("a wait after five");
        assert!(wait > Duration::from_secs(55) && wait <= Duration::from_secs(60));
        // The name is held from any address, the address for any name.
        assert!(failures.wait(b, "ada").is_some());
        assert!(failures.wait(a, "bo").is_some());
        assert_eq!(failures.wait(b, "bo"), None);
    }
}
