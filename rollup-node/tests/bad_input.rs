//! Bad input over JSON-RPC: malformed requests, every refusal of `eth_sendRawTransaction`,
//! request limits, reverting calls and bad subscriptions. Each case asserts the JSON-RPC error
//! code and message, then that the node still serves (a new block arrives); each test ends with
//! a valid transfer being mined.
//!
//! Requests go over a minimal HTTP/1.1 client on a raw TCP socket, so that malformed bodies,
//! oversized bodies and HTTP status codes can be sent and seen as they are.

mod support;

use std::time::{Duration, Instant};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEip4844, TxEip7702, TxLegacy},
    eips::eip2718::Encodable2718,
    network::TransactionBuilder,
    primitives::{hex, Address, Bytes, Signature, TxKind, B256, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
    signers::{local::PrivateKeySigner, SignerSync},
    sol_types::SolValue,
};
use op_alloy_consensus::TxDeposit;
use serde_json::{json, Value};
use support::{artifact, dev_address, wallet, ChainOpts, TestChain};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const GWEI: u128 = 1_000_000_000;

/// secp256k1 group order.
const SECP256K1_N: U256 = U256::from_be_bytes(hex!(
    "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
));

// ---------------------------------------------------------------------------------------------
// A minimal HTTP client
// ---------------------------------------------------------------------------------------------

/// An HTTP response: status code and body.
struct HttpReply {
    status: u16,
    body: String,
}

impl HttpReply {
    /// The body as JSON (panics with the body if it is not JSON).
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {}: body is not JSON ({e}): {:?}",
                self.status, self.body
            )
        })
    }
}

/// POSTs `body` as `application/json` to `url` (`http://host:port`) and returns the response.
async fn http_post(url: &str, body: impl Into<Vec<u8>>) -> HttpReply {
    http_request(url, "POST", "application/json", body.into()).await
}

/// Sends one HTTP/1.1 request and returns the response. The body is written while the response
/// is read, so a server that answers before reading everything (e.g. 413) is seen too.
async fn http_request(url: &str, method: &str, content_type: &str, body: Vec<u8>) -> HttpReply {
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let exchange = async {
        let stream = TcpStream::connect(&addr).await.expect("connect");
        let (mut rd, mut wr) = stream.into_split();
        let head = format!(
            "{method} / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        // Keep the write half alive until the response is read: dropping it half-closes the
        // connection, which the server may take as the client going away.
        let writer = tokio::spawn(async move {
            let _ = wr.write_all(head.as_bytes()).await;
            let _ = wr.write_all(&body).await;
            let _ = wr.flush().await;
            wr
        });
        let mut raw = Vec::new();
        let read = rd.read_to_end(&mut raw).await;
        let _wr = writer.await;
        if raw.is_empty() {
            panic!("no HTTP response from {addr}: {read:?}");
        }
        raw
    };
    let raw = tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .unwrap_or_else(|_| panic!("HTTP {method} to {url} timed out"));
    parse_http(&raw)
}

fn parse_http(raw: &[u8]) -> HttpReply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of HTTP head: {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw[split + 4..].to_vec();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {head:?}"));
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().replace(' ', "") == "transfer-encoding:chunked");
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let size_line = String::from_utf8_lossy(&rest[..eol]).to_string();
            let size = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size {size_line:?}"));
            rest = &rest[eol + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        body = out;
    }
    HttpReply {
        status,
        body: String::from_utf8_lossy(&body).to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// JSON-RPC helpers
// ---------------------------------------------------------------------------------------------

fn request(method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
}

/// Sends one JSON body and returns the JSON response (asserting HTTP 200).
async fn post_json(chain: &TestChain, body: &Value) -> Value {
    let reply = http_post(&chain.http_url(), body.to_string()).await;
    if reply.status != 200 {
        chain.fail(&format!("HTTP {} for {body}: {}", reply.status, reply.body));
    }
    reply.json()
}

/// Calls `method` and returns the whole response object.
async fn call(chain: &TestChain, method: &str, params: Value) -> Value {
    post_json(chain, &request(method, params)).await
}

/// Calls `method` and returns its `result`, failing on an error.
async fn call_ok(chain: &TestChain, method: &str, params: Value) -> Value {
    let resp = call(chain, method, params.clone()).await;
    match resp.get("result") {
        Some(r) if resp.get("error").is_none() => r.clone(),
        _ => chain.fail(&format!("{method} {params} failed: {resp}")),
    }
}

/// Asserts that `resp` is a JSON-RPC error with `code` and a message containing `msg`;
/// returns the error object.
fn assert_error(chain: &TestChain, case: &str, resp: &Value, code: i64, msg: &str) -> Value {
    let err = match resp.get("error") {
        Some(e) if resp.get("result").is_none() => e.clone(),
        _ => chain.fail(&format!(
            "{case}: expected error {code} {msg:?}, got {resp}"
        )),
    };
    let got_code = err["code"].as_i64();
    let got_msg = err["message"].as_str().unwrap_or_default();
    if got_code != Some(code) || !got_msg.contains(msg) {
        chain.fail(&format!(
            "{case}: expected error {code} containing {msg:?}, got {err}"
        ));
    }
    eprintln!("{case}: {err}");
    err
}

fn hex_u64(v: &Value) -> u64 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("not a hex string: {v}"));
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("bad hex {s}"))
}

/// Checks that the node still answers and still seals blocks: `eth_blockNumber` answers and
/// goes past the number seen at the previous check.
struct Liveness {
    last: u64,
}

impl Liveness {
    async fn new(chain: &TestChain) -> Self {
        let last = hex_u64(&call_ok(chain, "eth_blockNumber", json!([])).await);
        Self { last }
    }

    async fn check(&mut self, chain: &TestChain, case: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let resp = call(chain, "eth_blockNumber", json!([])).await;
            let Some(n) = resp.get("result").map(hex_u64) else {
                chain.fail(&format!("after {case}: eth_blockNumber failed: {resp}"));
            };
            assert!(
                n >= self.last,
                "after {case}: head went back from {} to {n}",
                self.last
            );
            if n > self.last {
                self.last = n;
                return;
            }
            if Instant::now() > deadline {
                chain.fail(&format!(
                    "after {case}: no new block within 10 s (head {n})"
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Sends a transfer from dev account 0 with the provider's fillers and waits for its receipt.
async fn valid_transfer_is_mined(chain: &TestChain) {
    let provider = chain.provider_for(0);
    let to = dev_address(9);
    let before = provider.get_balance(to).await.expect("balance");
    let pending = provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(to)
                .with_value(U256::from(12345)),
        )
        .await
        .unwrap_or_else(|e| chain.fail(&format!("valid transfer refused: {e}")));
    let receipt = pending
        .with_timeout(Some(Duration::from_secs(20)))
        .get_receipt()
        .await
        .unwrap_or_else(|e| chain.fail(&format!("valid transfer not mined: {e}")));
    assert!(receipt.status(), "valid transfer reverted");
    let after = provider.get_balance(to).await.expect("balance");
    assert_eq!(after, before + U256::from(12345));
}

/// Waits until `hash` has a receipt.
async fn wait_receipt(chain: &TestChain, hash: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = call_ok(chain, "eth_getTransactionReceipt", json!([hash])).await;
        if !r.is_null() {
            return r;
        }
        if Instant::now() > deadline {
            chain.fail(&format!("no receipt for {hash} within 20 s"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Transactions
// ---------------------------------------------------------------------------------------------

fn transfer(chain_id: u64, nonce: u64, to: Address, value: u64) -> TxEip1559 {
    TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 5 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: TxKind::Call(to),
        value: U256::from(value),
        ..Default::default()
    }
}

fn sign<T: SignableTransaction<Signature>>(signer: &PrivateKeySigner, tx: T) -> Vec<u8>
where
    alloy::consensus::Signed<T>: Encodable2718,
{
    let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    tx.into_signed(sig).encoded_2718()
}

fn with_signature<T: SignableTransaction<Signature>>(tx: T, sig: Signature) -> Vec<u8>
where
    alloy::consensus::Signed<T>: Encodable2718,
{
    tx.into_signed(sig).encoded_2718()
}

fn raw_hex(raw: &[u8]) -> String {
    format!("0x{}", hex::encode(raw))
}

async fn send_raw(chain: &TestChain, raw: &[u8]) -> Value {
    call(chain, "eth_sendRawTransaction", json!([raw_hex(raw)])).await
}

async fn pending_nonce(chain: &TestChain, who: Address) -> u64 {
    hex_u64(&call_ok(chain, "eth_getTransactionCount", json!([who, "pending"])).await)
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

fn fast_chain(extra: &[&str]) -> ChainOpts {
    ChainOpts {
        block_time: Some("100ms".into()),
        extra_args: extra.iter().map(|s| s.to_string()).collect(),
        anvil_automine: false,
    }
}

/// Malformed JSON, non-request JSON, unknown methods and bad parameters.
#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests() {
    let chain = TestChain::start(fast_chain(&[])).await;
    let url = chain.http_url();
    let mut live = Liveness::new(&chain).await;

    // Bodies that are not JSON.
    for (case, body) in [
        (
            "truncated JSON",
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber""#,
        ),
        ("not JSON", "this is not json"),
        (
            "trailing garbage",
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}}}"#,
        ),
    ] {
        let reply = http_post(&url, body).await;
        let resp = reply.json();
        assert_error(&chain, case, &resp, -32700, "Parse error");
        live.check(&chain, case).await;
    }

    // JSON that is not a request object: -32600, as JSON-RPC 2.0 says...
    for (case, body) in [
        (
            "object without method",
            json!({"jsonrpc": "2.0", "id": 7, "foo": "bar"}),
        ),
        (
            "method not a string",
            json!({"jsonrpc": "2.0", "id": 7, "method": 42}),
        ),
        (
            "wrong jsonrpc version",
            json!({"jsonrpc": "1.0", "id": 7, "method": "eth_blockNumber"}),
        ),
        ("empty batch", json!([])),
    ] {
        let reply = http_post(&url, body.to_string()).await;
        assert_error(&chain, case, &reply.json(), -32600, "Invalid request");
        live.check(&chain, case).await;
    }
    // ... a batch of non-requests: one -32600 per item ...
    let reply = http_post(&url, "[1, \"x\"]").await;
    let items = reply.json();
    let items = items
        .as_array()
        .unwrap_or_else(|| panic!("[1, \"x\"]: {}", reply.body));
    assert_eq!(items.len(), 2, "{}", reply.body);
    for item in items {
        assert_error(&chain, "batch [1, \"x\"]", item, -32600, "Invalid request");
    }
    live.check(&chain, "batch of non-requests").await;
    // ... and valid JSON that is neither an array nor an object with a method (a bare number,
    // string, null, bool, or `{}`) is not a request: -32600 with HTTP 200, as anvil answers.
    for (case, body) in [
        ("a number", "42"),
        ("a string", "\"eth_blockNumber\""),
        ("null", "null"),
        ("a bool", "true"),
        ("empty object", "{}"),
    ] {
        let reply = http_post(&url, body).await;
        assert_eq!(reply.status, 200, "{case}: {}", reply.body);
        let resp = assert_error(&chain, case, &reply.json(), -32600, "Invalid request");
        assert_eq!(reply.json()["id"], Value::Null, "{case}: {resp}");
        live.check(&chain, case).await;
    }
    // Not POST, or not JSON: HTTP errors.
    let reply = http_request(&url, "GET", "application/json", Vec::new()).await;
    assert_eq!(reply.status, 405, "GET: {}", reply.body);
    let reply = http_request(
        &url,
        "POST",
        "text/plain",
        request("eth_blockNumber", json!([]))
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(reply.status, 415, "text/plain: {}", reply.body);
    live.check(&chain, "GET and text/plain").await;

    // Unknown methods.
    for method in [
        "eth_doesNotExist",
        "debug_traceTransaction",
        "",
        "eth_blocknumber",
    ] {
        let case = format!("unknown method {method:?}");
        let resp = call(&chain, method, json!([])).await;
        assert_error(&chain, &case, &resp, -32601, "Method not found");
        live.check(&chain, &case).await;
    }

    // Wrong parameters.
    for (case, method, params, msg) in [
        (
            "getBalance non-address",
            "eth_getBalance",
            json!(["0x1234", "latest"]),
            "Invalid params",
        ),
        (
            "getBalance number as address",
            "eth_getBalance",
            json!([17, "latest"]),
            "Invalid params",
        ),
        (
            "getBalance bad block tag",
            "eth_getBalance",
            json!([dev_address(0), "yesterday"]),
            "Invalid params",
        ),
        (
            "getBlockByNumber garbage",
            "eth_getBlockByNumber",
            json!(["garbage", false]),
            "Invalid params",
        ),
        (
            "getBlockByNumber full not bool",
            "eth_getBlockByNumber",
            json!(["latest", "yes"]),
            "Invalid params",
        ),
        (
            "getBlockByNumber no params",
            "eth_getBlockByNumber",
            json!([]),
            "Invalid params",
        ),
        (
            "getBlockByHash short hash",
            "eth_getBlockByHash",
            json!(["0x1234", false]),
            "Invalid params",
        ),
        (
            "params an object of junk",
            "eth_getBalance",
            json!({"who": "me"}),
            "Invalid params",
        ),
        (
            "sendRawTransaction no params",
            "eth_sendRawTransaction",
            json!([]),
            "Invalid params",
        ),
        (
            "sendRawTransaction number",
            "eth_sendRawTransaction",
            json!([12]),
            "Invalid params",
        ),
        (
            "feeHistory bad percentiles",
            "eth_feeHistory",
            json!(["0x2", "latest", [50.0, 10.0]]),
            "reward percentiles must be increasing",
        ),
        (
            "getProof too many keys",
            "eth_getProof",
            json!([dev_address(0), vec![B256::ZERO; 1025], "latest"]),
            "at most 1024 storage keys",
        ),
    ] {
        let resp = call(&chain, method, params).await;
        assert_error(&chain, case, &resp, -32602, msg);
        live.check(&chain, case).await;
    }

    // Well-formed requests that name things that do not exist.
    let resp = call(
        &chain,
        "eth_getBalance",
        json!([dev_address(0), "0xffffffff"]),
    )
    .await;
    assert_error(
        &chain,
        "getBalance above head",
        &resp,
        -32000,
        "header not found",
    );
    live.check(&chain, "getBalance above head").await;
    let resp = call(&chain, "eth_getFilterChanges", json!(["0xdeadbeef"])).await;
    assert_error(&chain, "unknown filter", &resp, -32000, "filter not found");
    live.check(&chain, "unknown filter").await;
    let resp = call_ok(&chain, "eth_getBlockByNumber", json!(["0xffffffff", false])).await;
    assert!(resp.is_null(), "block above head: {resp}");

    // The id is echoed even in errors.
    let resp = post_json(
        &chain,
        &json!({"jsonrpc": "2.0", "id": "abc", "method": "eth_nope", "params": []}),
    )
    .await;
    assert_eq!(resp["id"], json!("abc"), "{resp}");

    valid_transfer_is_mined(&chain).await;
    live.check(&chain, "final transfer").await;
}

/// A JSON-RPC error object with `code`, and `id` when given (`Some(Value::Null)`: a null id).
fn assert_error_object(chain: &TestChain, case: &str, resp: &Value, code: i64, id: Option<Value>) {
    if !resp.is_object() || resp.get("result").is_some() || resp["jsonrpc"] != "2.0" {
        chain.fail(&format!(
            "{case}: expected a JSON-RPC error object, got {resp}"
        ));
    }
    if resp["error"]["code"].as_i64() != Some(code) || !resp["error"]["message"].is_string() {
        chain.fail(&format!("{case}: expected error {code}, got {resp}"));
    }
    if let Some(id) = id {
        if resp["id"] != id {
            chain.fail(&format!("{case}: expected id {id}, got {resp}"));
        }
    }
}

/// Request objects that do not parse as a call but carry an id (a duplicate key, an id or
/// params of the wrong kind), alone and in batches: each gets a JSON-RPC error object (-32600,
/// with its id where it can be read), one per batch element, never `null`; notifications get
/// no answer (HTTP 204, as anvil). See `rollup_node::rpc::requests`.
#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_get_error_objects() {
    let chain = TestChain::start(fast_chain(&[])).await;
    let url = chain.http_url();
    let anvil = chain.target() == support::Target::Anvil;
    let null = || Some(Value::Null);

    // Single request objects.
    for (case, body, id) in [
        (
            "duplicate id",
            r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"eth_chainId"}"#,
            null(),
        ),
        (
            "duplicate method",
            r#"{"jsonrpc":"2.0","id":3,"method":"eth_chainId","method":"eth_blockNumber"}"#,
            Some(json!(3)),
        ),
        (
            "string params",
            r#"{"jsonrpc":"2.0","id":4,"method":"eth_chainId","params":"xx"}"#,
            Some(json!(4)),
        ),
        (
            "number params",
            r#"{"jsonrpc":"2.0","id":"x","method":"eth_chainId","params":5}"#,
            Some(json!("x")),
        ),
        (
            "fractional id",
            r#"{"jsonrpc":"2.0","id":1.5,"method":"eth_chainId"}"#,
            null(),
        ),
        (
            "object id",
            r#"{"jsonrpc":"2.0","id":{},"method":"eth_chainId"}"#,
            null(),
        ),
        (
            "array id",
            r#"{"jsonrpc":"2.0","id":[1],"method":"eth_chainId"}"#,
            null(),
        ),
        (
            "bool id",
            r#"{"jsonrpc":"2.0","id":true,"method":"eth_chainId"}"#,
            null(),
        ),
        (
            "id above 2^64",
            r#"{"jsonrpc":"2.0","id":18446744073709551616,"method":"eth_chainId"}"#,
            None,
        ),
        ("no method", r#"{"jsonrpc":"2.0","id":7}"#, Some(json!(7))),
    ] {
        let reply = http_post(&url, body).await;
        assert_eq!(reply.status, 200, "{case}: {}", reply.body);
        assert_error_object(&chain, case, &reply.json(), -32600, id);
        eprintln!("{case}: {}", reply.body);
    }

    // A negative id is a valid JSON-RPC id: anvil answers the call; the node, whose JSON-RPC
    // server carries only unsigned ids, answers -32600 with the id. Either way an object.
    let reply = http_post(&url, r#"{"jsonrpc":"2.0","id":-1,"method":"eth_chainId"}"#).await;
    let resp = reply.json();
    assert_eq!(resp["id"], json!(-1), "negative id: {resp}");
    if !anvil {
        assert_error_object(&chain, "negative id", &resp, -32600, Some(json!(-1)));
    }

    // Batches: one answer per element that is not a notification, in order.
    let batch = |body: &str| {
        let url = url.clone();
        let body = body.to_string();
        async move {
            let reply = http_post(&url, body.clone()).await;
            assert_eq!(reply.status, 200, "{body}: {}", reply.body);
            reply.json()
        }
    };
    let resp = batch(r#"[{"jsonrpc":"2.0","id":-1,"method":"0x0001","params":"xx"}]"#).await;
    let items = resp
        .as_array()
        .unwrap_or_else(|| panic!("the issue's batch: {resp}"));
    assert_eq!(items.len(), 1, "{resp}");
    assert_error_object(
        &chain,
        "the issue's batch",
        &items[0],
        -32600,
        Some(json!(-1)),
    );

    let resp = batch(
        r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":4,"method":"eth_chainId","params":"xx"},{"jsonrpc":"2.0","method":"eth_chainId"},{"jsonrpc":"2.0","id":5,"method":"eth_chainId","params":[]}]"#,
    )
    .await;
    let items = resp
        .as_array()
        .unwrap_or_else(|| panic!("mixed batch: {resp}"));
    assert_eq!(
        items.len(),
        3,
        "mixed batch (the notification is not answered): {resp}"
    );
    assert_eq!(items[0]["id"], json!(1), "{resp}");
    assert_eq!(
        items[0]["result"],
        json!(format!("{:#x}", chain.chain_id()))
    );
    assert_error_object(&chain, "mixed batch", &items[1], -32600, Some(json!(4)));
    assert_eq!(items[2]["id"], json!(5), "{resp}");
    assert!(items[2]["result"].is_string(), "{resp}");

    // Elements anvil cannot read at all (a duplicate key, a fractional id, a non-object): anvil
    // answers the whole batch with one -32600 object; the issue asks for one per element, which
    // the node gives.
    for (case, body, expect) in [
        (
            "batch with a duplicate key",
            r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":2,"id":3,"method":"eth_chainId"}]"#,
            vec![Ok(json!(1)), Err(Value::Null)],
        ),
        (
            "batch with a fractional id",
            r#"[{"jsonrpc":"2.0","id":2.5,"method":"eth_chainId"},{"jsonrpc":"2.0","id":6,"method":"eth_chainId"}]"#,
            vec![Err(Value::Null), Ok(json!(6))],
        ),
        (
            "batch with a non-object",
            r#"[[],{"jsonrpc":"2.0","id":8,"method":"eth_chainId"}]"#,
            vec![Err(Value::Null), Ok(json!(8))],
        ),
    ] {
        let resp = batch(body).await;
        if anvil && resp.is_object() {
            assert_error_object(&chain, case, &resp, -32600, null());
            continue;
        }
        let items = resp.as_array().unwrap_or_else(|| panic!("{case}: {resp}"));
        assert_eq!(items.len(), expect.len(), "{case}: {resp}");
        for (item, expected) in items.iter().zip(expect) {
            match expected {
                Ok(id) => {
                    assert_eq!(item["id"], id, "{case}: {resp}");
                    assert!(item["result"].is_string(), "{case}: {resp}");
                }
                Err(id) => assert_error_object(&chain, case, item, -32600, Some(id)),
            }
        }
    }

    // Notifications are not answered: HTTP 204 without a body, alone or as a whole batch.
    for body in [
        r#"{"jsonrpc":"2.0","method":"eth_chainId"}"#,
        r#"[{"jsonrpc":"2.0","method":"eth_chainId"},{"jsonrpc":"2.0","method":"eth_blockNumber"}]"#,
    ] {
        let reply = http_post(&url, body).await;
        assert_eq!(reply.status, 204, "{body}: {}", reply.body);
        assert_eq!(reply.body, "", "{body}");
    }

    valid_transfer_is_mined(&chain).await;
}

/// Every refusal of `eth_sendRawTransaction`.
#[tokio::test(flavor = "multi_thread")]
async fn raw_transaction_rejections() {
    let chain = TestChain::start(fast_chain(&[])).await;
    let chain_id = chain.chain_id();
    let mut live = Liveness::new(&chain).await;
    let alice = wallet(1);
    let bob = dev_address(8);

    // --- Bytes that are not a transaction ---------------------------------------------------
    for (case, param, msg) in [
        ("non-hex", json!("0xzzzz"), "Invalid params"),
        ("odd number of hex digits", json!("0x02f"), "Invalid params"),
        ("no 0x prefix, not hex", json!("hello"), "Invalid params"),
    ] {
        let resp = call(&chain, "eth_sendRawTransaction", json!([param])).await;
        assert_error(&chain, case, &resp, -32602, msg);
        live.check(&chain, case).await;
    }
    let good = sign(&alice, transfer(chain_id, 0, bob, 1));
    let mut random = Vec::new();
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..96 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        random.push((x >> 24) as u8);
    }
    random[0] = 0xd7; // a short RLP list header whose length does not match
    let mut typed_garbage = vec![0x02];
    typed_garbage.extend_from_slice(&random[1..]);
    for (case, raw) in [
        ("empty", Vec::new()),
        ("truncated RLP", good[..good.len() - 10].to_vec()),
        ("one byte short", good[..good.len() - 1].to_vec()),
        ("trailing bytes", [good.clone(), vec![0x00, 0x01]].concat()),
        ("random bytes", random.clone()),
        ("type 2 with garbage", typed_garbage),
        (
            "unknown type 0x55",
            [vec![0x55], good[1..].to_vec()].concat(),
        ),
    ] {
        let resp = send_raw(&chain, &raw).await;
        assert_error(&chain, case, &resp, -32602, "rlp");
        live.check(&chain, case).await;
    }

    // --- Signatures ------------------------------------------------------------------------
    let tx = transfer(chain_id, 0, bob, 2);
    let sig = alice.sign_hash_sync(&tx.signature_hash()).unwrap();
    let high_s = Signature::new(sig.r(), SECP256K1_N - sig.s(), !sig.v());
    let resp = send_raw(&chain, &with_signature(tx.clone(), high_s)).await;
    assert_error(&chain, "s > n/2", &resp, -32000, "invalid sender");
    live.check(&chain, "s > n/2").await;
    let zero_r = Signature::new(U256::ZERO, sig.s(), sig.v());
    let resp = send_raw(&chain, &with_signature(tx.clone(), zero_r)).await;
    assert_error(&chain, "r = 0", &resp, -32000, "invalid sender");
    live.check(&chain, "r = 0").await;
    let r_too_big = Signature::new(SECP256K1_N + U256::from(1), sig.s(), sig.v());
    let resp = send_raw(&chain, &with_signature(tx.clone(), r_too_big)).await;
    assert_error(&chain, "r > n", &resp, -32000, "invalid sender");
    live.check(&chain, "r > n").await;

    // --- Chain id and replay protection ----------------------------------------------------
    let resp = send_raw(&chain, &sign(&alice, transfer(1, 0, bob, 3))).await;
    assert_error(&chain, "chain id 1", &resp, -32000, "invalid chain id");
    live.check(&chain, "chain id 1").await;
    let legacy = TxLegacy {
        chain_id: None,
        nonce: 0,
        gas_price: 5 * GWEI,
        gas_limit: 21_000,
        to: TxKind::Call(bob),
        value: U256::from(4),
        input: Bytes::new(),
    };
    let resp = send_raw(&chain, &sign(&alice, legacy.clone())).await;
    assert_error(
        &chain,
        "pre-EIP-155 legacy",
        &resp,
        -32000,
        "replay-protected",
    );
    live.check(&chain, "pre-EIP-155 legacy").await;
    // The same legacy transaction with EIP-155 is fine (it is mined below).
    let legacy_155 = sign(
        &alice,
        TxLegacy {
            chain_id: Some(chain_id),
            ..legacy
        },
    );

    // --- Nonces ----------------------------------------------------------------------------
    let resp = send_raw(&chain, &legacy_155).await;
    let Some(hash) = resp["result"].as_str() else {
        chain.fail(&format!("EIP-155 legacy transfer refused: {resp}"));
    };
    let receipt = wait_receipt(&chain, hash).await;
    assert_eq!(receipt["status"], json!("0x1"), "{receipt}");
    let resp = send_raw(&chain, &sign(&alice, transfer(chain_id, 0, bob, 5))).await;
    assert_error(&chain, "nonce too low", &resp, -32000, "nonce too low");
    live.check(&chain, "nonce too low").await;
    let resp = send_raw(&chain, &legacy_155).await;
    assert_error(
        &chain,
        "mined transaction resent",
        &resp,
        -32000,
        "nonce too low",
    );
    live.check(&chain, "mined transaction resent").await;
    let next = pending_nonce(&chain, alice.address()).await;
    assert_eq!(next, 1);
    let resp = send_raw(
        &chain,
        &sign(&alice, transfer(chain_id, next + 5000, bob, 6)),
    )
    .await;
    assert_error(&chain, "nonce gap 5000", &resp, -32000, "nonce too high");
    live.check(&chain, "nonce gap 5000").await;
    let resp = send_raw(
        &chain,
        &sign(&alice, transfer(chain_id, next + 1025, bob, 6)),
    )
    .await;
    assert_error(&chain, "nonce gap 1025", &resp, -32000, "nonce too high");
    live.check(&chain, "nonce gap 1025").await;

    // --- Funds and fees --------------------------------------------------------------------
    let pauper = PrivateKeySigner::random();
    let resp = send_raw(&chain, &sign(&pauper, transfer(chain_id, 0, bob, 7))).await;
    assert_error(&chain, "no balance", &resp, -32000, "insufficient funds");
    live.check(&chain, "no balance").await;
    let rich_but_not_that_rich = TxEip1559 {
        value: U256::from(10u128.pow(18)) * U256::from(20_000u64),
        ..transfer(chain_id, next, bob, 0)
    };
    let resp = send_raw(&chain, &sign(&alice, rich_but_not_that_rich)).await;
    assert_error(
        &chain,
        "value above balance",
        &resp,
        -32000,
        "insufficient funds",
    );
    live.check(&chain, "value above balance").await;
    let head = call_ok(&chain, "eth_getBlockByNumber", json!(["latest", false])).await;
    let base_fee = hex_u64(&head["baseFeePerGas"]);
    assert!(base_fee > 1, "base fee {base_fee}");
    let cheap = TxEip1559 {
        max_fee_per_gas: 1,
        max_priority_fee_per_gas: 0,
        ..transfer(chain_id, next, bob, 8)
    };
    let resp = send_raw(&chain, &sign(&alice, cheap)).await;
    assert_error(
        &chain,
        "fee cap below base fee",
        &resp,
        -32000,
        "underpriced",
    );
    live.check(&chain, "fee cap below base fee").await;
    let tip_above_cap = TxEip1559 {
        max_fee_per_gas: 2 * GWEI,
        max_priority_fee_per_gas: 3 * GWEI,
        ..transfer(chain_id, next, bob, 9)
    };
    let resp = send_raw(&chain, &sign(&alice, tip_above_cap)).await;
    assert_error(
        &chain,
        "tip above fee cap",
        &resp,
        -32000,
        "max priority fee per gas higher",
    );
    live.check(&chain, "tip above fee cap").await;

    // --- Replacement (on a queued future-nonce transaction, so nothing gets mined) ---------
    let carol = wallet(2);
    let queued_nonce = pending_nonce(&chain, carol.address()).await + 10;
    let (fee, tip) = (10 * GWEI, 2 * GWEI);
    let queued = TxEip1559 {
        max_fee_per_gas: fee,
        max_priority_fee_per_gas: tip,
        ..transfer(chain_id, queued_nonce, bob, 10)
    };
    let queued_raw = sign(&carol, queued.clone());
    let resp = send_raw(&chain, &queued_raw).await;
    let Some(first_hash) = resp["result"].as_str().map(str::to_string) else {
        chain.fail(&format!("queued transaction refused: {resp}"));
    };
    let resp = send_raw(&chain, &queued_raw).await;
    assert_error(
        &chain,
        "same transaction twice",
        &resp,
        -32000,
        "already known",
    );
    live.check(&chain, "same transaction twice").await;
    let plus5 = TxEip1559 {
        max_fee_per_gas: fee * 105 / 100,
        max_priority_fee_per_gas: tip * 105 / 100,
        value: U256::from(11),
        ..queued.clone()
    };
    let resp = send_raw(&chain, &sign(&carol, plus5)).await;
    assert_error(
        &chain,
        "replacement +5%",
        &resp,
        -32000,
        "replacement transaction underpriced",
    );
    live.check(&chain, "replacement +5%").await;
    let only_fee = TxEip1559 {
        max_fee_per_gas: fee * 2,
        value: U256::from(12),
        ..queued.clone()
    };
    let resp = send_raw(&chain, &sign(&carol, only_fee)).await;
    assert_error(
        &chain,
        "replacement +100% fee cap, same tip",
        &resp,
        -32000,
        "replacement transaction underpriced",
    );
    live.check(&chain, "replacement same tip").await;
    let plus10 = TxEip1559 {
        max_fee_per_gas: fee * 110 / 100,
        max_priority_fee_per_gas: tip * 110 / 100,
        value: U256::from(13),
        ..queued.clone()
    };
    let resp = send_raw(&chain, &sign(&carol, plus10)).await;
    let Some(second_hash) = resp["result"].as_str().map(str::to_string) else {
        chain.fail(&format!("replacement +10% refused: {resp}"));
    };
    assert_ne!(first_hash, second_hash);
    let replaced = call_ok(&chain, "eth_getTransactionByHash", json!([first_hash])).await;
    assert!(
        replaced.is_null(),
        "replaced transaction still known: {replaced}"
    );
    let replacement = call_ok(&chain, "eth_getTransactionByHash", json!([second_hash])).await;
    assert_eq!(
        replacement["nonce"],
        json!(format!("0x{queued_nonce:x}")),
        "{replacement}"
    );
    live.check(&chain, "replacement +10%").await;

    // --- Gas ---------------------------------------------------------------------------------
    let huge_gas = TxEip1559 {
        gas_limit: 100_000_000,
        ..transfer(chain_id, next, bob, 14)
    };
    let resp = send_raw(&chain, &sign(&alice, huge_gas)).await;
    assert_error(
        &chain,
        "gas above block gas limit",
        &resp,
        -32000,
        "exceeds block gas limit",
    );
    live.check(&chain, "gas above block gas limit").await;
    let low_gas = TxEip1559 {
        gas_limit: 20_000,
        ..transfer(chain_id, next, bob, 15)
    };
    let resp = send_raw(&chain, &sign(&alice, low_gas)).await;
    assert_error(
        &chain,
        "gas 20000 for a transfer",
        &resp,
        -32000,
        "intrinsic gas too low",
    );
    live.check(&chain, "intrinsic gas").await;
    let big_create = TxEip1559 {
        gas_limit: 30_000_000,
        to: TxKind::Create,
        value: U256::ZERO,
        input: vec![0u8; 50_000].into(),
        ..transfer(chain_id, next, bob, 0)
    };
    let resp = send_raw(&chain, &sign(&alice, big_create)).await;
    assert_error(
        &chain,
        "initcode 50000 bytes",
        &resp,
        -32000,
        "max initcode size exceeded",
    );
    live.check(&chain, "initcode").await;

    // --- Size and types --------------------------------------------------------------------
    let oversized = TxEip1559 {
        gas_limit: 30_000_000,
        input: vec![0x42u8; 140 * 1024].into(),
        ..transfer(chain_id, next, bob, 16)
    };
    let resp = send_raw(&chain, &sign(&alice, oversized)).await;
    assert_error(&chain, "140 KiB calldata", &resp, -32602, "oversized data");
    live.check(&chain, "oversized").await;
    let deposit = TxDeposit {
        source_hash: B256::repeat_byte(0x11),
        from: alice.address(),
        to: TxKind::Call(bob),
        mint: 10u128.pow(18),
        value: U256::from(1),
        gas_limit: 100_000,
        is_system_transaction: false,
        input: Bytes::new(),
    };
    let resp = send_raw(&chain, &deposit.encoded_2718()).await;
    assert_error(
        &chain,
        "deposit (0x7e)",
        &resp,
        -32000,
        "transaction type not supported: 126",
    );
    live.check(&chain, "deposit").await;
    let blob = TxEip4844 {
        chain_id,
        nonce: next,
        gas_limit: 21_000,
        max_fee_per_gas: 5 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: bob,
        value: U256::from(17),
        access_list: Default::default(),
        blob_versioned_hashes: vec![B256::with_last_byte(1)],
        max_fee_per_blob_gas: GWEI,
        input: Bytes::new(),
    };
    let blob_raw = sign(&alice, blob);
    assert_eq!(blob_raw[0], 0x03);
    let resp = send_raw(&chain, &blob_raw).await;
    assert_error(
        &chain,
        "blob (0x03)",
        &resp,
        -32602,
        "rlp: unexpected tx type",
    );
    live.check(&chain, "blob").await;

    let set_code = TxEip7702 {
        chain_id,
        nonce: next,
        gas_limit: 100_000,
        max_fee_per_gas: 5 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: bob,
        value: U256::from(17),
        access_list: Default::default(),
        authorization_list: Vec::new(),
        input: Bytes::new(),
    };
    let resp = send_raw(&chain, &sign(&alice, set_code)).await;
    assert_error(
        &chain,
        "set-code (0x04)",
        &resp,
        -32000,
        "transaction type not supported: 4",
    );
    live.check(&chain, "set-code").await;

    // Nothing above disturbed alice: her next transfer is mined with the expected nonce.
    // (an EIP-2930 transfer, the one typed transaction not used elsewhere).
    let access_list_tx = TxEip2930 {
        chain_id,
        nonce: next,
        gas_price: 5 * GWEI,
        gas_limit: 21_000,
        to: TxKind::Call(bob),
        value: U256::from(18),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let resp = send_raw(&chain, &sign(&alice, access_list_tx)).await;
    let Some(hash) = resp["result"].as_str() else {
        chain.fail(&format!("alice's transfer refused: {resp}"));
    };
    let receipt = wait_receipt(&chain, hash).await;
    assert_eq!(receipt["status"], json!("0x1"));
    assert_eq!(receipt["type"], json!("0x1"));
    assert_eq!(pending_nonce(&chain, alice.address()).await, next + 1);

    valid_transfer_is_mined(&chain).await;
    live.check(&chain, "final transfer").await;
}

/// Request size, batch length and log range limits, and JSON-RPC 2.0 batch semantics.
#[tokio::test(flavor = "multi_thread")]
async fn request_limits() {
    let chain = TestChain::start(fast_chain(&[
        "--rpc.max-request-size",
        "100000",
        "--rpc.max-batch",
        "5",
        "--rpc.max-logs-range",
        "2",
    ]))
    .await;
    let url = chain.http_url();
    let mut live = Liveness::new(&chain).await;

    // A 200 KB body.
    let big = json!({
        "jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
        "params": [format!("0x{}", "00".repeat(100_000))],
    })
    .to_string();
    assert!(big.len() > 200_000);
    let reply = http_post(&url, big).await;
    eprintln!("200 KB body: HTTP {} {}", reply.status, reply.body);
    assert_eq!(reply.status, 413, "200 KB body: {}", reply.body);
    assert_error(
        &chain,
        "200 KB body",
        &reply.json(),
        -32007,
        "Request is too big",
    );
    live.check(&chain, "200 KB body").await;
    // Just under the limit is served.
    let padding = "0".repeat(99_000 - 100);
    let near = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[],"x":"{padding}"}}"#
    );
    assert!(near.len() < 100_000);
    let reply = http_post(&url, near).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.json()["result"].is_string(), "{}", reply.body);

    // Batches.
    let batch = |n: usize| -> Value {
        Value::Array(
            (0..n)
                .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "eth_blockNumber", "params": []}))
                .collect(),
        )
    };
    let resp = post_json(&chain, &batch(6)).await;
    let resp = match resp {
        Value::Array(mut a) if a.len() == 1 => a.remove(0),
        other => other,
    };
    assert_error(
        &chain,
        "batch of 6 (max 5)",
        &resp,
        -32010,
        "batch request was too large",
    );
    live.check(&chain, "batch of 6").await;
    let resp = post_json(&chain, &batch(5)).await;
    let items = resp
        .as_array()
        .unwrap_or_else(|| panic!("batch of 5: {resp}"));
    assert_eq!(items.len(), 5, "{resp}");
    assert!(items.iter().all(|r| r["result"].is_string()), "{resp}");

    let mixed = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_noSuchMethod", "params": []},
        {"jsonrpc": "2.0", "id": 3, "method": "eth_getBalance", "params": ["0xnotanaddress", "latest"]},
    ]);
    let resp = post_json(&chain, &mixed).await;
    let items = resp
        .as_array()
        .unwrap_or_else(|| panic!("mixed batch: {resp}"));
    assert_eq!(items.len(), 3, "{resp}");
    let by_id = |id: i64| {
        items
            .iter()
            .find(|r| r["id"] == json!(id))
            .unwrap_or_else(|| panic!("no response with id {id}: {resp}"))
    };
    assert!(by_id(1)["result"].is_string(), "{resp}");
    assert_error(&chain, "batch item 2", by_id(2), -32601, "Method not found");
    assert_error(&chain, "batch item 3", by_id(3), -32602, "Invalid params");
    live.check(&chain, "mixed batch").await;

    // A notification (no id) in a batch gets no response; an invalid item gets an error.
    let with_notification = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "method": "eth_blockNumber", "params": []},
        {"foo": "bar"},
    ]);
    let resp = post_json(&chain, &with_notification).await;
    eprintln!("batch with notification and junk: {resp}");
    let items = resp.as_array().unwrap_or_else(|| panic!("batch: {resp}"));
    assert_eq!(items.len(), 2, "{resp}");
    let chain_id_resp = items.iter().find(|r| r["id"] == json!(1)).expect("id 1");
    assert_eq!(hex_u64(&chain_id_resp["result"]), chain.chain_id());
    let junk = items
        .iter()
        .find(|r| r["id"] != json!(1))
        .expect("junk item");
    assert_error(&chain, "batch junk item", junk, -32600, "Invalid request");
    live.check(&chain, "batch with notification").await;

    // eth_getLogs range (max 2 blocks).
    let deadline = Instant::now() + Duration::from_secs(20);
    while hex_u64(&call_ok(&chain, "eth_blockNumber", json!([])).await) < 12 {
        assert!(Instant::now() < deadline, "chain did not reach block 12");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let resp = call(
        &chain,
        "eth_getLogs",
        json!([{"fromBlock": "0x1", "toBlock": "0xa"}]),
    )
    .await;
    assert_error(
        &chain,
        "getLogs 10 blocks (max 2)",
        &resp,
        -32000,
        "exceeds max block range",
    );
    live.check(&chain, "getLogs 10 blocks").await;
    let resp = call(
        &chain,
        "eth_getLogs",
        json!([{"fromBlock": "0x0", "toBlock": "latest"}]),
    )
    .await;
    assert_error(
        &chain,
        "getLogs 0..latest (max 2)",
        &resp,
        -32000,
        "exceeds max block range",
    );
    let resp = call(
        &chain,
        "eth_getLogs",
        json!([{"fromBlock": "0x1", "toBlock": "0x3"}]),
    )
    .await;
    assert_error(
        &chain,
        "getLogs 3 blocks (max 2)",
        &resp,
        -32000,
        "exceeds max block range 2",
    );
    let ok = call_ok(
        &chain,
        "eth_getLogs",
        json!([{"fromBlock": "0x1", "toBlock": "0x2"}]),
    )
    .await;
    assert!(ok.is_array(), "{ok}");
    live.check(&chain, "getLogs 2 blocks").await;

    valid_transfer_is_mined(&chain).await;
    live.check(&chain, "final transfer").await;
}

/// ABI encoding of `Error(reason)`.
fn error_string(reason: &str) -> Vec<u8> {
    let mut out = hex!("08c379a0").to_vec();
    out.extend_from_slice(&(reason.to_string(),).abi_encode_params());
    out
}

/// Code that reverts with `data` (as runtime code, or as creation code in an `eth_call`
/// without `to`): `codecopy(0, 12, len); revert(0, len)`, then the data.
fn revert_with(data: &[u8]) -> Vec<u8> {
    assert!(data.len() + 12 < 256);
    let len = data.len() as u8;
    let mut code = vec![
        0x60, len, 0x60, 12, 0x60, 0x00, 0x39, 0x60, len, 0x60, 0x00, 0xfd,
    ];
    code.extend_from_slice(data);
    code
}

/// Initcode that deploys `runtime`: `codecopy(0, 12, len); return(0, len)`, then the runtime.
fn deployer(runtime: &[u8]) -> Vec<u8> {
    assert!(runtime.len() + 12 < 256);
    let len = runtime.len() as u8;
    let mut init = vec![
        0x60, len, 0x60, 12, 0x60, 0x00, 0x39, 0x60, len, 0x60, 0x00, 0xf3,
    ];
    init.extend_from_slice(runtime);
    init
}

/// `eth_call` of creation code (no `to`).
async fn call_create(chain: &TestChain, code: &[u8]) -> Value {
    call(
        chain,
        "eth_call",
        json!([{"data": format!("0x{}", hex::encode(code))}, "latest"]),
    )
    .await
}

async fn deploy(chain: &TestChain, code: Vec<u8>) -> Address {
    let provider = chain.provider_for(0);
    let receipt = provider
        .send_transaction(TransactionRequest::default().with_deploy_code(Bytes::from(code)))
        .await
        .unwrap_or_else(|e| chain.fail(&format!("deploy refused: {e}")))
        .with_timeout(Some(Duration::from_secs(20)))
        .get_receipt()
        .await
        .unwrap_or_else(|e| chain.fail(&format!("deploy not mined: {e}")));
    assert!(receipt.status(), "deploy reverted");
    receipt.contract_address.expect("contract address")
}

/// `eth_call` / `eth_estimateGas` of reverting code: code 3, the reason in the message, the
/// revert data in `data`.
#[tokio::test(flavor = "multi_thread")]
async fn reverting_calls() {
    let chain = TestChain::start(fast_chain(&[])).await;
    let mut live = Liveness::new(&chain).await;
    let reason = "boom: not today";
    let expected_data = format!("0x{}", hex::encode(error_string(reason)));

    let reverter = deploy(&chain, deployer(&revert_with(&error_string(reason)))).await;
    let resp = call(
        &chain,
        "eth_call",
        json!([{"to": reverter, "data": "0x12345678"}, "latest"]),
    )
    .await;
    let err = assert_error(
        &chain,
        "call Error(string)",
        &resp,
        3,
        &format!("execution reverted: {reason}"),
    );
    assert_eq!(
        err["message"],
        json!(format!("execution reverted: {reason}"))
    );
    assert_eq!(err["data"], json!(expected_data), "{err}");
    live.check(&chain, "call Error(string)").await;
    let resp = call(
        &chain,
        "eth_estimateGas",
        json!([{"from": dev_address(0), "to": reverter}]),
    )
    .await;
    let err = assert_error(
        &chain,
        "estimateGas Error(string)",
        &resp,
        3,
        "execution reverted: boom",
    );
    assert_eq!(err["data"], json!(expected_data), "{err}");
    live.check(&chain, "estimateGas Error(string)").await;
    // Creation code that reverts, without deploying anything.
    let resp = call_create(&chain, &revert_with(&error_string(reason))).await;
    let err = assert_error(
        &chain,
        "create that reverts",
        &resp,
        3,
        "execution reverted: boom",
    );
    assert_eq!(err["data"], json!(expected_data), "{err}");
    live.check(&chain, "create that reverts").await;

    // Panic(uint256): the panic's meaning in the message.
    let mut panic_data = hex!("4e487b71").to_vec();
    panic_data.extend_from_slice(&U256::from(0x11).to_be_bytes::<32>());
    let resp = call_create(&chain, &revert_with(&panic_data)).await;
    let err = assert_error(
        &chain,
        "Panic(0x11)",
        &resp,
        3,
        "execution reverted: arithmetic underflow or overflow",
    );
    assert_eq!(
        err["data"],
        json!(format!("0x{}", hex::encode(&panic_data))),
        "{err}"
    );
    // revert(0, 0): no reason, no trailing colon.
    let resp = call_create(&chain, &hex!("60006000fd")).await;
    let err = assert_error(&chain, "empty revert", &resp, 3, "execution reverted");
    assert_eq!(err["message"], json!("execution reverted"), "{err}");
    assert_eq!(err["data"], json!("0x"), "{err}");
    // Revert data that is neither Error(string) nor Panic (here: happens to be UTF-8) is not
    // put in the message.
    let resp = call_create(&chain, &revert_with(b"abcd")).await;
    let err = assert_error(&chain, "raw revert data", &resp, 3, "execution reverted");
    assert_eq!(err["message"], json!("execution reverted"), "{err}");
    assert_eq!(err["data"], json!("0x61626364"), "{err}");
    live.check(&chain, "other revert data").await;

    // A custom error from the compiled ERC-20: transfer more than the balance.
    let (_abi, bytecode) = artifact("contracts/out/TestToken.json");
    let mut code = bytecode.to_vec();
    code.extend_from_slice(
        &("Test".to_string(), "TST".to_string(), U256::from(1_000u64)).abi_encode_params(),
    );
    let token = deploy(&chain, code).await;
    let poor = dev_address(7);
    let mut transfer_call = hex!("a9059cbb").to_vec();
    transfer_call.extend_from_slice(&(dev_address(0), U256::from(5u64)).abi_encode_params());
    let resp = call(
        &chain,
        "eth_call",
        json!([{"from": poor, "to": token, "data": format!("0x{}", hex::encode(&transfer_call))}, "latest"]),
    )
    .await;
    let err = assert_error(
        &chain,
        "ERC20InsufficientBalance",
        &resp,
        3,
        "execution reverted",
    );
    assert_eq!(err["message"], json!("execution reverted"), "{err}");
    let data = err["data"]
        .as_str()
        .unwrap_or_else(|| panic!("no revert data: {err}"));
    let expected = format!(
        "0xe450d38c{}",
        hex::encode((poor, U256::ZERO, U256::from(5u64)).abi_encode_params())
    );
    assert_eq!(data, expected, "{err}");
    live.check(&chain, "ERC20InsufficientBalance").await;

    // A call that halts (invalid opcode) is an error too, not a crash.
    let resp = call(&chain, "eth_call", json!([{"data": "0xfe"}])).await;
    assert_error(&chain, "invalid opcode", &resp, -32000, "execution halted");
    live.check(&chain, "invalid opcode").await;

    valid_transfer_is_mined(&chain).await;
    live.check(&chain, "final transfer").await;
}

/// `eth_subscribe` with an unknown kind over WebSocket: an error, and the connection stays usable.
#[tokio::test(flavor = "multi_thread")]
async fn bad_subscription_over_ws() {
    let chain = TestChain::start(fast_chain(&[])).await;
    let mut live = Liveness::new(&chain).await;
    let ws = chain.ws_provider().await;

    for (case, params) in [
        ("unknown kind", json!(["newBananas"])),
        ("kind not a string", json!([42])),
        ("no params", json!([])),
        (
            "logs with a bad filter",
            json!(["logs", {"address": "0x12"}]),
        ),
    ] {
        let result = ws
            .raw_request::<_, Value>("eth_subscribe".into(), params.clone())
            .await;
        let err = match result {
            Ok(v) => chain.fail(&format!("eth_subscribe {params}: accepted: {v}")),
            Err(e) => e,
        };
        let payload = err.as_error_resp().unwrap_or_else(|| {
            chain.fail(&format!("eth_subscribe {params}: not an RPC error: {err}"))
        });
        eprintln!("eth_subscribe {case}: {} {}", payload.code, payload.message);
        assert_eq!(payload.code, -32602, "{case}: {payload:?}");
        if case == "unknown kind" {
            assert!(
                payload.message.contains("unsupported subscription"),
                "{payload:?}"
            );
        }
        // The same connection still answers calls.
        let n = ws
            .get_block_number()
            .await
            .expect("eth_blockNumber over the same WS");
        assert!(n >= live.last);
        live.check(&chain, case).await;
    }

    // And still subscribes.
    let sub = ws
        .subscribe_blocks()
        .await
        .expect("newHeads after the bad subscriptions");
    let mut stream = sub.into_stream();
    let head = tokio::time::timeout(
        Duration::from_secs(10),
        futures::StreamExt::next(&mut stream),
    )
    .await
    .expect("a new head within 10 s")
    .expect("stream open");
    assert!(head.number > 0);

    valid_transfer_is_mined(&chain).await;
    live.check(&chain, "final transfer").await;
}
