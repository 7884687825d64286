//! Ports on 127.0.0.1 and waiting for a JSON-RPC endpoint to come up.

use std::{
    fmt,
    net::TcpListener,
    process::{Child, ExitStatus},
    time::{Duration, Instant},
};

use alloy::providers::{Provider, ProviderBuilder};

/// A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, drop the socket).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Why [`wait_for_chain_id`] gave up.
#[derive(Debug)]
pub enum NotReady {
    /// The process exited first.
    Exited(ExitStatus),
    /// The endpoint did not answer in time; the last error it gave.
    Timeout {
        /// The endpoint.
        url: String,
        /// How long it was given.
        timeout: Duration,
        /// The last failure of `eth_chainId`.
        last_error: String,
    },
}

impl fmt::Display for NotReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotReady::Exited(status) => write!(f, "exited during start-up: {status}"),
            NotReady::Timeout {
                url,
                timeout,
                last_error,
            } => write!(
                f,
                "eth_chainId on {url} did not answer within {timeout:?}: {last_error}"
            ),
        }
    }
}

impl std::error::Error for NotReady {}

/// Polls `eth_chainId` on `url` (HTTP) until it answers and returns the chain id; gives up when
/// `child` (the process serving it, if it is ours) exits or `timeout` passes.
pub async fn wait_for_chain_id(
    url: &str,
    mut child: Option<&mut Child>,
    timeout: Duration,
) -> Result<u64, NotReady> {
    let provider = ProviderBuilder::new().connect_http(url.parse().expect("http url"));
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(child) = child.as_deref_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(NotReady::Exited(status));
            }
        }
        let last_error =
            match tokio::time::timeout(Duration::from_secs(2), provider.get_chain_id()).await {
                Ok(Ok(id)) => return Ok(id),
                Ok(Err(e)) => e.to_string(),
                Err(_) => "eth_chainId timed out after 2 s".into(),
            };
        if Instant::now() > deadline {
            return Err(NotReady::Timeout {
                url: url.to_string(),
                timeout,
                last_error,
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
