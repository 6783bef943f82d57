//! Which service owns which public path. Nothing under `/internal/` is ever routed.

use kazna_kernel::config::ServiceMap;

/// Public path prefixes and the service that owns each.
pub fn table(s: &ServiceMap) -> Vec<(&'static str, String)> {
    let u = |e: &kazna_kernel::config::Endpoint| e.url.trim_end_matches('/').to_owned();
    vec![
        ("/api/v1/auth", u(&s.users)),
        ("/api/v1/users", u(&s.users)),
        ("/.well-known/jwks.json", u(&s.users)),
        ("/api/v1/products", u(&s.catalog)),
        ("/api/v1/variants", u(&s.catalog)),
        ("/api/v1/categories", u(&s.catalog)),
        ("/api/v1/search", u(&s.search)),
        ("/api/v1/cart", u(&s.cart)),
        ("/api/v1/orders", u(&s.orders)),
        ("/api/v1/payments", u(&s.payments)),
        ("/webhooks/payments", u(&s.payments)),
        ("/api/v1/notifications", u(&s.notifications)),
    ]
}

/// Whether `path` is a page of the storefront: anything outside the API's own prefixes (and
/// never under `/internal/`).
pub fn is_page(path: &str) -> bool {
    let api = ["/api", "/webhooks", "/.well-known"]
        .iter()
        .any(|p| path == *p || path.strip_prefix(p).is_some_and(|r| r.starts_with('/')));
    !api && path.starts_with('/') && !path.split('/').any(|seg| seg == ".." || seg == "internal")
}

/// The upstream base URL for `path`, matching whole path segments only.
pub fn upstream<'a>(table: &'a [(&'static str, String)], path: &str) -> Option<&'a str> {
    if path.split('/').any(|seg| seg == ".." || seg == "internal") {
        return None;
    }
    table
        .iter()
        .find(|(prefix, _)| {
            path == *prefix
                || path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
        .map(|(_, url)| url.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Vec<(&'static str, String)> {
        table(&kazna_kernel::Settings::default().services)
    }

    #[test]
    fn public_paths_go_to_their_owner() {
        let t = t();
        assert_eq!(
            upstream(&t, "/api/v1/orders"),
            Some("http://127.0.0.1:8085")
        );
        assert_eq!(
            upstream(&t, "/api/v1/orders/abc/pay"),
            Some("http://127.0.0.1:8085")
        );
        assert_eq!(
            upstream(&t, "/api/v1/cart/items"),
            Some("http://127.0.0.1:8084")
        );
        assert_eq!(
            upstream(&t, "/.well-known/jwks.json"),
            Some("http://127.0.0.1:8081")
        );
        assert_eq!(
            upstream(&t, "/webhooks/payments/sandbox"),
            Some("http://127.0.0.1:8086")
        );
    }

    #[test]
    fn everything_outside_the_api_is_a_storefront_page() {
        for page in [
            "/",
            "/search",
            "/products/1",
            "/verify-email",
            "/static/app.css",
        ] {
            assert!(is_page(page), "{page}");
        }
        for api in [
            "/api",
            "/api/v2/orders",
            "/webhooks/payments/x",
            "/.well-known/other",
            "/internal/carts/x",
            "/a/../internal/x",
        ] {
            assert!(!is_page(api), "{api}");
        }
    }

    #[test]
    fn internal_and_unknown_paths_are_never_routed() {
        let t = t();
        for path in [
            "/internal/reservations",
            "/api/v1/orders/../../internal/carts/x",
            "/api/v1/cart/internal",
            "/api/v1/ordersx",
            "/api/v2/orders",
            "/metrics",
            "/",
        ] {
            assert_eq!(upstream(&t, path), None, "{path}");
        }
    }
}
