//! The storefront in a real browser, headless Chromium driven over WebDriver, against the
//! whole platform: a guest browses, searches with a typo, narrows by a facet and fills a cart,
//! then signs up, confirms the email from the emailed link, signs in to find the cart merged,
//! and pays; a declined card shows why and paying again works; a forgotten password is reset
//! from its link. Every page visited passes axe-core's serious and critical checks, and the
//! main pages fit a phone's width. Screenshots go to `target/screenshots/`
//! (`docs/screenshots/` holds the ones the README shows).

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;

use kazna_testkit::{Browser, PASSWORD, TestApp, eventually};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Products in the demo shop of these tests: four of each of its 18 kinds.
const PRODUCTS: usize = 72;

/// The platform with the demo shop loaded and searchable.
async fn a_shop() -> TestApp {
    let app = TestApp::spawn().await;
    let ctx = kazna_kernel::Context::new(app.settings.clone());
    kazna::seed::demo(&ctx, PRODUCTS).await.expect("demo shop");
    let searchable = eventually(30, || async {
        let r = app
            .call(
                Method::GET,
                "/api/v1/search?limit=1&facets=false",
                None,
                None,
            )
            .await;
        (r.body["total"] == PRODUCTS).then_some(())
    })
    .await;
    assert!(searchable.is_some(), "the demo shop is searchable");
    app
}

fn screenshot(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/screenshots"
    ))
    .join(format!("{name}.png"))
}

/// Checks the page as a screen-reader or keyboard user would meet it, and keeps a picture.
async fn look(b: &Browser, name: &str) {
    let problems = b.accessibility_problems().await;
    assert!(
        problems.is_empty(),
        "{name} ({}): {problems:#?}",
        b.url().await
    );
    b.screenshot(&screenshot(name)).await;
}

async fn value_of(b: &Browser, css: &str) -> Value {
    b.run(
        "const e = document.querySelector(arguments[0]); return e ? e.value : null",
        json!([css]),
    )
    .await
}

async fn sign_in(b: &Browser, base: &str, email: &str, password: &str, next: &str) {
    b.goto(&format!("{base}/signin?next={next}")).await;
    b.fill("#email", email).await;
    b.fill("#password", password).await;
    b.press_on("main button.primary").await;
}

/// Puts `quantity` of the product's second option in the cart from its page.
async fn add_to_cart(b: &Browser, base: &str, product: &str, quantity: i64) {
    b.goto(&format!("{base}/products/{product}")).await;
    b.click_on("input[name=variant_id]:not(:checked):not([disabled])")
        .await;
    b.fill("#quantity", &quantity.to_string()).await;
    b.press_on("main button.primary").await;
    assert!(b.url().await.ends_with("/cart"), "{}", b.text("main").await);
}

async fn checkout(b: &Browser, payment_method: &str) {
    b.press(&b.link("Check out").await).await;
    b.fill("#line1", "1 Analytical St").await;
    b.fill("#city", "London").await;
    b.fill("#postal_code", "N1 1AA").await;
    b.fill("#country", "gb").await;
    b.click_on(&format!(
        "input[name=payment_method][value={payment_method}]"
    ))
    .await;
    b.press_on("main form button.primary").await;
    assert!(
        b.url().await.contains("/orders/"),
        "{}",
        b.text("main").await
    );
}

async fn a_product_id(app: &TestApp, q: &str) -> String {
    let found = app
        .call(
            Method::GET,
            &format!("/api/v1/search?q={q}&limit=1"),
            None,
            None,
        )
        .await;
    found.body["items"][0]["product_id"]
        .as_str()
        .expect("a product")
        .to_owned()
}

#[tokio::test]
async fn a_guest_finds_a_product_fills_a_cart_signs_up_and_in_and_pays() {
    let app = a_shop().await;
    let base = app.base.clone();
    let b = Browser::start(1280, 900).await;

    b.goto(&base).await;
    assert_eq!(b.text("h1").await, "Welcome to the shop");
    assert!(
        b.text("#newest + ul").await.contains("no. 71"),
        "newest first"
    );
    look(&b, "home").await;

    b.press(&b.link("Boots").await).await;
    assert_eq!(b.text("h1").await, "Boots");
    let boots = b.text(".results").await;
    assert!(boots.contains("4 products"), "{boots}");
    assert!(boots.contains("Sturdy Boot no. 40"), "{boots}");
    assert!(
        boots.contains("€"),
        "prices are shown in their currency: {boots}"
    );
    look(&b, "category").await;

    // Suggestions come as the shopper types.
    b.fill("#find-q", "stur").await;
    let suggested = eventually(10, || async {
        let v = b
            .run(
                "return Array.from(document.querySelectorAll('#suggestions option')).map(o => o.value)",
                json!([]),
            )
            .await;
        v.as_array().filter(|o| !o.is_empty()).cloned()
    })
    .await
    .expect("suggestions");
    assert!(
        suggested
            .iter()
            .any(|s| s.as_str().unwrap_or_default().starts_with("Sturdy")),
        "{suggested:?}"
    );

    // "sturdi" is one typo away from "Sturdy": 18 products.
    b.fill("#find-q", "sturdi").await;
    b.press_on(".find button").await;
    assert_eq!(b.text("h1").await, "Results for “sturdi”");
    assert!(b.text(".total").await.starts_with("18 products"));
    // Narrowed to black ones by the colour facet: products 36, 40, 44, 48 and 52.
    b.press(&b.link("black").await).await;
    let black = b.text(".results").await;
    assert!(black.contains("5 products"), "{black}");
    assert!(black.contains("Sturdy Boot no. 40"), "{black}");
    look(&b, "search").await;

    b.press(&b.link("Sturdy Boot no. 40").await).await;
    assert_eq!(b.text("h1").await, "Sturdy Boot no. 40");
    look(&b, "product").await;
    b.click_on("input[name=variant_id]:not(:checked):not([disabled])")
        .await;
    let picked = value_of(&b, "input[name=variant_id]:checked").await;
    b.fill("#quantity", "2").await;
    b.press_on("main button.primary").await;
    assert!(b.url().await.ends_with("/cart"));
    assert!(b.text("main").await.contains("Sturdy Boot no. 40"));
    assert_eq!(
        value_of(&b, &format!("#q-{}", picked.as_str().unwrap())).await,
        "2"
    );
    look(&b, "cart").await;
    // Two more, then back to two: the line total follows.
    let line = format!("#q-{}", picked.as_str().unwrap());
    b.fill(&line, "4").await;
    b.press_on("form.qty button[value=update]").await;
    assert_eq!(value_of(&b, &line).await, "4");
    b.fill(&line, "2").await;
    b.press_on("form.qty button[value=update]").await;
    assert_eq!(value_of(&b, &line).await, "2");

    b.press(&b.link("Create account").await).await;
    look(&b, "signup").await;
    b.fill("#name", "Ada Lovelace").await;
    b.fill("#email", "ada@example.com").await;
    b.fill("#password", PASSWORD).await;
    b.press_on("main button.primary").await;
    assert_eq!(b.text("h1").await, "Your account is created");

    let link = app
        .link_in_email("ada@example.com", "/verify-email?token=")
        .await;
    b.goto(&format!("{base}{link}")).await;
    b.press_on("main button.primary").await;
    assert_eq!(b.text("h1").await, "Your email address is confirmed");

    sign_in(&b, &base, "ada@example.com", PASSWORD, "/cart").await;
    assert!(b.url().await.ends_with("/cart"), "{}", b.url().await);
    assert!(
        b.text("main").await.contains("Sturdy Boot no. 40"),
        "the guest cart is merged"
    );
    assert_eq!(
        value_of(&b, &format!("#q-{}", picked.as_str().unwrap())).await,
        "2"
    );

    b.press(&b.link("Check out").await).await;
    assert_eq!(value_of(&b, "#name").await, "Ada Lovelace");
    look(&b, "checkout").await;
    b.goto(&format!("{base}/cart")).await;
    checkout(&b, "pm_card_visa").await;
    assert!(
        b.reload_until("[data-status=paid]", 30).await,
        "{}",
        b.text("main").await
    );
    let order = b.text("main").await;
    assert!(order.contains("Sturdy Boot no. 40"), "{order}");
    assert!(order.contains("1 Analytical St"), "{order}");
    // One line of two: its total is the order's.
    let line_total = b.text("table.cart tbody td:last-child").await;
    assert!(line_total.starts_with('€'), "{line_total}");
    assert_eq!(line_total, b.text("table.cart tfoot td").await);
    look(&b, "order").await;

    b.press(&b.link("All your orders").await).await;
    assert!(b.text("main table").await.contains("Paid"));
    look(&b, "account").await;
    // The cart was emptied by the order.
    b.goto(&format!("{base}/cart")).await;
    assert!(b.text("main").await.contains("Your cart is empty"));

    // On a phone's width nothing needs scrolling sideways.
    b.resize(390, 844).await;
    let product = a_product_id(&app, "sturdy%20boot").await;
    for (path, name) in [
        ("/".to_owned(), Some("phone-home")),
        ("/search?q=boot".to_owned(), None),
        (format!("/products/{product}"), Some("phone-product")),
        ("/account".to_owned(), None),
    ] {
        b.goto(&format!("{base}{path}")).await;
        assert!(b.fits_the_width().await, "{path} is wider than a phone");
        if let Some(name) = name {
            b.screenshot(&screenshot(name)).await;
        }
    }
    b.quit().await;
    app.stop().await;
}

#[tokio::test]
async fn a_declined_card_shows_why_and_paying_again_works() {
    let app = a_shop().await;
    let base = app.base.clone();
    assert_eq!(
        app.register("grace@example.com", PASSWORD).await.status,
        StatusCode::CREATED
    );
    let b = Browser::start(1280, 900).await;
    sign_in(&b, &base, "grace@example.com", PASSWORD, "/account").await;
    assert!(b.url().await.ends_with("/account"));
    let product = a_product_id(&app, "organic").await;
    let other = a_product_id(&app, "light").await;
    add_to_cart(&b, &base, &other, 1).await;
    add_to_cart(&b, &base, &product, 1).await;
    // One line too many: removed from the cart page.
    let rows = "return document.querySelectorAll('table.cart tbody tr').length";
    assert_eq!(b.run(rows, json!([])).await, 2);
    b.press_on(&format!(
        "tr:has(a[href='/products/{other}']) button[value=remove]"
    ))
    .await;
    assert_eq!(b.run(rows, json!([])).await, 1);
    checkout(&b, "pm_card_chargeDeclined").await;
    assert!(
        b.reload_until(".declined", 30).await,
        "{}",
        b.text("main").await
    );
    assert!(b.text(".declined").await.contains("Card declined"));
    look(&b, "declined").await;

    // Paying again with the card checked first, the Visa test card.
    assert_eq!(
        value_of(&b, ".declined input[name=payment_method]:checked").await,
        "pm_card_visa"
    );
    b.press_on(".declined button.primary").await;
    assert!(
        b.reload_until("[data-status=paid]", 30).await,
        "{}",
        b.text("main").await
    );
    b.quit().await;
    app.stop().await;
}

#[tokio::test]
async fn a_forgotten_password_is_reset_and_a_session_outlives_its_access_token() {
    // Access tokens of 32 s: the browser's access cookie lasts 2 s of them.
    let app = TestApp::spawn_with(|s| s.auth.access_token_ttl_secs = 32).await;
    let base = app.base.clone();
    assert_eq!(
        app.register("ida@example.com", PASSWORD).await.status,
        StatusCode::CREATED
    );
    let b = Browser::start(1280, 900).await;
    b.goto(&format!("{base}/signin")).await;
    look(&b, "signin").await;
    b.press(&b.link("Forgot your password?").await).await;
    b.fill("#email", "ida@example.com").await;
    b.press_on("main button.primary").await;
    assert_eq!(
        b.text("h1").await,
        "Check your email",
        "{}",
        b.text("body").await
    );

    let link = app
        .link_in_email("ida@example.com", "/reset-password?token=")
        .await;
    b.goto(&format!("{base}{link}")).await;
    // Too short for the API: its message shows next to the field, and the field says so.
    b.fill("#new_password", "short").await;
    b.run(
        "document.querySelector('#new_password').removeAttribute('minlength')",
        json!([]),
    )
    .await;
    b.press_on("main button.primary").await;
    assert!(!b.text("#new_password-error").await.is_empty());
    assert_eq!(
        b.run(
            "return document.querySelector('#new_password').getAttribute('aria-describedby')",
            json!([])
        )
        .await,
        "new_password-error"
    );
    look(&b, "reset-error").await;
    b.fill("#new_password", "a brand new secret").await;
    b.press_on("main button.primary").await;
    assert_eq!(b.text("h1").await, "Your password is changed");

    sign_in(
        &b,
        &base,
        "ida@example.com",
        "a brand new secret",
        "/account",
    )
    .await;
    assert!(
        b.url().await.ends_with("/account"),
        "{}",
        b.text("main").await
    );
    assert!(b.text("h1").await.starts_with("Hello"));

    // Once the access cookie is gone, the refresh token brings a new one unseen.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    b.goto(&format!("{base}/account")).await;
    assert!(b.url().await.ends_with("/account"), "still signed in");
    b.fill("form[action='/account/profile'] #name", "Ida Rhodes")
        .await;
    b.press_on("form[action='/account/profile'] button").await;
    assert_eq!(
        b.text("main .note[role=status]").await,
        "Your profile is saved."
    );
    assert_eq!(b.text("h1").await, "Hello, Ida Rhodes");

    b.press_on("form[action='/signout'] button").await;
    assert!(b.text("header nav").await.contains("Sign in"));
    b.goto(&format!("{base}/account")).await;
    assert!(b.url().await.contains("/signin"), "signed out");
    b.quit().await;
    app.stop().await;
}
