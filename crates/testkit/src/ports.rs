//! Ports for servers a test names before they start.

use std::net::TcpListener;

/// Where the system's own port choices start (`bind(":0")` and outgoing connections), when
/// it does not say.
const EPHEMERAL_FROM: u16 = 32768;
/// The lowest port handed out.
const FLOOR: u16 = 10_000;

/// A port that is free now, for a server the test starts later. It comes from below the
/// range the system picks from for outgoing connections and `bind(":0")`, so none of those
/// (a busy test opens many) can take it before the server binds it; where to start looking
/// is random, so tests running at once seldom pick the same.
pub fn free_port() -> u16 {
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(EPHEMERAL_FROM);
    let span = u32::from(ephemeral.saturating_sub(FLOOR).max(1));
    let start = (uuid::Uuid::new_v4().as_u128() % u128::from(span)) as u32;
    (0..span)
        .filter_map(|i| u16::try_from(u32::from(FLOOR) + (start + i) % span).ok())
        .find(|&port| TcpListener::bind(("127.0.0.1", port)).is_ok())
        .or_else(|| {
            let any = TcpListener::bind("127.0.0.1:0").ok()?;
            Some(any.local_addr().ok()?.port())
        })
        .expect("a free port")
}
