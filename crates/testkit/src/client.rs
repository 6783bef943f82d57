//! A typed client for tests: the calls a shopper, a seller and an admin make, named as they
//! would name them, with typed answers. A helper that returns a typed value asserts the call
//! succeeded; one that returns an [`Answer`] leaves the status to the test.

use kazna_catalog::products::Product;
use kazna_contracts::cart::Cart;
use kazna_kernel::Role;
use kazna_orders::orders::Order;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{Answer, TestApp};

/// The password every account a test makes has.
pub const PASSWORD: &str = "a long enough secret";

/// A shipping address that passes validation.
pub fn an_address() -> Value {
    json!({"name": "Ada Lovelace", "line1": "1 Analytical St", "city": "London",
           "postal_code": "N1 1AA", "country": "GB"})
}

impl TestApp {
    /// Signs up (`POST /auth/register`), answering as the platform did.
    pub async fn register(&self, email: &str, password: &str) -> Answer {
        self.call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"email": email, "password": password, "name": "Test Buyer"})),
        )
        .await
    }

    /// Signs in and returns the access token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        self.login_pair(email, password).await.0
    }

    /// Signs in; the access token and the refresh token.
    pub async fn login_pair(&self, email: &str, password: &str) -> (String, String) {
        let a = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "login: {}", a.body);
        let token = |name: &str| a.body[name].as_str().expect(name).to_owned();
        (token("access_token"), token("refresh_token"))
    }

    /// Creates an account with a role the way `kazna users create` does, and signs it in.
    pub async fn account_with_role(&self, email: &str, role: Role) -> String {
        let ctx = kazna_kernel::Context::new(self.settings.clone());
        let pool = kazna_users::database(&ctx).await.expect("users db");
        let account = kazna_users::domain::NewAccount::parse(email, PASSWORD, "Staff", vec![role])
            .expect("valid account");
        kazna_users::accounts::create(&pool, account, &self.base)
            .await
            .expect("created");
        pool.close().await;
        self.login(email, PASSWORD).await
    }

    /// Registers a fresh buyer and returns an access token.
    pub async fn login_new_buyer(&self) -> String {
        let email = format!("buyer-{}@example.com", Uuid::new_v4().simple());
        let r = self.register(&email, PASSWORD).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        self.login(&email, PASSWORD).await
    }

    /// The id of the account `token` belongs to.
    pub async fn user_id(&self, token: &str) -> String {
        let me = self
            .call(Method::GET, "/api/v1/users/me", Some(token), None)
            .await;
        me.body["id"].as_str().expect("user id").to_owned()
    }

    /// Creates a product as `token`'s seller and returns it as answered (201 expected).
    pub async fn create_product(&self, token: &str, body: Value) -> Value {
        let a = self
            .call(Method::POST, "/api/v1/products", Some(token), Some(body))
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "create product: {}", a.body);
        a.body
    }

    /// A product with one variant of `stock` units at `price` cents (EUR), as `seller`.
    pub async fn a_product(&self, seller: &str, name: &str, price: i64, stock: i64) -> Product {
        let sku = format!("SKU-{}", Uuid::new_v4().simple());
        let body = json!({"name": name, "variants": [
            {"sku": sku, "price": {"amount": price, "currency": "EUR"}, "stock": stock}]});
        serde_json::from_value(self.create_product(seller, body).await).expect("a product")
    }

    /// A new seller's product with one variant of `stock` units at `price` cents (EUR), and a
    /// new buyer with `quantity` of it in their cart. Returns the buyer's token and the product.
    pub async fn a_buyer_with_in_cart(
        &self,
        name: &str,
        price: i64,
        stock: i64,
        quantity: i64,
    ) -> (String, Product) {
        let email = format!("seller-{}@example.com", Uuid::new_v4().simple());
        let seller = self.account_with_role(&email, Role::Seller).await;
        let product = self.a_product(&seller, name, price, stock).await;
        let buyer = self.login_new_buyer().await;
        self.add_to_cart(&buyer, product.variants[0].id, quantity)
            .await;
        (buyer, product)
    }

    /// `GET /products/{id}`, as anyone.
    pub async fn product(&self, id: Uuid) -> Product {
        self.call(Method::GET, &format!("/api/v1/products/{id}"), None, None)
            .await
            .ok()
    }

    /// Adds `quantity` units of `variant` to `token`'s cart, answering as the platform did.
    pub async fn try_add_to_cart(&self, token: &str, variant: Uuid, quantity: i64) -> Answer {
        self.call(
            Method::POST,
            "/api/v1/cart/items",
            Some(token),
            Some(json!({"variant_id": variant, "quantity": quantity})),
        )
        .await
    }

    /// Adds to the cart, which must work; returns the cart.
    pub async fn add_to_cart(&self, token: &str, variant: Uuid, quantity: i64) -> Cart {
        self.try_add_to_cart(token, variant, quantity).await.ok()
    }

    /// `token`'s cart.
    pub async fn cart(&self, token: &str) -> Cart {
        self.call(Method::GET, "/api/v1/cart", Some(token), None)
            .await
            .ok()
    }

    /// Places an order from `token`'s cart with `key` as its Idempotency-Key, paying with
    /// `payment_method`, answering as the platform did.
    pub async fn try_place_order(&self, token: &str, key: &str, payment_method: &str) -> Answer {
        let body = json!({"payment_method": payment_method, "shipping_address": an_address()});
        self.call_with(
            Method::POST,
            "/api/v1/orders",
            Some(token),
            Some(body),
            &[("Idempotency-Key", key)],
        )
        .await
    }

    /// Places an order, which must be accepted (201); returns it.
    pub async fn place_order(&self, token: &str, key: &str, payment_method: &str) -> Order {
        let a = self.try_place_order(token, key, payment_method).await;
        assert_eq!(a.status, StatusCode::CREATED, "place order: {}", a.body);
        a.json()
    }

    /// `token`'s order `id`.
    pub async fn order(&self, token: &str, id: Uuid) -> Order {
        self.call(
            Method::GET,
            &format!("/api/v1/orders/{id}"),
            Some(token),
            None,
        )
        .await
        .ok()
    }

    /// `token`'s orders, newest first (the first page).
    pub async fn orders(&self, token: &str) -> Vec<Order> {
        let page = self
            .call(Method::GET, "/api/v1/orders", Some(token), None)
            .await;
        serde_json::from_value(page.ok::<Value>()["items"].clone()).expect("orders")
    }

    /// The path and query of the link in an email to `to` whose link contains `path`,
    /// waiting up to 15 s for the email to be written.
    pub async fn link_in_email(&self, to: &str, path: &str) -> String {
        let dir = self.outbox_dir();
        crate::eventually(15, || async {
            std::fs::read_dir(&dir)
                .ok()?
                .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                .filter(|m| m.contains(&format!("To: {to}")))
                .find_map(|m| {
                    let at = m.find(path)?;
                    let end = m[at..].find(|c: char| c.is_whitespace() || c == '"' || c == '<')?;
                    Some(m[at..at + end].to_owned())
                })
        })
        .await
        .expect("the email with its link")
    }

    /// Where the file outbox writes this platform's emails.
    pub fn outbox_dir(&self) -> std::path::PathBuf {
        let n: kazna_notifications::NotificationsSettings =
            self.settings.section().expect("notifications settings");
        n.outbox_dir
    }
}

/// The lifecycle of an order: paying again, canceling, shipping, refunding.
impl TestApp {
    /// Access tokens for `n` new users with `role`, signed with the platform's own key
    /// without going through sign-up (fast, for tests that need hundreds of buyers).
    pub async fn tokens(&self, n: usize, role: Role) -> Vec<(Uuid, String)> {
        let ctx = kazna_kernel::Context::new(self.settings.clone());
        let pool = kazna_users::database(&ctx).await.expect("users db");
        let key = kazna_users::keys::load_or_create(&pool)
            .await
            .expect("signing key");
        pool.close().await;
        let now = chrono::Utc::now().timestamp() as u64;
        let auth = &self.settings.auth;
        (0..n)
            .map(|_| {
                let id = Uuid::now_v7();
                let claims = kazna_kernel::auth::Claims {
                    iss: auth.issuer.clone(),
                    aud: auth.audience.clone(),
                    sub: id,
                    email: format!("{}@example.com", id.simple()),
                    roles: vec![role],
                    exp: now + 3600,
                    iat: now,
                    jti: Uuid::now_v7(),
                };
                (id, key.sign(&claims).expect("signed"))
            })
            .collect()
    }

    /// `POST /orders/{id}/pay`, answering as the platform did.
    pub async fn pay(&self, token: &str, order: Uuid, payment_method: &str) -> Answer {
        self.call(
            Method::POST,
            &format!("/api/v1/orders/{order}/pay"),
            Some(token),
            Some(json!({"payment_method": payment_method})),
        )
        .await
    }

    /// `POST /orders/{id}/cancel`, answering as the platform did.
    pub async fn cancel(&self, token: &str, order: Uuid) -> Answer {
        self.call(
            Method::POST,
            &format!("/api/v1/orders/{order}/cancel"),
            Some(token),
            None,
        )
        .await
    }

    /// `POST /orders/{id}/status` with `body`, answering as the platform did.
    pub async fn set_status(&self, token: &str, order: Uuid, body: Value) -> Answer {
        self.call(
            Method::POST,
            &format!("/api/v1/orders/{order}/status"),
            Some(token),
            Some(body),
        )
        .await
    }

    /// `POST /payments/{id}/refund` with `body`, answering as the platform did.
    pub async fn refund(&self, token: &str, payment: Uuid, body: Value) -> Answer {
        self.call(
            Method::POST,
            &format!("/api/v1/payments/{payment}/refund"),
            Some(token),
            Some(body),
        )
        .await
    }

    /// `GET /payments/{id}` as `token`, which must succeed.
    pub async fn payment(&self, token: &str, id: Uuid) -> Value {
        self.call(
            Method::GET,
            &format!("/api/v1/payments/{id}"),
            Some(token),
            None,
        )
        .await
        .ok()
    }

    /// Waits (up to `secs`) until `token`'s order `id` satisfies `done`, and returns it; the
    /// test stops with the order as it last was otherwise.
    pub async fn order_when(
        &self,
        token: &str,
        id: Uuid,
        secs: u64,
        done: impl Fn(&Order) -> bool,
    ) -> Order {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let o = self.order(token, id).await;
            if done(&o) {
                return o;
            }
            if std::time::Instant::now() > until {
                panic!("order {id} never got there: {o:?}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
