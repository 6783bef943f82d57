//! The emails an account calls for, as they leave the shop through the file outbox.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use kazna_kernel::Role;
use kazna_testkit::{TestApp, eventually};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn account_emails_are_sent_for_sign_up_and_password_reset() {
    let app = TestApp::spawn().await;
    let admin = app.account_with_role("root@example.com", Role::Admin).await;
    assert_eq!(
        app.register("grace@example.com", "a long enough secret")
            .await
            .status,
        StatusCode::CREATED
    );
    let reset = app
        .call(
            Method::POST,
            "/api/v1/auth/password-reset",
            None,
            Some(json!({"email": "grace@example.com"})),
        )
        .await;
    assert_eq!(reset.status, StatusCode::ACCEPTED);
    let sent = eventually(15, || async {
        let log = app
            .call(
                Method::GET,
                "/api/v1/notifications?recipient=grace@example.com&status=sent",
                Some(&admin),
                None,
            )
            .await;
        let events: Vec<String> = log.body["items"]
            .as_array()?
            .iter()
            .filter_map(|d| d["event"].as_str().map(str::to_owned))
            .collect();
        (events.len() == 2).then_some(events)
    })
    .await
    .expect("both emails are logged");
    assert!(
        sent.contains(&"user.verification_requested".to_owned()),
        "{sent:?}"
    );
    assert!(
        sent.contains(&"user.password_reset_requested".to_owned()),
        "{sent:?}"
    );
    let outbox = &app.outbox_dir();
    let mails: Vec<String> = std::fs::read_dir(outbox)
        .expect("outbox")
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .filter(|m| m.contains("To: grace@example.com"))
        .collect();
    assert!(mails.iter().any(
        |m| m.contains("Subject: Reset your password") && m.contains("/reset-password?token=")
    ));
    assert!(
        mails
            .iter()
            .any(|m| m.contains("Subject: Confirm your email address")
                && m.contains("/verify-email?token="))
    );
    app.stop().await;
}

/// A NUL character in a template, or in the event it is for, is refused naming the field.
#[tokio::test]
async fn a_nul_character_in_a_template_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let admin = app.account_with_role("root@example.com", Role::Admin).await;
    let path = "/api/v1/notifications/templates/order.paid/email";
    let before = app.call(Method::GET, path, Some(&admin), None).await;
    assert_eq!(before.status, StatusCode::OK);
    let put = app
        .call(
            Method::PUT,
            path,
            Some(&admin),
            Some(json!({"subject": "Paid", "body": "Thank you\u{0}"})),
        )
        .await;
    assert_eq!(put.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", put.body);
    assert_eq!(put.error_fields(), ["body"]);
    let odd_event = app
        .call(
            Method::GET,
            "/api/v1/notifications/templates/order.paid%00/email",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(odd_event.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(odd_event.error_fields(), ["event"]);
    let after = app.call(Method::GET, path, Some(&admin), None).await;
    assert_eq!(after.body, before.body, "the template is as it was");
    app.stop().await;
}
