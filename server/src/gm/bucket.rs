//! An S3-compatible bucket for shared campaign files (`--assets-s3
//! http://HOST:PORT/BUCKET[/PREFIX]`): objects are put, read and deleted with requests
//! signed by `rusty-s3` (AWS signature version 4, path-style URLs) and sent with
//! ureq. Only `http://` endpoints: this build has no TLS client, so the store (MinIO,
//! say) stands next to the server. The keys come from `TAVERN_S3_ACCESS_KEY_ID` and
//! `TAVERN_S3_SECRET_ACCESS_KEY` (or the usual `AWS_ACCESS_KEY_ID` and
//! `AWS_SECRET_ACCESS_KEY`).

use std::io;
use std::time::Duration;

use rusty_s3::{Credentials, S3Action, UrlStyle};

/// How long a signed request stays valid.
const SIGNED_FOR: Duration = Duration::from_secs(60);
/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest object read back.
const MAX_OBJECT_BYTES: u64 = 32 * 1024 * 1024;

/// Where the bucket is, as given on the command line, and its keys.
#[derive(Clone)]
pub struct BucketConfig {
    /// `http://HOST:PORT/BUCKET[/PREFIX]`.
    pub url: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
}

impl std::fmt::Debug for BucketConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketConfig")
            .field("url", &self.url)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

/// A bucket ready for requests.
pub struct Bucket {
    bucket: rusty_s3::Bucket,
    credentials: Credentials,
    /// Put before every object's name (`campaigns/`), or empty.
    prefix: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bucket({}{})", self.bucket.base_url(), self.prefix)
    }
}

/// What a request's failure says, with the object's name.
fn failed(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{what}: {e}"))
}

impl Bucket {
    /// The bucket `config` names; what is wrong with its URL otherwise.
    pub fn new(config: &BucketConfig) -> Result<Bucket, String> {
        let url = url::Url::parse(&config.url)
            .map_err(|e| format!("`{}` is not a URL: {e}", config.url))?;
        if url.scheme() != "http" {
            return Err(format!(
                "`{}`: only http:// endpoints are supported (this build has no TLS client; run the store next to the server)",
                config.url
            ));
        }
        let mut segments = url
            .path_segments()
            .map(|s| s.filter(|p| !p.is_empty()).collect::<Vec<_>>())
            .unwrap_or_default();
        if segments.is_empty() {
            return Err(format!(
                "`{}` names no bucket: http://HOST:PORT/BUCKET[/PREFIX]",
                config.url
            ));
        }
        let name = segments.remove(0).to_string();
        let prefix = segments.iter().map(|s| format!("{s}/")).collect::<String>();
        let mut endpoint = url.clone();
        endpoint.set_path("/");
        endpoint.set_query(None);
        let bucket = rusty_s3::Bucket::new(endpoint, UrlStyle::Path, name, config.region.clone())
            .map_err(|e| format!("`{}`: {e}", config.url))?;
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .new_agent();
        Ok(Bucket {
            bucket,
            credentials: Credentials::new(config.access_key.clone(), config.secret_key.clone()),
            prefix,
            agent,
        })
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Whether the bucket answers to its keys (a HEAD of the bucket). Blocks.
    pub fn check(&self) -> Result<(), String> {
        let url = self
            .bucket
            .head_bucket(Some(&self.credentials))
            .sign(SIGNED_FOR);
        let response = self
            .agent
            .head(url.as_str())
            .call()
            .map_err(|e| format!("the bucket cannot be reached: {e}"))?;
        match response.status().as_u16() {
            200..=299 => Ok(()),
            404 => Err(format!("there is no bucket `{}`", self.bucket.name())),
            403 => Err("the bucket refuses these keys (403)".into()),
            status => Err(format!("the bucket answered HTTP {status}")),
        }
    }

    /// Puts `bytes` under `name`. Blocks.
    pub fn put(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let key = self.key(name);
        let url = self
            .bucket
            .put_object(Some(&self.credentials), &key)
            .sign(SIGNED_FOR);
        let response = self
            .agent
            .put(url.as_str())
            .header("Content-Type", "application/octet-stream")
            .send(bytes)
            .map_err(|e| failed(&format!("storing {key}"), e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(failed(&format!("storing {key}"), format!("HTTP {status}")));
        }
        Ok(())
    }

    /// The object `name`. Blocks.
    pub fn get(&self, name: &str) -> io::Result<Vec<u8>> {
        let key = self.key(name);
        let url = self
            .bucket
            .get_object(Some(&self.credentials), &key)
            .sign(SIGNED_FOR);
        let mut response = self
            .agent
            .get(url.as_str())
            .call()
            .map_err(|e| failed(&format!("reading {key}"), e))?;
        let status = response.status();
        if status.as_u16() == 404 {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{key} is not in the bucket"),
            ));
        }
        if !status.is_success() {
            return Err(failed(&format!("reading {key}"), format!("HTTP {status}")));
        }
        response
            .body_mut()
            .with_config()
            .limit(MAX_OBJECT_BYTES)
            .read_to_vec()
            .map_err(|e| failed(&format!("reading {key}"), e))
    }

    /// Deletes the object `name` (gone already is fine). Blocks.
    pub fn delete(&self, name: &str) -> io::Result<()> {
        let key = self.key(name);
        let url = self
            .bucket
            .delete_object(Some(&self.credentials), &key)
            .sign(SIGNED_FOR);
        let response = self
            .agent
            .delete(url.as_str())
            .call()
            .map_err(|e| failed(&format!("deleting {key}"), e))?;
        let status = response.status();
        if !status.is_success() && status.as_u16() != 404 {
            return Err(failed(&format!("deleting {key}"), format!("HTTP {status}")));
        }
        Ok(())
    }

    /// Makes the bucket (for tests against a fresh store). Blocks.
    pub fn create(&self) -> Result<(), String> {
        let url = self
            .bucket
            .create_bucket(&self.credentials)
            .sign(SIGNED_FOR);
        let response = self
            .agent
            .put(url.as_str())
            .send_empty()
            .map_err(|e| format!("the bucket cannot be made: {e}"))?;
        if !response.status().is_success() {
            return Err(format!(
                "the bucket cannot be made: HTTP {}",
                response.status()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> BucketConfig {
        BucketConfig {
            url: url.into(),
            region: "us-east-1".into(),
            access_key: "key".into(),
            secret_key: "secret".into(),
        }
    }

    #[test]
    fn bucket_urls_are_read_with_their_prefix_and_bad_ones_refused() {
        let bucket = Bucket::new(&config("http://127.0.0.1:9000/tavern/campaigns/files")).unwrap();
        assert_eq!(bucket.bucket.name(), "tavern");
        assert_eq!(bucket.key("ab/abcd"), "campaigns/files/ab/abcd");
        assert_eq!(
            bucket.bucket.object_url("x").as_str(),
            "http://127.0.0.1:9000/tavern/x"
        );
        assert!(
            Bucket::new(&config("http://127.0.0.1:9000/"))
                .unwrap_err()
                .contains("names no bucket")
        );
        assert!(
            Bucket::new(&config("https://s3.amazonaws.com/b"))
                .unwrap_err()
                .contains("only http://")
        );
        assert!(
            Bucket::new(&config("not a url"))
                .unwrap_err()
                .contains("is not a URL")
        );
        assert!(!format!("{:?}", config("http://h/b")).contains("secret\""));
    }
}
