//! A message for every event a customer expects, through the whole platform; HTML that a user
//! typed is escaped in HTML mail; templates checked when saved, previewed with sample data.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use kazna_kernel::Role;
use kazna_orders::status::OrderStatus;
use kazna_testkit::{PASSWORD, TestApp, eventually};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The messages sent to `email`, once `n` of them are, oldest first.
async fn sent_to(app: &TestApp, admin: &str, email: &str, n: usize) -> Vec<Value> {
    let found = eventually(20, || async {
        let log = app
            .call(
                Method::GET,
                &format!(
                    "/api/v1/notifications?recipient={}&status=sent&limit=100",
                    email.replace('+', "%2B")
                ),
                Some(admin),
                None,
            )
            .await;
        let items = log.body["items"].as_array()?.clone();
        (items.len() >= n).then_some(items)
    })
    .await;
    let mut items = found.unwrap_or_else(|| panic!("{n} messages to {email} never all went out"));
    items.reverse();
    items
}

/// The file the outbox wrote for a logged message.
fn mail(app: &TestApp, d: &Value) -> String {
    let file = app
        .outbox_dir()
        .join(format!("{}.eml", d["id"].as_str().expect("id")));
    std::fs::read_to_string(&file).expect("the email file")
}

#[tokio::test]
async fn an_order_s_whole_life_is_told_by_email_with_tracking_and_a_pay_again_link() {
    let app = TestApp::spawn().await;
    let admin = app.account_with_role("root@example.com", Role::Admin).await;
    let email = "life@example.com";
    assert_eq!(
        app.register(email, PASSWORD).await.status,
        StatusCode::CREATED
    );
    let buyer = app.login(email, PASSWORD).await;
    let seller = app
        .account_with_role("lamps@example.com", Role::Seller)
        .await;
    let lamp = app.a_product(&seller, "Lamp", 3000, 5).await;

    // Declined, paid again, shipped, delivered, returned.
    app.add_to_cart(&buyer, lamp.variants[0].id, 1).await;
    let order = app
        .place_order(&buyer, "life", "pm_card_chargeDeclined")
        .await;
    app.order_when(&buyer, order.id, 10, |o| {
        o.payment
            .as_ref()
            .and_then(|p| p.decline_reason.clone())
            .is_some()
    })
    .await;
    assert_eq!(
        app.pay(&buyer, order.id, "pm_card_visa").await.status,
        StatusCode::ACCEPTED
    );
    app.order_when(&buyer, order.id, 10, |o| o.status == OrderStatus::Paid)
        .await;
    let shipped = json!({"status": "shipped", "carrier": "DHL", "tracking_number": "JD0001234"});
    assert_eq!(
        app.set_status(&admin, order.id, shipped).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.set_status(&admin, order.id, json!({"status": "delivered"}))
            .await
            .status,
        StatusCode::OK
    );
    let paid = app.order(&buyer, order.id).await;
    let payment = paid.payment.expect("payment").id;
    assert_eq!(
        app.refund(&admin, payment, json!({})).await.status,
        StatusCode::OK
    );
    app.order_when(&buyer, order.id, 10, |o| o.status == OrderStatus::Refunded)
        .await;

    // Another order, canceled.
    app.add_to_cart(&buyer, lamp.variants[0].id, 1).await;
    let other = app.place_order(&buyer, "other", "pm_card_visa").await;
    app.order_when(&buyer, other.id, 10, |o| o.status == OrderStatus::Paid)
        .await;
    assert_eq!(app.cancel(&buyer, other.id).await.status, StatusCode::OK);

    let messages = sent_to(&app, &admin, email, 11).await;
    let events: Vec<&str> = messages
        .iter()
        .filter_map(|d| d["event"].as_str())
        .collect();
    for expected in [
        "user.verification_requested",
        "order.placed",
        "order.payment_failed",
        "order.paid",
        "order.shipped",
        "order.delivered",
        "order.refunded",
        "order.canceled",
    ] {
        assert!(
            events.contains(&expected),
            "{expected} missing from {events:?}"
        );
    }
    let of = |event: &str| {
        mail(
            &app,
            messages.iter().find(|d| d["event"] == event).expect(event),
        )
    };
    let declined = of("order.payment_failed");
    assert!(declined.contains("card_declined"), "{declined}");
    assert!(
        declined.contains(&format!("/account/orders/{}", order.id)),
        "a link to pay again: {declined}"
    );
    let on_its_way = of("order.shipped");
    assert!(
        on_its_way.contains("DHL, tracking number JD0001234"),
        "{on_its_way}"
    );
    assert!(
        on_its_way.contains("Content-Type: text/html"),
        "an HTML part too"
    );
    assert!(of("order.refunded").contains("30.00 EUR"));
    assert!(of("order.canceled").contains("is being refunded"));
    // Exactly one message per event and recipient, however often an event came.
    let mut ids: Vec<(&str, &str)> = messages
        .iter()
        .filter_map(|d| Some((d["event_id"].as_str()?, d["channel"].as_str()?)))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), messages.len());
    app.stop().await;
}

#[tokio::test]
async fn html_a_user_typed_is_escaped_in_html_mail_and_kept_in_text() {
    let app = TestApp::spawn().await;
    let admin = app.account_with_role("root@example.com", Role::Admin).await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"email": "grace@example.com", "password": PASSWORD,
                        "name": "<img src=x onerror=alert(1)> Grace & co"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let messages = sent_to(&app, &admin, "grace@example.com", 1).await;
    let m = mail(&app, &messages[0]);
    let (text, html) = m.split_once("Content-Type: text/html").expect("two parts");
    assert!(
        text.contains("Hello <img src=x onerror=alert(1)> Grace & co,"),
        "{text}"
    );
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt; Grace &amp; co"),
        "{html}"
    );
    assert!(!html.contains("<img"), "{html}");
    assert!(
        html.contains("<a href=\"http"),
        "the link is a link: {html}"
    );
    app.stop().await;
}

#[tokio::test]
async fn templates_are_checked_against_their_event_and_previewed_with_sample_data() {
    let app = TestApp::spawn().await;
    let admin = app.account_with_role("root@example.com", Role::Admin).await;
    let path = "/api/v1/notifications/templates/order.shipped/email";

    // In use: the built-in one.
    let builtin = app.call(Method::GET, path, Some(&admin), None).await;
    assert_eq!(builtin.status, StatusCode::OK);
    assert!(
        builtin.body["html"]
            .as_str()
            .is_some_and(|h| h.contains("tracking_number"))
    );

    // A variable the event does not have, named with its line; the template stays as it was.
    let bad = json!({"subject": "Shipped", "body": "Hello,\n\nyour parcel {{ parcel_number }}", "html": null});
    let refused = app.call(Method::PUT, path, Some(&admin), Some(bad)).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert_eq!(refused.error_fields(), ["body"]);
    assert!(
        refused.body.to_string().contains("line 3"),
        "{}",
        refused.body
    );
    let broken = json!({"subject": "{% if %}", "body": "ok"});
    let refused = app
        .call(Method::PUT, path, Some(&admin), Some(broken))
        .await;
    assert_eq!(refused.error_fields(), ["subject"]);
    assert_eq!(
        app.call(Method::GET, path, Some(&admin), None).await.body,
        builtin.body
    );

    // The preview of what is in use, with the sample shipment.
    let preview = app
        .call(Method::POST, &format!("{path}/preview"), Some(&admin), None)
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(
        preview.body["text"]
            .as_str()
            .is_some_and(|t| t.contains("JD014600006281230745"))
    );
    assert_eq!(preview.body["warnings"], json!([]));

    // A German override, used for German and previewed as a draft first.
    let de = json!({"subject": "Unterwegs: {{ order_id }}", "body": "Ihre Bestellung ist unterwegs.", "html": "<p>Unterwegs</p>"});
    let draft = app
        .call(
            Method::POST,
            &format!("{path}/preview?language=de"),
            Some(&admin),
            Some(de.clone()),
        )
        .await;
    assert_eq!(
        draft.body["subject"],
        "Unterwegs: 00000000-0000-0000-0000-000000000000"
    );
    assert_eq!(
        app.call(
            Method::PUT,
            &format!("{path}?language=de"),
            Some(&admin),
            Some(de)
        )
        .await
        .status,
        StatusCode::OK
    );
    let german = app
        .call(
            Method::GET,
            &format!("{path}?language=de"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(german.body["body"], "Ihre Bestellung ist unterwegs.");
    let english = app.call(Method::GET, path, Some(&admin), None).await;
    assert_eq!(english.body, builtin.body, "other languages keep theirs");
    let odd = app
        .call(
            Method::GET,
            &format!("{path}?language=german"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(odd.error_fields(), ["language"]);

    // An SMS longer than one message is warned about.
    let long = json!({"body": "x".repeat(170)});
    let sms = app
        .call(
            Method::POST,
            "/api/v1/notifications/templates/order.shipped/sms/preview",
            Some(&admin),
            Some(long),
        )
        .await;
    assert_eq!(sms.status, StatusCode::OK, "{}", sms.body);
    assert!(
        sms.body["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("160")),
        "{}",
        sms.body
    );
    let none = app
        .call(
            Method::GET,
            "/api/v1/notifications/templates/order.placed/sms",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        none.status,
        StatusCode::NOT_FOUND,
        "no SMS for a placed order"
    );

    // The log: filters checked, and only a failed message can be sent again.
    let bad_filter = app
        .call(
            Method::GET,
            "/api/v1/notifications?status=lost&channel=fax",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(bad_filter.error_fields(), ["status", "channel"]);
    let unknown = app
        .call(
            Method::POST,
            &format!("/api/v1/notifications/{}/retry", uuid::Uuid::now_v7()),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.register("someone@example.com", PASSWORD).await.status,
        StatusCode::CREATED
    );
    let mine = sent_to(&app, &admin, "someone@example.com", 1).await;
    let again = app
        .call(
            Method::POST,
            &format!(
                "/api/v1/notifications/{}/retry",
                mine[0]["id"].as_str().unwrap()
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "not_retryable");
    let buyer = app.login_new_buyer().await;
    let denied = app
        .call(Method::POST, &format!("{path}/preview"), Some(&buyer), None)
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn sms_goes_to_users_with_a_phone_and_sms_on_and_messages_speak_their_language() {
    let app = TestApp::spawn().await;
    let admin = app.account_with_role("root@example.com", Role::Admin).await;
    let email = "sms@example.com";
    assert_eq!(
        app.register(email, PASSWORD).await.status,
        StatusCode::CREATED
    );
    let buyer = app.login(email, PASSWORD).await;
    let prefs = app
        .call(
            Method::GET,
            "/api/v1/users/me/notifications",
            Some(&buyer),
            None,
        )
        .await;
    assert_eq!(prefs.body, json!({"sms": true, "language": "en"}));
    let bad = app
        .call(
            Method::PUT,
            "/api/v1/users/me/notifications",
            Some(&buyer),
            Some(json!({"sms": true, "language": "Deutsch"})),
        )
        .await;
    assert_eq!(bad.error_fields(), ["language"]);
    let phone = app
        .call(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&buyer),
            Some(json!({"phone": "+49 151 12345678"})),
        )
        .await;
    assert_eq!(phone.status, StatusCode::OK, "{}", phone.body);
    let set = app
        .call(
            Method::PUT,
            "/api/v1/users/me/notifications",
            Some(&buyer),
            Some(json!({"sms": true, "language": "de"})),
        )
        .await;
    assert_eq!(set.body, json!({"sms": true, "language": "de"}));
    let german = json!({"subject": "Ihre Bestellung ist unterwegs", "body": "Sendungsnummer: {% for p in parcels %}{{ p.tracking_number }}{% endfor %}"});
    let put = app
        .call(
            Method::PUT,
            "/api/v1/notifications/templates/order.shipped/email?language=de",
            Some(&admin),
            Some(german),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);

    // Notifications hears of the phone and the preferences before the order moves.
    let ctx = kazna_kernel::Context::new(app.settings.clone());
    let pool = kazna_notifications::database(&ctx)
        .await
        .expect("notifications db");
    let known = |sms: bool| {
        let pool = pool.clone();
        async move {
            eventually(10, || async {
                let r: Option<(bool, String)> = sqlx::query_as(
                    "SELECT sms, language FROM recipients WHERE phone = '+4915112345678'",
                )
                .fetch_optional(&pool)
                .await
                .ok()?;
                r.filter(|(s, l)| *s == sms && l == "de")
            })
            .await
            .expect("notifications knows the user's preferences")
        }
    };
    known(true).await;

    let seller = app
        .account_with_role("lamps@example.com", Role::Seller)
        .await;
    let lamp = app.a_product(&seller, "Lamp", 3000, 5).await;
    app.add_to_cart(&buyer, lamp.variants[0].id, 1).await;
    let order = app.place_order(&buyer, "sms", "pm_card_visa").await;
    app.order_when(&buyer, order.id, 10, |o| o.status == OrderStatus::Paid)
        .await;
    let shipped = json!({"status": "shipped", "carrier": "DHL", "tracking_number": "JD0009999"});
    assert_eq!(
        app.set_status(&admin, order.id, shipped).await.status,
        StatusCode::OK
    );
    let texts = sent_to(&app, &admin, "+4915112345678", 1).await;
    assert_eq!(texts[0]["event"], "order.shipped");
    assert_eq!(texts[0]["channel"], "sms");
    let file = app
        .outbox_dir()
        .join(format!("{}.sms", texts[0]["id"].as_str().expect("id")));
    let sms = std::fs::read_to_string(file).expect("the SMS file");
    assert!(
        sms.contains("To: +4915112345678") && sms.contains("JD0009999"),
        "{sms}"
    );
    let mails = sent_to(&app, &admin, email, 4).await;
    let shipped_mail = mails
        .iter()
        .find(|d| d["event"] == "order.shipped")
        .expect("shipped email");
    assert_eq!(shipped_mail["subject"], "Ihre Bestellung ist unterwegs");
    assert!(mail(&app, shipped_mail).contains("Sendungsnummer: JD0009999"));

    // SMS turned off: the delivery comes by email only.
    let off = app
        .call(
            Method::PUT,
            "/api/v1/users/me/notifications",
            Some(&buyer),
            Some(json!({"sms": false, "language": "de"})),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK);
    known(false).await;
    assert_eq!(
        app.set_status(&admin, order.id, json!({"status": "delivered"}))
            .await
            .status,
        StatusCode::OK
    );
    let mails = sent_to(&app, &admin, email, 5).await;
    assert!(
        mails.iter().any(|d| d["event"] == "order.delivered"),
        "the email still goes"
    );
    // An SMS would have been queued with the email, in one transaction: there is none.
    let all = app
        .call(
            Method::GET,
            "/api/v1/notifications?channel=sms&limit=100",
            Some(&admin),
            None,
        )
        .await;
    let events: Vec<&str> = all.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|d| d["event"].as_str())
        .collect();
    assert_eq!(events, ["order.shipped"], "no SMS once it is off");
    app.stop().await;
}
