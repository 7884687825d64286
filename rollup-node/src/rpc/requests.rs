//! Request objects that jsonrpsee would take for notifications: an HTTP middleware that answers
//! every malformed request with a JSON-RPC error object.
//!
//! Why: jsonrpsee (0.26, and upstream at the time of writing) reads a request object that does
//! not parse as a call (a duplicate key, an `id` that is not a string, null or unsigned
//! integer, ...) a second time as a *notification*, whose type ignores the `id` member. A
//! notification gets no response, so over HTTP a malformed request with an id was answered
//! with the body `null` (and one element fewer in a batch), where JSON-RPC 2.0 (and geth, reth,
//! anvil) answer `-32600 Invalid request`.
//!
//! What this layer does, for HTTP `POST` bodies with a JSON content type ([`classify`]):
//! - a body that is not JSON is passed on: jsonrpsee answers `-32700 Parse error`;
//! - JSON that is neither an object nor an array (`42`, `null`, `"x"`, `true`) is answered
//!   `-32600 Invalid request`, HTTP 200 (jsonrpsee said `-32700` with HTTP 400);
//! - a request object (alone or in a batch) is well-formed when it has no duplicate member,
//!   `"jsonrpc": "2.0"`, a string `method`, `params` absent, null, an array or an object, and
//!   an `id` that is absent (a notification), a string, null or an unsigned 64-bit integer (the
//!   ids jsonrpsee carries). Any other element is answered `-32600 Invalid request` with its id
//!   when the id can be read (a string, null or an integer; else null) and the reason in
//!   `data`. In a batch every element gets its own answer in order, the well-formed ones from
//!   jsonrpsee;
//! - a request made only of notifications is answered `204 No Content` without a body, as anvil
//!   does (jsonrpsee answered `null`).
//!
//! Well-formed bodies reach jsonrpsee unchanged. WebSocket messages do not pass through HTTP
//! middleware, and jsonrpsee has no per-message hook: over WebSocket a malformed request with
//! an id still gets no answer (documented in the [`super`] module docs).

use std::{
    borrow::Cow,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use http_body_util::{BodyExt, Limited};
use jsonrpsee::{
    core::BoxError,
    server::{http::response, HttpBody, HttpRequest, HttpResponse},
};
use serde::Deserialize;
use serde_json::value::RawValue;
use tracing::debug;

/// The JSON-RPC "Invalid request" code.
pub const INVALID_REQUEST: i32 = -32600;

/// A tower layer putting [`RequestShape`] in front of the jsonrpsee HTTP service.
#[derive(Clone, Copy, Debug)]
pub struct RequestShapeLayer {
    max_request_bytes: u32,
    max_batch_len: u32,
}

impl RequestShapeLayer {
    /// A layer reading bodies of at most `max_request_bytes` (larger ones are answered 413, as
    /// jsonrpsee does); batches longer than `max_batch_len` go to jsonrpsee whole, which refuses
    /// them.
    pub fn new(max_request_bytes: u32, max_batch_len: u32) -> Self {
        Self {
            max_request_bytes,
            max_batch_len,
        }
    }
}

impl<S> tower::Layer<S> for RequestShapeLayer {
    type Service = RequestShape<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestShape {
            inner,
            max_request_bytes: self.max_request_bytes,
            max_batch_len: self.max_batch_len,
        }
    }
}

/// The middleware service (see the module docs).
#[derive(Clone, Debug)]
pub struct RequestShape<S> {
    inner: S,
    max_request_bytes: u32,
    max_batch_len: u32,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> tower::Service<HttpRequest<B>> for RequestShape<S>
where
    S: tower::Service<HttpRequest<HttpBody>, Response = HttpResponse, Error = BoxError>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = BoxFuture<Result<HttpResponse, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        // The clone that was polled ready serves this request (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let max = self.max_request_bytes;
        let max_batch_len = self.max_batch_len as usize;
        if !inspects(&request, max) {
            return Box::pin(inner.call(request.map(HttpBody::new)));
        }
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let bytes = match Limited::new(body, max as usize).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                    return Ok(response::too_large(max));
                }
                Err(e) => {
                    debug!(error = %e, "reading a request body failed");
                    return Ok(response::internal_error());
                }
            };
            let forward = |body: Vec<u8>| {
                let mut parts = parts.clone();
                parts.headers.insert(
                    http::header::CONTENT_LENGTH,
                    http::HeaderValue::from(body.len()),
                );
                HttpRequest::from_parts(parts, HttpBody::from(body))
            };
            match classify(&bytes) {
                Verdict::Batch(batch) if batch.elements.len() > max_batch_len => {
                    inner.call(forward(bytes.to_vec())).await
                }
                Verdict::Forward { only_notifications } => {
                    let reply = inner.call(forward(bytes.to_vec())).await?;
                    Ok(if only_notifications && reply.status().is_success() {
                        no_content()
                    } else {
                        reply
                    })
                }
                Verdict::Answer(body) => Ok(response::ok_response(body)),
                Verdict::Batch(batch) => {
                    let answers = match batch.forward() {
                        None => Vec::new(),
                        Some(body) => {
                            let reply = inner.call(forward(body)).await?;
                            let (head, body) = reply.into_parts();
                            let body = body.collect().await?.to_bytes();
                            match serde_json::from_slice::<Vec<Box<RawValue>>>(&body) {
                                Ok(answers) => answers,
                                // Not an array: the whole batch was refused (too large, or its
                                // response too large); that answer stands for the batch.
                                Err(_) => {
                                    return Ok(HttpResponse::from_parts(
                                        head,
                                        HttpBody::from(body.to_vec()),
                                    ));
                                }
                            }
                        }
                    };
                    Ok(match batch.merge(answers) {
                        Some(body) => response::ok_response(body),
                        None => no_content(),
                    })
                }
            }
        })
    }
}

/// Whether the middleware reads this request's body: a JSON `POST` whose declared length (if
/// any) is within the limit (jsonrpsee answers the others as before: 405, 415, 413, WebSocket
/// upgrades).
fn inspects<B>(request: &HttpRequest<B>, max: u32) -> bool {
    request.method() == http::Method::POST
        && jsonrpsee::server::http::is_json(request.headers().get(http::header::CONTENT_TYPE))
        && request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_none_or(|len| len <= u64::from(max))
}

fn no_content() -> HttpResponse {
    let mut reply = HttpResponse::new(HttpBody::empty());
    *reply.status_mut() = http::StatusCode::NO_CONTENT;
    reply
}

/// What to do with a request body.
#[derive(Debug)]
pub enum Verdict {
    /// Well-formed (or not JSON at all): jsonrpsee answers it. `only_notifications`: nothing in
    /// it expects an answer.
    Forward {
        /// Every element is a notification.
        only_notifications: bool,
    },
    /// Answer with this JSON body without calling jsonrpsee.
    Answer(String),
    /// A batch with malformed elements.
    Batch(MixedBatch),
}

/// A batch with some malformed elements: the well-formed ones go to jsonrpsee, the answers are
/// merged back in order.
#[derive(Debug)]
pub struct MixedBatch {
    elements: Vec<Element>,
}

#[derive(Debug)]
enum Element {
    /// A well-formed call (raw JSON), answered by jsonrpsee.
    Call(String),
    /// A well-formed notification (raw JSON), not answered.
    Notification(String),
    /// A malformed element and its error response.
    Invalid(String),
}

impl MixedBatch {
    /// The batch of well-formed elements to pass on, if any.
    fn forward(&self) -> Option<Vec<u8>> {
        let valid: Vec<&str> = self
            .elements
            .iter()
            .filter_map(|e| match e {
                Element::Call(raw) | Element::Notification(raw) => Some(raw.as_str()),
                Element::Invalid(_) => None,
            })
            .collect();
        (!valid.is_empty()).then(|| format!("[{}]", valid.join(",")).into_bytes())
    }

    /// The batch response: jsonrpsee's `answers` (one per call, in order) with the errors of
    /// the malformed elements in their places. None: nothing to answer.
    fn merge(self, answers: Vec<Box<RawValue>>) -> Option<String> {
        let mut answers = answers.into_iter();
        let mut out: Vec<String> = Vec::with_capacity(self.elements.len());
        for element in self.elements {
            match element {
                Element::Call(_) => {
                    if let Some(answer) = answers.next() {
                        out.push(answer.get().to_string());
                    }
                }
                Element::Notification(_) => {}
                Element::Invalid(error) => out.push(error),
            }
        }
        out.extend(answers.map(|a| a.get().to_string()));
        (!out.is_empty()).then(|| format!("[{}]", out.join(",")))
    }
}

/// Classifies a request body (see the module docs).
pub fn classify(body: &[u8]) -> Verdict {
    let Ok(text) = std::str::from_utf8(body) else {
        return Verdict::Forward {
            only_notifications: false,
        };
    };
    let Ok(value) = serde_json::from_str::<&RawValue>(text) else {
        // Not JSON: jsonrpsee's -32700.
        return Verdict::Forward {
            only_notifications: false,
        };
    };
    let raw = value.get();
    match raw.as_bytes().first() {
        Some(b'{') => match check(raw) {
            Ok(notification) => Verdict::Forward {
                only_notifications: notification,
            },
            Err(error) => Verdict::Answer(error),
        },
        Some(b'[') => {
            let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(raw) else {
                return Verdict::Forward {
                    only_notifications: false,
                };
            };
            if items.is_empty() {
                // jsonrpsee answers an empty batch with -32600.
                return Verdict::Forward {
                    only_notifications: false,
                };
            }
            let mut all_valid = true;
            let mut all_notifications = true;
            let elements: Vec<Element> = items
                .iter()
                .map(|item| match check(item.get()) {
                    Ok(true) => Element::Notification(item.get().to_string()),
                    Ok(false) => {
                        all_notifications = false;
                        Element::Call(item.get().to_string())
                    }
                    Err(error) => {
                        all_valid = false;
                        all_notifications = false;
                        Element::Invalid(error)
                    }
                })
                .collect();
            if all_valid {
                Verdict::Forward {
                    only_notifications: all_notifications,
                }
            } else {
                Verdict::Batch(MixedBatch { elements })
            }
        }
        _ => Verdict::Answer(invalid_request("null", "not a request object or batch")),
    }
}

/// A member that may be absent, present with any value (`null` included).
#[derive(Debug, Default)]
struct Member<'a>(Option<&'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for Member<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'a RawValue>::deserialize(d).map(|v| Member(Some(v)))
    }
}

/// The members of a request object that matter; serde refuses duplicates of these.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default, borrow)]
    jsonrpc: Member<'a>,
    #[serde(default, borrow)]
    id: Member<'a>,
    #[serde(default, borrow)]
    method: Member<'a>,
    #[serde(default, borrow)]
    params: Member<'a>,
}

/// Only the id, to answer a malformed object with its id where it has a readable one.
#[derive(Deserialize)]
struct IdOnly<'a> {
    #[serde(default, borrow)]
    id: Member<'a>,
}

/// Checks one request object: `Ok(true)` a well-formed notification, `Ok(false)` a well-formed
/// call, `Err(error response)` malformed.
fn check(raw: &str) -> Result<bool, String> {
    if !raw.starts_with('{') {
        return Err(invalid_request("null", "not a request object"));
    }
    let envelope = match serde_json::from_str::<Envelope<'_>>(raw) {
        Ok(e) => e,
        Err(e) => {
            let id = serde_json::from_str::<IdOnly<'_>>(raw)
                .ok()
                .and_then(|o| o.id.0)
                .filter(|id| echoable(id))
                .map_or("null", |id| id.get());
            return Err(invalid_request(id, &e.to_string()));
        }
    };
    let id = envelope.id.0;
    let echo = id.filter(|id| echoable(id)).map_or("null", |id| id.get());
    let version = envelope
        .jsonrpc
        .0
        .and_then(|v| serde_json::from_str::<Cow<'_, str>>(v.get()).ok());
    if version.as_deref() != Some("2.0") {
        return Err(invalid_request(echo, "`jsonrpc` must be \"2.0\""));
    }
    let method_is_string = envelope
        .method
        .0
        .is_some_and(|m| serde_json::from_str::<Cow<'_, str>>(m.get()).is_ok());
    if !method_is_string {
        return Err(invalid_request(echo, "`method` must be a string"));
    }
    if let Some(params) = envelope.params.0 {
        if !matches!(params.get().as_bytes().first(), Some(b'[' | b'{' | b'n')) {
            return Err(invalid_request(
                echo,
                "`params` must be an array or an object",
            ));
        }
    }
    match id {
        None => Ok(true),
        Some(id) if carried(id) => Ok(false),
        Some(_) => Err(invalid_request(
            echo,
            "`id` must be a string, null or an unsigned 64-bit integer",
        )),
    }
}

/// Whether jsonrpsee carries this id: a string, null or an integer in `0..2^64`.
fn carried(id: &RawValue) -> bool {
    let raw = id.get();
    raw == "null" || raw.starts_with('"') || raw.parse::<u64>().is_ok()
}

/// Whether an id can be echoed in an error: a string, null or an integer (of any size).
fn echoable(id: &RawValue) -> bool {
    let raw = id.get();
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    raw == "null"
        || raw.starts_with('"')
        || (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// A `-32600 Invalid request` response with the raw `id` and the reason in `data`.
fn invalid_request(id: &str, reason: &str) -> String {
    let reason = serde_json::Value::String(reason.to_string());
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{INVALID_REQUEST},"message":"Invalid request","data":{reason}}}}}"#
    )
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn answer(body: &str) -> Value {
        match classify(body.as_bytes()) {
            Verdict::Answer(json) => serde_json::from_str(&json).expect("JSON answer"),
            other => panic!("{body}: expected an answer, got {other:?}"),
        }
    }

    fn assert_invalid(body: &str, id: Value) {
        let answer = answer(body);
        assert_eq!(answer["jsonrpc"], "2.0", "{body}");
        assert_eq!(answer["id"], id, "{body}");
        assert_eq!(answer["error"]["code"], INVALID_REQUEST, "{body}");
        assert_eq!(answer["error"]["message"], "Invalid request", "{body}");
        assert!(answer.get("result").is_none());
    }

    fn assert_forward(body: &str, notifications: bool) {
        match classify(body.as_bytes()) {
            Verdict::Forward { only_notifications } => {
                assert_eq!(only_notifications, notifications, "{body}")
            }
            other => panic!("{body}: expected to be passed on, got {other:?}"),
        }
    }

    #[test]
    fn duplicate_id_is_invalid_with_null_id() {
        assert_invalid(
            r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"eth_chainId"}"#,
            Value::Null,
        );
    }

    #[test]
    fn duplicate_method_or_version_is_invalid_with_its_id() {
        assert_invalid(
            r#"{"jsonrpc":"2.0","id":7,"method":"eth_chainId","method":"eth_blockNumber"}"#,
            json!(7),
        );
        assert_invalid(
            r#"{"jsonrpc":"2.0","id":"a","method":"eth_chainId","jsonrpc":"2.0"}"#,
            json!("a"),
        );
    }

    #[test]
    fn negative_and_huge_ids_are_invalid_and_echoed() {
        assert_invalid(
            r#"{"jsonrpc":"2.0","id":-1,"method":"eth_chainId"}"#,
            json!(-1),
        );
        let huge = r#"{"jsonrpc":"2.0","id":18446744073709551616,"method":"eth_chainId"}"#;
        let answer = answer(huge);
        assert_eq!(answer["error"]["code"], INVALID_REQUEST);
        assert!(answer["id"].is_number(), "{answer}");
    }

    #[test]
    fn fractional_and_structured_ids_are_invalid_with_null_id() {
        for id in ["1.5", "{}", "[1]", "true"] {
            assert_invalid(
                &format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"eth_chainId"}}"#),
                Value::Null,
            );
        }
    }

    #[test]
    fn string_params_are_invalid() {
        assert_invalid(
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":"xx"}"#,
            json!(1),
        );
    }

    #[test]
    fn missing_or_wrong_version_and_method_are_invalid() {
        assert_invalid(r#"{"id":1,"method":"eth_chainId"}"#, json!(1));
        assert_invalid(
            r#"{"jsonrpc":"1.0","id":1,"method":"eth_chainId"}"#,
            json!(1),
        );
        assert_invalid(r#"{"jsonrpc":"2.0","id":1,"method":42}"#, json!(1));
        assert_invalid(r#"{"jsonrpc":"2.0","id":1}"#, json!(1));
        assert_invalid(r#"{}"#, Value::Null);
        assert_invalid(
            r#"{"jsonrpc":"2.0","method":1,"params":"bar"}"#,
            Value::Null,
        );
    }

    #[test]
    fn scalars_are_invalid_requests() {
        for body in ["42", "null", "true", "\"eth_chainId\""] {
            assert_invalid(body, Value::Null);
        }
    }

    #[test]
    fn well_formed_requests_pass_unchanged() {
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#,
            r#"{"jsonrpc":"2.0","id":"x","method":"eth_chainId","params":[]}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"eth_chainId","params":null}"#,
            r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"eth_getBalance","params":{"a":1}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","extra":{"id":5}}"#,
            r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":2,"method":"eth_blockNumber"}]"#,
            "not json",
            r#"{"jsonrpc":"2.0","id":1,"method""#,
            "[]",
        ] {
            assert_forward(body, false);
        }
        assert_forward(r#"{"jsonrpc":"2.0","method":"eth_chainId"}"#, true);
        assert_forward(r#"[{"jsonrpc":"2.0","method":"eth_chainId"}]"#, true);
    }

    fn batch(body: &str) -> MixedBatch {
        match classify(body.as_bytes()) {
            Verdict::Batch(b) => b,
            other => panic!("{body}: expected a mixed batch, got {other:?}"),
        }
    }

    #[test]
    fn batch_with_only_malformed_elements_is_answered_per_element() {
        let b = batch(r#"[{"jsonrpc":"2.0","id":-1,"method":"0x0001","params":"xx"}]"#);
        assert!(b.forward().is_none());
        let merged: Value =
            serde_json::from_str(&b.merge(Vec::new()).expect("an answer")).expect("JSON");
        let items = merged.as_array().expect("an array");
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["id"], json!(-1));
        assert_eq!(items[0]["error"]["code"], INVALID_REQUEST);
    }

    #[test]
    fn mixed_batch_keeps_the_order_and_skips_notifications() {
        let b = batch(
            r#"[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","id":2,"id":3,"method":"b"},{"jsonrpc":"2.0","method":"n"},5,{"jsonrpc":"2.0","id":4,"method":"c"}]"#,
        );
        let forwarded: Value =
            serde_json::from_slice(&b.forward().expect("valid elements")).expect("JSON");
        assert_eq!(forwarded.as_array().map(Vec::len), Some(3));
        let answers: Vec<Box<RawValue>> = vec![
            RawValue::from_string(r#"{"jsonrpc":"2.0","id":1,"result":"0x1"}"#.into()).unwrap(),
            RawValue::from_string(r#"{"jsonrpc":"2.0","id":4,"result":"0x4"}"#.into()).unwrap(),
        ];
        let merged: Value = serde_json::from_str(&b.merge(answers).expect("answers")).unwrap();
        let ids: Vec<Value> = merged
            .as_array()
            .expect("array")
            .iter()
            .map(|a| a["id"].clone())
            .collect();
        assert_eq!(ids, vec![json!(1), Value::Null, Value::Null, json!(4)]);
        assert_eq!(merged[1]["error"]["code"], INVALID_REQUEST);
        assert_eq!(merged[2]["error"]["code"], INVALID_REQUEST);
    }
}
