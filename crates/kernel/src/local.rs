//! Services running in this process, by base URL.
//!
//! When `kazna up` runs the whole platform in one process, the gateway and the service client
//! hand a request to the owning service's router directly instead of over loopback HTTP.
//! Everything else runs as it would over the network: the service's layers, extractors and
//! handlers, the headers the gateway sets and strips. A process running one service per
//! container registers nothing, and every call goes over the network.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use axum::Router;

#[derive(Clone, Default)]
pub struct LocalServices(Arc<RwLock<HashMap<String, Router>>>);

impl LocalServices {
    /// From now on, requests for `base_url` (`http://host:port`) go to `router`.
    pub fn register(&self, base_url: &str, router: Router) {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        map.insert(base_url.trim_end_matches('/').to_owned(), router);
    }

    /// The router of the service at `base_url`, if it runs in this process.
    pub fn get(&self, base_url: &str) -> Option<Router> {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        map.get(base_url.trim_end_matches('/')).cloned()
    }

    /// For a full URL: the local router of its service and the URL's path and query.
    pub fn route(&self, url: &str) -> Option<(Router, String)> {
        let (base, path) = split(url)?;
        Some((self.get(base)?, path.to_owned()))
    }
}

/// The path and query of a full URL (`/` when it has none); the URL itself when it is not one.
pub fn path_of(url: &str) -> &str {
    split(url).map_or(url, |(_, path)| path)
}

/// `http://host:port/path?q` into `http://host:port` and `/path?q`.
fn split(url: &str) -> Option<(&str, &str)> {
    let authority = url.find("://")? + 3;
    match url[authority..].find('/') {
        Some(i) => Some(url.split_at(authority + i)),
        None => Some((url, "/")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_splits_into_its_service_and_its_path() {
        assert_eq!(
            split("http://127.0.0.1:8082/internal/variants?ids=a,b"),
            Some(("http://127.0.0.1:8082", "/internal/variants?ids=a,b"))
        );
        assert_eq!(
            split("http://catalog:8080"),
            Some(("http://catalog:8080", "/"))
        );
        assert_eq!(split("no scheme"), None);
    }

    #[test]
    fn only_registered_services_are_local() {
        let local = LocalServices::default();
        local.register("http://127.0.0.1:8082/", Router::new());
        assert!(local.route("http://127.0.0.1:8082/internal/x").is_some());
        assert!(local.route("http://127.0.0.1:8083/internal/x").is_none());
        assert!(local.get("http://127.0.0.1:8082").is_some());
    }
}
