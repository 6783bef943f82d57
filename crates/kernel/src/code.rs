//! Every error code Kazna answers, in one table: each code has one HTTP status and one title,
//! so a code means the same thing wherever it comes from. `docs/errors.md` is this table
//! (a test keeps the two the same).

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! codes {
    ($($variant:ident = ($code:literal, $status:literal, $title:literal),)+) => {
        /// A stable, machine-readable error code: the `code` of every problem document.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum Code {
            $(#[doc = $title] $variant,)+
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code),+
                }
            }

            pub fn status(self) -> StatusCode {
                let status: u16 = match self {
                    $(Code::$variant => $status),+
                };
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }

            pub const fn title(self) -> &'static str {
                match self {
                    $(Code::$variant => $title),+
                }
            }
        }
    };
}

codes! {
    // Requests the server cannot read.
    BadRequest = ("bad_request", 400, "The request is malformed"),
    MalformedJson = ("malformed_json", 400, "The body is not valid JSON"),
    InvalidParameter = ("invalid_parameter", 400, "A path or query parameter is not valid"),
    IdempotencyKeyRequired = ("idempotency_key_required", 400, "Send an Idempotency-Key header of 1 to 255 visible characters"),
    InvalidSignature = ("invalid_signature", 400, "The webhook signature is missing, wrong or too old"),
    InvalidWebhook = ("invalid_webhook", 400, "The webhook body is not an event"),
    // Who is asking.
    Unauthorized = ("unauthorized", 401, "A valid access token is required"),
    InvalidCredentials = ("invalid_credentials", 401, "The email or the password is wrong"),
    InvalidToken = ("invalid_token", 401, "The token is invalid, expired or already used"),
    Forbidden = ("forbidden", 403, "You are not allowed to do this"),
    // What is asked for.
    NotFound = ("not_found", 404, "Not found"),
    MethodNotAllowed = ("method_not_allowed", 405, "This method is not allowed here"),
    PayloadTooLarge = ("payload_too_large", 413, "The body is too large"),
    UnsupportedMediaType = ("unsupported_media_type", 415, "Send the body as application/json"),
    // Bodies that parse but do not make sense.
    InvalidBody = ("invalid_body", 422, "The body does not have the expected fields and types"),
    ValidationFailed = ("validation_failed", 422, "The request has invalid fields"),
    IdempotencyKeyReused = ("idempotency_key_reused", 422, "This Idempotency-Key was used with a different request body"),
    CartEmpty = ("cart_empty", 422, "The cart is empty"),
    // The state of things says no.
    EmailTaken = ("email_taken", 409, "This email is already registered"),
    SkuTaken = ("sku_taken", 409, "A variant with this SKU exists"),
    CategoryCycle = ("category_cycle", 409, "A category cannot be placed under itself or one of its descendants"),
    CategoryInUse = ("category_in_use", 409, "The category has subcategories or products; pass reassign_to to move them"),
    InsufficientStock = ("insufficient_stock", 409, "Not enough stock"),
    StockBelowReserved = ("stock_below_reserved", 409, "Stock cannot go below the units reserved for unpaid orders, nor below zero"),
    ReservationNotHeld = ("reservation_not_held", 409, "The reservation is not held (released or expired)"),
    CurrencyMismatch = ("currency_mismatch", 409, "The cart already holds items priced in another currency"),
    CartFull = ("cart_full", 409, "A cart holds at most 100 lines"),
    CartChanged = ("cart_changed", 409, "Lines of the cart changed since they were added (off sale, deleted, short of stock or repriced); look at them first"),
    IdempotencyInProgress = ("idempotency_in_progress", 409, "A request with this Idempotency-Key is still being processed"),
    InvalidTransition = ("invalid_transition", 409, "The order cannot go from its current status to the one asked for"),
    OrderNotPayable = ("order_not_payable", 409, "Only an order awaiting payment can be paid"),
    PaymentInProgress = ("payment_in_progress", 409, "A payment of this order is still being processed"),
    NotRefundable = ("not_refundable", 409, "Only a payment that took money can be refunded"),
    RefundTooLarge = ("refund_too_large", 409, "Refunds cannot exceed what was captured"),
    NotRetryable = ("not_retryable", 409, "Only a message that failed can be sent again"),
    ReindexRunning = ("reindex_running", 409, "A reindex of this search instance is already running"),
    // Slow down.
    TooManyAttempts = ("too_many_attempts", 429, "Too many failed sign-ins; try again later"),
    TooManyRequests = ("too_many_requests", 429, "Too many requests; try again later"),
    // Ours, not the client's.
    InternalError = ("internal_error", 500, "Something went wrong on our side"),
    BadGateway = ("bad_gateway", 502, "The service behind this path did not answer"),
    ServiceUnavailable = ("service_unavailable", 503, "A service this needs is unavailable for a moment"),
    GatewayTimeout = ("gateway_timeout", 504, "The service behind this path took too long"),
}

impl Code {
    /// The code of a code string another service answered with, if it is one of ours.
    pub fn parse(code: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == code)
    }

    /// The code for an error status that came with nothing more specific (a framework's
    /// rejection): the generic code of that status, or of its class.
    pub fn for_status(status: StatusCode) -> Code {
        match status.as_u16() {
            401 => Code::Unauthorized,
            403 => Code::Forbidden,
            404 => Code::NotFound,
            405 => Code::MethodNotAllowed,
            413 => Code::PayloadTooLarge,
            415 => Code::UnsupportedMediaType,
            422 => Code::InvalidBody,
            429 => Code::TooManyRequests,
            502 => Code::BadGateway,
            503 => Code::ServiceUnavailable,
            504 => Code::GatewayTimeout,
            s if s >= 500 => Code::InternalError,
            _ => Code::BadRequest,
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `docs/errors.md`: the table as published.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Error codes\n\n\
         Every error answer is an RFC 9457 problem document (`application/problem+json`) with a \
         stable `code`.\nEach code has one HTTP status and one title; `detail` says more about \
         the case at hand, and\n`validation_failed` lists each bad field in `errors`. This page \
         is generated from\n`crates/kernel/src/code.rs` (a test fails when the two differ; \
         `KAZNA_BLESS=1 cargo test -p kazna-kernel`\nwrites it anew).\n\n\
         | code | status | title |\n|---|---|---|\n",
    );
    for c in Code::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            c.as_str(),
            c.status().as_u16(),
            c.title()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_their_serde_names() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{} twice", c.as_str());
            assert!(
                c.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            assert_eq!(Code::parse(c.as_str()), Some(*c));
            assert!(c.status().is_client_error() || c.status().is_server_error());
        }
    }

    #[test]
    fn a_bare_status_gets_a_code_of_that_status() {
        for s in [
            400, 401, 403, 404, 405, 406, 413, 415, 422, 429, 500, 502, 503, 504,
        ] {
            let status = StatusCode::from_u16(s).unwrap();
            let code = Code::for_status(status);
            let same_class = code.status().as_u16() / 100 == s / 100;
            assert!(code.status() == status || (same_class && s == 406), "{s}");
        }
    }

    #[test]
    fn docs_errors_md_is_the_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/errors.md");
        let want = markdown();
        if std::env::var_os("KAZNA_BLESS").is_some() {
            std::fs::write(path, &want).unwrap();
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "docs/errors.md differs from the code table; run KAZNA_BLESS=1 cargo test -p kazna-kernel"
        );
    }
}
