//! `kazna probe`: whether a service answers, for a container's health check where no curl
//! exists. A plain HTTP/1.0 GET over TCP; 2xx within the time allowed is healthy.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// The status `url` (`http://host:port/path`) answers with, within `within`.
pub async fn status(url: &str, within: Duration) -> Result<u16, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs are probed"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let ask = async {
        let mut conn = TcpStream::connect(authority)
            .await
            .map_err(|e| format!("{authority}: {e}"))?;
        let request =
            format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
        conn.write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut head = [0u8; 64];
        let n = conn.read(&mut head).await.map_err(|e| e.to_string())?;
        let line = String::from_utf8_lossy(&head[..n]);
        line.split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| format!("{url}: not an HTTP answer"))
    };
    tokio::time::timeout(within, ask)
        .await
        .map_err(|_| format!("{url}: no answer within {within:?}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_s_status_is_read_and_silence_is_an_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut c, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 256];
            let _ = c.read(&mut buf).await;
            c.write_all(b"HTTP/1.1 503 Service Unavailable\r\n\r\n")
                .await
                .unwrap();
        });
        let url = format!("http://{addr}/health/live");
        assert_eq!(status(&url, Duration::from_secs(2)).await, Ok(503));
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", silent.local_addr().unwrap());
        assert!(status(&url, Duration::from_millis(200)).await.is_err());
        assert!(
            status("https://x/", Duration::from_millis(200))
                .await
                .is_err()
        );
    }
}
