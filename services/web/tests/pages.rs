//! The storefront's pages the account emails link to: the link from the email opens a form, the form
//! completes the step through the public API, errors show next to their field.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use kazna_testkit::{PASSWORD, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Posts a form as the browser that opened its page would: with the CSRF token of its
/// cookie in a field.
async fn post_form(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .append_pair("csrf", "this-browsers-token")
        .finish();
    let r = app
        .http
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", "kazna_csrf=this-browsers-token")
        .body(body)
        .send()
        .await
        .expect("posted");
    (r.status(), r.text().await.expect("page"))
}

#[tokio::test]
async fn the_verification_link_confirms_the_address_once_the_button_is_pressed() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.register("ada@example.com", PASSWORD).await.status,
        StatusCode::CREATED
    );
    let link = app
        .link_in_email("ada@example.com", "/verify-email?token=")
        .await;
    let token = link.split("token=").nth(1).expect("token");

    let opened = app
        .http
        .get(format!("{}{link}", app.base))
        .send()
        .await
        .expect("opened");
    assert_eq!(opened.status(), StatusCode::OK);
    let html = opened.text().await.expect("page");
    assert!(html.contains("Confirm my email address</button>"), "{html}");
    assert!(html.contains(&format!("value=\"{token}\"")), "{html}");
    let me = app.login("ada@example.com", PASSWORD).await;
    let profile = app
        .call(Method::GET, "/api/v1/users/me", Some(&me), None)
        .await;
    assert_eq!(
        profile.body["email_verified"], false,
        "opening the link changes nothing"
    );

    let (status, page) = post_form(&app, "/verify-email", &[("token", token)]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Your email address is confirmed"), "{page}");
    let profile = app
        .call(Method::GET, "/api/v1/users/me", Some(&me), None)
        .await;
    assert_eq!(profile.body["email_verified"], true);
    // Used once.
    let (status, page) = post_form(&app, "/verify-email", &[("token", token)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("role=\"alert\""), "{page}");
    // A link cut short, or carrying markup.
    let bare = app
        .http
        .get(format!("{}/verify-email", app.base))
        .send()
        .await
        .expect("opened");
    assert_eq!(bare.status(), StatusCode::BAD_REQUEST);
    let odd = app
        .http
        .get(format!(
            "{}/verify-email?token=%22%3E%3Cscript%3E",
            app.base
        ))
        .send()
        .await
        .expect("opened");
    assert!(!odd.text().await.expect("page").contains("<script>"));
    app.stop().await;
}

#[tokio::test]
async fn the_reset_link_sets_a_new_password_with_errors_next_to_the_field() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.register("grace@example.com", PASSWORD).await.status,
        StatusCode::CREATED
    );
    let asked = app
        .call(
            Method::POST,
            "/api/v1/auth/password-reset",
            None,
            Some(json!({"email": "grace@example.com"})),
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    let link = app
        .link_in_email("grace@example.com", "/reset-password?token=")
        .await;
    let token = link.split("token=").nth(1).expect("token");
    let opened = app
        .http
        .get(format!("{}{link}", app.base))
        .send()
        .await
        .expect("opened");
    let html = opened.text().await.expect("page");
    assert!(
        html.contains("<label for=\"new_password\">New password</label>"),
        "{html}"
    );
    assert!(html.contains("autocomplete=\"new-password\""));

    let (status, page) = post_form(
        &app,
        "/reset-password",
        &[("token", token), ("new_password", "short")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("aria-invalid=\"true\""), "{page}");
    assert!(
        page.contains("id=\"new_password-error\""),
        "the error is next to the field: {page}"
    );

    // A form posted from another site carries no token of this browser's: nothing changes.
    let forged = app
        .http
        .post(format!("{}/reset-password", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}&new_password=chosen+by+someone+else"))
        .send()
        .await
        .expect("posted");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let (status, page) = post_form(
        &app,
        "/reset-password",
        &[("token", token), ("new_password", "a brand new secret")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Your password is changed"));
    app.login("grace@example.com", "a brand new secret").await;
    let old = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "grace@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

/// What a provider's return page does with the browser: the order its payment is for, once
/// signed in.
#[tokio::test]
async fn a_provider_sends_the_buyer_back_to_the_order_the_payment_is_for() {
    let app = TestApp::spawn().await;
    let (buyer, _) = app.a_buyer_with_in_cart("Lamp", 1_000, 5, 1).await;
    let order = app.place_order(&buyer, "k-1", "pm_card_visa").await;
    let payment = order.payment.expect("a payment").id;
    // Payments opens it on hearing of the order.
    let opened = kazna_testkit::eventually(10, || async {
        let p = app
            .call(
                Method::GET,
                &format!("/api/v1/payments/{payment}"),
                Some(&buyer),
                None,
            )
            .await;
        p.status.is_success().then_some(())
    })
    .await;
    assert!(opened.is_some(), "the payment is open");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let back = format!("{}/checkout/paypal/return?payment={payment}", app.base);
    let signed_in = http
        .get(&back)
        .header("cookie", format!("kazna_access={buyer}"))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        signed_in.headers()["location"],
        format!("/orders/{}", order.id).as_str()
    );
    let signed_out = http.get(&back).send().await.unwrap();
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
    let to = signed_out.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        to.starts_with("/signin?next=%2Fcheckout%2Fpaypal%2Freturn"),
        "{to}"
    );
    let stranger = app.login_new_buyer().await;
    let other = http
        .get(&back)
        .header("cookie", format!("kazna_access={stranger}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        StatusCode::NOT_FOUND,
        "not the stranger's payment"
    );
    app.stop().await;
}

/// The checkout form carries the idempotency key it was rendered with: sent twice (a double
/// click, a reload), it places one order and both answers lead to it.
#[tokio::test]
async fn a_checkout_form_sent_twice_places_one_order() {
    let app = TestApp::spawn().await;
    let (buyer, _) = app.a_buyer_with_in_cart("Lamp", 1_000, 5, 1).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let key = uuid::Uuid::now_v7().to_string();
    let form = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("csrf", "this-browsers-token"),
            ("key", key.as_str()),
            ("name", "Ada Lovelace"),
            ("line1", "1 Analytical St"),
            ("city", "London"),
            ("postal_code", "N1 1AA"),
            ("country", "GB"),
            ("payment_method", "pm_card_visa"),
        ])
        .finish();
    let mut places = Vec::new();
    for _ in 0..2 {
        let placed = http
            .post(format!("{}/checkout", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "cookie",
                format!("kazna_access={buyer}; kazna_csrf=this-browsers-token"),
            )
            .body(form.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(placed.status(), StatusCode::SEE_OTHER);
        places.push(placed.headers()["location"].to_str().unwrap().to_owned());
    }
    assert!(places[0].starts_with("/orders/"), "{places:?}");
    assert_eq!(places[0], places[1], "one order for both");
    assert_eq!(app.orders(&buyer).await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn every_form_refuses_one_posted_without_this_browsers_token() {
    let app = TestApp::spawn().await;
    let buyer = app.login_new_buyer().await;
    let id = uuid::Uuid::now_v7();
    let forms = [
        "/signin".to_owned(),
        "/signup".into(),
        "/signout".into(),
        "/verify-email".into(),
        "/forgot-password".into(),
        "/reset-password".into(),
        "/account/profile".into(),
        "/account/notifications".into(),
        "/cart/items".into(),
        format!("/cart/items/{id}"),
        "/checkout".into(),
        format!("/orders/{id}/pay"),
        format!("/orders/{id}/cancel"),
    ];
    for path in forms {
        // Signed in, with a CSRF cookie, but the form's field is another's (or missing).
        for field in ["&csrf=someone-elses-token", ""] {
            let r = app
                .http
                .post(format!("{}{path}", app.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .header(
                    "cookie",
                    format!("kazna_access={buyer}; kazna_csrf=this-browsers-token"),
                )
                .body(format!("name=Mallory&quantity=1{field}"))
                .send()
                .await
                .expect("posted");
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
            let page = r.text().await.expect("page");
            assert!(page.contains("This form has expired"), "{path}: {page}");
        }
    }
    let me = app
        .call(Method::GET, "/api/v1/users/me", Some(&buyer), None)
        .await;
    assert_ne!(me.body["name"], "Mallory", "nothing changed");
    app.stop().await;
}

#[tokio::test]
async fn an_access_token_the_api_refuses_is_renewed_once_with_the_refresh_token() {
    let app = TestApp::spawn().await;
    let email = format!("renew-{}@example.com", uuid::Uuid::new_v4().simple());
    assert_eq!(
        app.register(&email, PASSWORD).await.status,
        StatusCode::CREATED
    );
    let (access, refresh) = app.login_pair(&email, PASSWORD).await;
    // A token whose signature no longer verifies, as after the signing key was retired.
    let refused = format!("{}AAAA", &access[..access.len() - 4]);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let visit = |refresh: String| {
        let (browser, base, refused) = (browser.clone(), app.base.clone(), refused.clone());
        async move {
            browser
                .get(format!("{base}/account"))
                .header(
                    "cookie",
                    format!("kazna_access={refused}; kazna_refresh={refresh}"),
                )
                .send()
                .await
                .expect("page")
        }
    };

    let page = visit(refresh.clone()).await;
    assert_eq!(page.status(), StatusCode::OK);
    let cookies: Vec<String> = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("cookie").to_owned())
        .collect();
    let renewed = |name: &str| {
        cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(|c| {
                c[name.len() + 1..]
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .to_owned()
            })
    };
    let new_access = renewed("kazna_access").expect("a new access cookie");
    let new_refresh = renewed("kazna_refresh").expect("a new refresh cookie");
    assert!(!new_access.is_empty() && new_access != refused);
    assert!(!new_refresh.is_empty() && new_refresh != refresh);
    assert!(
        page.text().await.expect("html").contains(&email),
        "the account page"
    );

    // The old refresh token was spent: the browser is signed out and sent to sign in.
    let again = visit(refresh).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let to = again.headers()["location"].to_str().expect("location");
    assert!(to.starts_with("/signin"), "{to}");
    assert!(
        again
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().is_ok_and(|c| c.starts_with("kazna_refresh=;"))),
        "the spent refresh cookie is cleared"
    );
    app.stop().await;
}
