//! `kazna seed --demo`: a demo shop with a category tree, products with variants, prices,
//! stock and images, and one account per role. Running it twice adds nothing twice.

use kazna_catalog::domain::{MoneyIn, ProductIn, VariantIn};
use kazna_kernel::{Context, Role};
use kazna_users::{accounts, domain::NewAccount};
use serde_json::json;
use uuid::Uuid;

pub struct DemoUser {
    pub email: &'static str,
    pub password: &'static str,
    pub role: Role,
}

/// The demo accounts; their passwords are public, so never seed them into a real shop.
pub const DEMO_USERS: [DemoUser; 4] = [
    DemoUser {
        email: "admin@demo.kazna.local",
        password: "demo-admin-pass",
        role: Role::Admin,
    },
    DemoUser {
        email: "seller@demo.kazna.local",
        password: "demo-seller-pass",
        role: Role::Seller,
    },
    DemoUser {
        email: "moderator@demo.kazna.local",
        password: "demo-moderator-pass",
        role: Role::Moderator,
    },
    DemoUser {
        email: "buyer@demo.kazna.local",
        password: "demo-buyer-pass",
        role: Role::Buyer,
    },
];

const TREE: [(&str, [&str; 3]); 6] = [
    ("Clothing", ["T-shirts", "Jackets", "Trousers"]),
    ("Shoes", ["Sneakers", "Boots", "Sandals"]),
    ("Home", ["Kitchen", "Lighting", "Textiles"]),
    ("Outdoor", ["Camping", "Cycling", "Hiking"]),
    ("Electronics", ["Audio", "Cables", "Lamps"]),
    ("Books", ["Fiction", "Cooking", "Travel"]),
];

const ADJECTIVES: [&str; 12] = [
    "Classic", "Organic", "Sturdy", "Light", "Vintage", "Compact", "Urban", "Alpine", "Cosy",
    "Bold", "Quiet", "Bright",
];
const COLOURS: [&str; 4] = ["black", "white", "blue", "green"];
const SIZES: [&str; 3] = ["S", "M", "L"];

pub struct Summary {
    pub users_created: usize,
    pub products_created: usize,
}

/// Seeds `products` demo products (plus the demo users and categories).
pub async fn demo(ctx: &Context, products: usize) -> Result<Summary, kazna_kernel::Error> {
    let users_db = kazna_users::database(ctx).await?;
    let catalog = kazna_catalog::Store::open(ctx).await?;
    let catalog_db = catalog.pool.clone();
    let other = |e: &dyn std::fmt::Display| kazna_kernel::Error::Other(e.to_string());

    let mut users_created = 0;
    let mut seller_id = None;
    for u in &DEMO_USERS {
        let name = format!("Demo {}", u.role.as_str());
        let account =
            NewAccount::parse(u.email, u.password, &name, vec![u.role]).map_err(|e| other(&e))?;
        match accounts::create(&users_db, account, &ctx.settings.gateway.public_url).await {
            Ok(p) => {
                users_created += 1;
                if u.role == Role::Seller {
                    seller_id = Some(p.id);
                }
            }
            Err(kazna_users::error::Error::EmailTaken) => {}
            Err(e) => return Err(other(&e)),
        }
    }
    let seller_id = match seller_id {
        Some(id) => id,
        None => {
            sqlx::query_scalar::<_, Uuid>("SELECT id FROM users WHERE email = $1")
                .bind(DEMO_USERS[1].email)
                .fetch_one(&users_db)
                .await?
        }
    };

    let existing: Vec<(Uuid, String)> = sqlx::query_as("SELECT id, name FROM categories")
        .fetch_all(&catalog_db)
        .await?;
    let mut leaves = Vec::new();
    for (top, subs) in TREE {
        let top_id = match existing.iter().find(|(_, n)| n == top) {
            Some((id, _)) => *id,
            None => {
                kazna_catalog::categories::create(&catalog_db, top, None)
                    .await
                    .map_err(|e| other(&e))?
                    .id
            }
        };
        for sub in subs {
            let id = match existing.iter().find(|(_, n)| n == sub) {
                Some((id, _)) => *id,
                None => {
                    kazna_catalog::categories::create(&catalog_db, sub, Some(top_id))
                        .await
                        .map_err(|e| other(&e))?
                        .id
                }
            };
            leaves.push((sub, id));
        }
    }

    let public = ctx.settings.gateway.public_url.trim_end_matches('/');
    let mut products_created = 0;
    for n in 0..products {
        let sku = format!("DEMO-{n:06}");
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM variants WHERE sku = $1 || '-A'")
                .bind(&sku)
                .fetch_optional(&catalog_db)
                .await?;
        if exists.is_some() {
            continue;
        }
        let (leaf, category) = leaves[n % leaves.len()];
        let adjective = ADJECTIVES[(n / leaves.len()) % ADJECTIVES.len()];
        let noun = leaf.trim_end_matches('s');
        let colour = COLOURS[n % COLOURS.len()];
        let price = 499 + ((n * 7919) % 20_000) as i64;
        let variants = ["A", "B"]
            .iter()
            .enumerate()
            .map(|(i, v)| VariantIn {
                sku: format!("{sku}-{v}"),
                options: json!({"size": SIZES[(n + i) % SIZES.len()], "colour": colour}),
                price: MoneyIn {
                    amount: price + 100 * i as i64,
                    currency: "EUR".into(),
                },
                stock: 5 + ((n * 31 + i * 17) % 200) as i64,
            })
            .collect();
        let product = ProductIn {
            name: format!("{adjective} {noun} no. {n}"),
            description: format!(
                "{} {} {} from the {colour} range, made to last. Demo product number {n}.",
                if adjective.starts_with(['A', 'E', 'I', 'O', 'U']) {
                    "An"
                } else {
                    "A"
                },
                adjective.to_lowercase(),
                noun.to_lowercase(),
            ),
            category_ids: vec![category],
            // Drawn by the storefront, so the demo shop needs nothing from the internet.
            images: vec![
                format!("{public}/static/demo/kazna-{n}.svg"),
                format!("{public}/static/demo/kazna-{n}-b.svg"),
            ],
            attributes: json!({"material": if n % 2 == 0 { "cotton" } else { "recycled" }, "demo": true}),
            variants,
        };
        let parsed = product.parse().map_err(|e| other(&e))?;
        // Each creation also moves the lists of a platform already running to new cache keys.
        kazna_catalog::products::create(&catalog, seller_id, parsed)
            .await
            .map_err(|e| other(&e))?;
        products_created += 1;
    }
    Ok(Summary {
        users_created,
        products_created,
    })
}
