//! Distributed traces: spans with W3C trace context, carried across HTTP in `traceparent` and
//! across events in an AMQP header of the same name, exported over OTLP (see [`otlp`]).
//!
//! The span being worked in is a task-local, like the request id: [`Span::scope`] makes a
//! span current for a future, [`Span::child`] starts one under the current span, and
//! [`traceparent`] is what an outgoing call or event carries. With no exporter installed
//! (no `telemetry.otlp_endpoint`) spans are inert and cost nothing.

pub mod otlp;
mod server;

use std::{borrow::Cow, fmt::Write, future::Future, time::SystemTime};

pub use server::{close, open, template};

/// The W3C header (and AMQP header) that carries a span's context to another service.
pub const HEADER: &str = "traceparent";

/// Where a span sits in a trace: its trace, its own id, and whether it is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub sampled: bool,
}

impl Context {
    /// Reads a `traceparent` value (`00-<trace id>-<span id>-<flags>`). Anything else, or
    /// an all-zero id, is no context: the span starts a trace of its own.
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('-');
        let (version, trace, span, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        // Version 00 has exactly four fields; a later version may add some after them.
        if version.len() != 2 || version == "ff" || (version == "00" && parts.next().is_some()) {
            return None;
        }
        from_hex::<1>(version)?;
        let trace_id = from_hex::<16>(trace)?;
        let span_id = from_hex::<8>(span)?;
        let [flags] = from_hex::<1>(flags)?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }

    /// The `traceparent` value that makes a callee's span a child of this one.
    pub fn header(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            hex(&self.trace_id),
            hex(&self.span_id),
            u8::from(self.sampled)
        )
    }

    /// A new span of this trace.
    fn child(&self) -> Self {
        Self {
            span_id: new_id(),
            ..*self
        }
    }

    /// The first span of a new trace, recorded or not as `telemetry.sample_ratio` says.
    fn root() -> Self {
        Self {
            trace_id: new_id(),
            span_id: new_id(),
            sampled: otlp::sample(),
        }
    }
}

fn new_id<const N: usize>() -> [u8; N] {
    loop {
        let id: [u8; N] = rand::random();
        if id != [0; N] {
            return id;
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn from_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    // Lower case only, as the W3C format requires.
    if s.len() != 2 * N || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// What a span stands for, as OpenTelemetry counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Internal = 1,
    /// Serving a request.
    Server = 2,
    /// A request to another service.
    Client = 3,
    /// Publishing an event.
    Producer = 4,
    /// Handling an event.
    Consumer = 5,
}

/// An attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

/// A finished span, as the exporter sends it.
#[derive(Debug, Clone)]
pub struct Finished {
    pub service: Cow<'static, str>,
    pub name: String,
    pub kind: Kind,
    pub context: Context,
    pub parent: Option<[u8; 8]>,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: Vec<(&'static str, Value)>,
    pub links: Vec<Context>,
    /// Set when the work failed, with what went wrong.
    pub error: Option<String>,
}

/// A span being timed. It ends, and is handed to the exporter when recorded, on drop.
pub struct Span(Option<Box<Finished>>);

#[derive(Clone)]
struct Current {
    context: Context,
    service: Cow<'static, str>,
}

tokio::task_local! {
    static CURRENT: Current;
}

impl Span {
    /// A span of `service`: a child of `parent` (a context from another service, or one kept
    /// with a row) when there is one, else of the current span, else the root of a new trace.
    pub fn start(
        service: impl Into<Cow<'static, str>>,
        kind: Kind,
        name: impl Into<String>,
        parent: Option<Context>,
    ) -> Self {
        if !otlp::installed() {
            return Span(None);
        }
        let parent = parent.or_else(|| CURRENT.try_with(|c| c.context).ok());
        let context = parent.map_or_else(Context::root, |p| p.child());
        Span(Some(Box::new(Finished {
            service: service.into(),
            name: name.into(),
            kind,
            context,
            parent: parent.map(|p| p.span_id),
            start: SystemTime::now(),
            end: SystemTime::UNIX_EPOCH,
            attributes: Vec::new(),
            links: Vec::new(),
            error: None,
        })))
    }

    /// A span continuing the trace a row kept (its `traceparent` column), for work that
    /// starts on its own later: a worker's call, a webhook's effect.
    pub fn resume(
        service: impl Into<Cow<'static, str>>,
        kind: Kind,
        name: impl Into<String>,
        kept: Option<&str>,
    ) -> Self {
        Self::start(service, kind, name, kept.and_then(Context::parse))
    }

    /// Puts this span's `traceparent` on an outgoing request, so the callee's span is its
    /// child; an inert span leaves the headers as they are.
    pub fn inject(&self, headers: &mut http::HeaderMap) {
        if let Some(ctx) = self.context()
            && let Ok(v) = http::HeaderValue::from_str(&ctx.header())
        {
            headers.insert(HEADER, v);
        }
    }

    /// A span that records nothing.
    pub fn inert() -> Self {
        Span(None)
    }

    /// A span under the current one, in the same service; inert outside any span. `name` is
    /// called only when the span is recorded, so an untraced call never builds it.
    pub fn child(kind: Kind, name: impl FnOnce() -> String) -> Self {
        match CURRENT.try_with(Clone::clone) {
            Ok(current) => Self::start(current.service, kind, name(), Some(current.context)),
            Err(_) => Span(None),
        }
    }

    /// This span's context, for a callee or an event to carry.
    pub fn context(&self) -> Option<Context> {
        self.0.as_ref().map(|s| s.context)
    }

    pub fn set(&mut self, key: &'static str, value: impl Into<Value>) {
        if let Some(s) = self.0.as_mut() {
            s.attributes.push((key, value.into()));
        }
    }

    /// Marks the span failed, saying why.
    pub fn fail(&mut self, message: impl Into<String>) {
        if let Some(s) = self.0.as_mut() {
            s.error = Some(message.into());
        }
    }

    /// Points at a span of another trace this work follows from (the webhook that told of
    /// a payment, for the payment's own trace).
    pub fn link(&mut self, other: Option<Context>) {
        if let (Some(s), Some(other)) = (self.0.as_mut(), other) {
            s.links.push(other);
        }
    }

    /// Runs `fut` with this span current: the spans it starts are its children, and the
    /// calls and events it makes carry its context.
    pub async fn scope<F: Future>(&self, fut: F) -> F::Output {
        match self.0.as_ref() {
            Some(s) => {
                let current = Current {
                    context: s.context,
                    service: s.service.clone(),
                };
                CURRENT.scope(current, fut).await
            }
            None => fut.await,
        }
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some(mut s) = self.0.take()
            && s.context.sampled
        {
            s.end = SystemTime::now();
            otlp::export(*s);
        }
    }
}

/// `fut` with the current span kept current, for the task it is spawned into (task-locals
/// do not follow a spawned task by themselves).
pub fn carried<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    let current = CURRENT.try_with(Clone::clone).ok();
    async move {
        match current {
            Some(c) => CURRENT.scope(c, fut).await,
            None => fut.await,
        }
    }
}

/// The current span's context: what an outgoing call or event carries.
pub fn current() -> Option<Context> {
    CURRENT.try_with(|c| c.context).ok()
}

/// The current span's `traceparent` value.
pub fn traceparent() -> Option<String> {
    current().map(|c| c.header())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_reads_back_as_it_was_written() {
        let value = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let ctx = Context::parse(value).unwrap();
        assert!(ctx.sampled);
        assert_eq!(ctx.header(), value);
        assert_eq!(hex(&ctx.trace_id), "0af7651916cd43dd8448eb211c80319c");
        let unsampled = Context::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00");
        assert!(!unsampled.unwrap().sampled);
        // A later version may add fields; they are passed over.
        assert!(
            Context::parse("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x").is_some()
        );
    }

    #[test]
    fn a_bad_traceparent_is_no_context() {
        for bad in [
            "",
            "00",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "0g-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b71692033é1-01",
        ] {
            assert_eq!(Context::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_child_keeps_its_trace_and_has_an_id_of_its_own() {
        let parent =
            Context::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
        let child = parent.child();
        assert_eq!(child.trace_id, parent.trace_id);
        assert_ne!(child.span_id, parent.span_id);
        assert!(child.sampled);
    }
}
