//! Email through a real SMTP server (aiosmtpd, started here by the project's own script
//! `scripts/smtp-sink.py`, installed by `scripts/test-tools.sh`): it arrives with both parts,
//! the right From, To and Subject, and a link that works; a mailbox the server refuses for
//! good fails at once while the others go out.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use kazna_kernel::Role;
use kazna_notifications::{EmailBackend, NotificationsSettings};
use kazna_testkit::{PASSWORD, TestApp, eventually};
use reqwest::{Method, StatusCode};

/// The SMTP server, for as long as the test holds it.
struct SmtpSink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn start_sink() -> SmtpSink {
    let python = std::env::var_os("KAZNA_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/test-venv/bin/python"));
    assert!(
        python.exists(),
        "no {python:?}: run scripts/test-tools.sh (scripts/test.sh does)"
    );
    let port = kazna_testkit::free_port();
    let dir = tempfile::tempdir().expect("a mail directory");
    let mut child = Command::new(python)
        .arg(workspace().join("scripts/smtp-sink.py"))
        .args(["--port", &port.to_string(), "--dir"])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the SMTP server starts");
    let mut ready = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut ready)
        .expect("the SMTP server says it is ready");
    assert_eq!(ready.trim(), "ready");
    SmtpSink { child, port, dir }
}

/// The messages the server received for `to`.
fn received(dir: &Path, to: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .filter(|m| m.contains(&format!("X-Envelope-To: {to}")))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn email_goes_through_a_real_smtp_server_with_both_parts_and_a_working_link() {
    let sink = start_sink();
    let url = format!("smtp://127.0.0.1:{}?tls=none", sink.port);
    let app = TestApp::spawn_with(|s| {
        s.update::<NotificationsSettings>(|n| {
            n.email_backend = EmailBackend::Smtp;
            n.smtp.url = kazna_kernel::Secret::new(url.clone());
            n.from = "Kazna Shop <shop@kazna.test>".into();
            n.retry_base_ms = 50;
        })
        .expect("notifications settings");
    })
    .await;
    let admin = app.account_with_role("root@example.com", Role::Admin).await;
    assert_eq!(
        app.register("ada@example.com", PASSWORD).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.register("nobody@example.com", PASSWORD).await.status,
        StatusCode::CREATED
    );

    let mail = eventually(15, || async {
        received(sink.dir.path(), "ada@example.com").pop()
    })
    .await
    .expect("the email reached the SMTP server");
    assert!(mail.contains("X-Envelope-From: shop@kazna.test"), "{mail}");
    assert!(
        mail.contains("From: \"Kazna Shop\" <shop@kazna.test>")
            || mail.contains("From: Kazna Shop <shop@kazna.test>"),
        "{mail}"
    );
    assert!(mail.contains("To: ada@example.com"), "{mail}");
    assert!(
        mail.contains("Subject: Confirm your email address"),
        "{mail}"
    );
    assert!(mail.contains("multipart/alternative"), "{mail}");
    assert!(mail.contains("Content-Type: text/plain"), "{mail}");
    assert!(mail.contains("Content-Type: text/html"), "{mail}");

    // The link in it works: the page it opens confirms the address.
    let unfolded = mail.replace("=\r\n", "").replace("=3D", "=");
    let at = unfolded.find("/verify-email?token=").expect("the link");
    let token: String = unfolded[at + "/verify-email?token=".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let page = app
        .http
        .get(format!("{}/verify-email?token={token}", app.base))
        .send()
        .await
        .expect("opened");
    assert_eq!(page.status(), StatusCode::OK);
    // The form is sent back as the browser would, with the CSRF token its page set.
    let csrf = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("kazna_csrf="))
        .and_then(|c| c.split(';').next())
        .expect("the page's CSRF cookie")
        .to_owned();
    let confirmed = app
        .http
        .post(format!("{}/verify-email", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("kazna_csrf={csrf}"))
        .body(format!("token={token}&csrf={csrf}"))
        .send()
        .await
        .expect("confirmed");
    assert_eq!(confirmed.status(), StatusCode::OK);
    let me = app.login("ada@example.com", PASSWORD).await;
    let profile = app
        .call(Method::GET, "/api/v1/users/me", Some(&me), None)
        .await;
    assert_eq!(profile.body["email_verified"], true);

    // The log tells what happened to each: sent with the server's id, or failed for good.
    let log = eventually(15, || async {
        let log = app
            .call(
                Method::GET,
                "/api/v1/notifications?event=user.verification_requested",
                Some(&admin),
                None,
            )
            .await;
        let items = log.body["items"].as_array()?.clone();
        let done = items
            .iter()
            .filter(|d| d["status"] == "sent" || d["status"] == "failed")
            .count();
        (done >= 2).then_some(items)
    })
    .await
    .expect("both messages are done");
    let ada = log
        .iter()
        .find(|d| d["recipient"] == "ada@example.com")
        .expect("ada");
    assert_eq!(
        (ada["status"].as_str(), ada["provider"].as_str()),
        (Some("sent"), Some("smtp"))
    );
    assert!(
        ada["provider_message_id"]
            .as_str()
            .is_some_and(|id| id.contains("queued as sink")),
        "{ada}"
    );
    let nobody = log
        .iter()
        .find(|d| d["recipient"] == "nobody@example.com")
        .expect("nobody");
    assert_eq!(nobody["status"], "failed", "{nobody}");
    assert_eq!(nobody["attempts"], 1, "refused for good: not retried");
    assert!(
        nobody["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("No such mailbox")),
        "{nobody}"
    );
    app.stop().await;
}
