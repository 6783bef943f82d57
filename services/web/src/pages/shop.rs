//! Browsing: the home page, category listings, search with facets, and the product page.

use std::collections::HashMap;

use axum::{
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::Response,
};
use serde_json::{Value, json};

use super::{failed, message, page};
use crate::{
    AppState,
    listing::{Listing, SORTS, major_units},
    session::Visit,
};

/// Products on a listing page.
const PAGE_SIZE: usize = 24;
/// Values shown per facet.
const FACET_VALUES: usize = 12;

/// Every category by id: its name and the path down to it, from the tree.
fn categories(tree: &Value) -> HashMap<String, (String, Vec<Value>)> {
    fn walk(nodes: &Value, path: &[Value], out: &mut HashMap<String, (String, Vec<Value>)>) {
        for n in nodes.as_array().into_iter().flatten() {
            let (Some(id), Some(name)) = (n["id"].as_str(), n["name"].as_str()) else {
                continue;
            };
            let mut here = path.to_vec();
            here.push(json!({"id": id, "name": name}));
            out.insert(id.to_owned(), (name.to_owned(), here.clone()));
            walk(&n["children"], &here, out);
        }
    }
    let mut out = HashMap::new();
    walk(tree, &[], &mut out);
    out
}

fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub async fn home(State(s): State<AppState>, mut visit: Visit) -> Response {
    let tree = visit.get("/api/v1/categories/tree").await;
    let newest = visit
        .get("/api/v1/search?sort=newest&limit=8&facets=false")
        .await;
    let popular = visit.get("/api/v1/search?limit=8&facets=false").await;
    if !tree.ok() {
        return failed(&s, visit, &tree);
    }
    let ctx = json!({
        "categories": tree.body,
        "newest": newest.body["items"],
        "popular": popular.body["items"],
    });
    page(&s, visit, StatusCode::OK, "home.html", ctx)
}

pub async fn search(State(s): State<AppState>, visit: Visit, RawQuery(raw): RawQuery) -> Response {
    let l = Listing::parse(&pairs(raw.as_deref()));
    listing(s, visit, l, "/search", None).await
}

pub async fn category(
    State(s): State<AppState>,
    visit: Visit,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    if uuid::Uuid::parse_str(&id).is_err() {
        return super::not_found(State(s), visit).await;
    }
    let mut l = Listing::parse(&pairs(raw.as_deref()));
    l.category = Some(id.clone());
    listing(s, visit, l, &format!("/categories/{id}"), Some(id)).await
}

/// A search or a category: products, facets, sorting and pages.
async fn listing(
    s: AppState,
    mut visit: Visit,
    l: Listing,
    path: &str,
    category: Option<String>,
) -> Response {
    let digits = s.cfg.currency.minor_digits();
    let tree = visit.get("/api/v1/categories/tree").await;
    let names = categories(&tree.body);
    let current = category.as_ref().and_then(|id| names.get(id));
    if category.is_some() && current.is_none() && tree.ok() {
        return super::not_found(State(s), visit).await;
    }
    let (found, errors) = match l.api_query(digits, PAGE_SIZE) {
        Ok(q) => {
            let answer = visit.get(&format!("/api/v1/search?{q}")).await;
            if !answer.ok() {
                let errors = answer.field_errors();
                if answer.status.is_server_error() || errors.is_empty() {
                    return failed(&s, visit, &answer);
                }
                (Value::Null, json!(errors))
            } else {
                (answer.body, Value::Null)
            }
        }
        Err(errors) => (Value::Null, json!(errors)),
    };
    let here = if category.is_some() {
        // On a category page the category is in the path, not the query.
        Listing {
            category: None,
            ..l.clone()
        }
    } else {
        l.clone()
    };
    let facets = facet_links(
        &found["facets"],
        &names,
        &here,
        path,
        category.as_deref(),
        s.cfg.currency,
    );
    let sorts: Vec<Value> = SORTS
        .iter()
        .map(|(value, label)| {
            let selected = l.sort == *value || (l.sort.is_empty() && *value == "relevance");
            json!({"value": value, "label": label, "selected": selected})
        })
        .collect();
    let next = found["next_cursor"]
        .as_str()
        .map(|c| here.href(path, |l| l.cursor = Some(c.to_owned())));
    let first = l.cursor.as_ref().map(|_| here.href(path, |_| {}));
    let clear =
        (here.min.len() + here.max.len() + here.attrs.len() > 0 || here.in_stock).then(|| {
            here.href(path, |l| {
                l.min.clear();
                l.max.clear();
                l.attrs.clear();
                l.in_stock = false;
            })
        });
    let ctx = json!({
        "path": path,
        "q": l.q,
        "heading": current.map(|(name, _)| name.clone()),
        "breadcrumb": current.map(|(_, trail)| trail.clone()),
        "listing": {"min": l.min, "max": l.max, "in_stock": l.in_stock, "sort": l.sort,
                    "category": here.category, "attrs": l.attrs},
        "errors": errors,
        "items": found["items"],
        "total": found["total"],
        "facets": facets,
        "sorts": sorts,
        "next": next,
        "first": first,
        "clear": clear,
        "currency_symbol": crate::money::symbol(s.cfg.currency.code()),
    });
    let status = if errors.is_null() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    page(&s, visit, status, "listing.html", ctx)
}

/// The facets of a listing as links: each category, attribute value and price range with its
/// count, leading to the same listing narrowed by it (a value already picked leads back out).
fn facet_links(
    facets: &Value,
    names: &HashMap<String, (String, Vec<Value>)>,
    here: &Listing,
    path: &str,
    category: Option<&str>,
    currency: kazna_contracts::Currency,
) -> Value {
    let category_facet: Vec<Value> = facets["category"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["value"].as_str() != category)
        .filter_map(|c| {
            let id = c["value"].as_str()?;
            let (name, _) = names.get(id)?;
            let href = if category.is_some() {
                here.href(&format!("/categories/{id}"), |_| {})
            } else {
                here.href(path, |l| l.category = Some(id.to_owned()))
            };
            Some(json!({"name": name, "count": c["count"], "href": href}))
        })
        .take(FACET_VALUES)
        .collect();
    let attribute_facets: Vec<Value> = facets["attributes"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, values)| {
            let values: Vec<Value> = values
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| {
                    let value = v["value"].as_str()?;
                    let (href, on) = here.toggled(path, name, value);
                    Some(json!({"value": value, "count": v["count"], "href": href, "on": on}))
                })
                .take(FACET_VALUES)
                .collect();
            json!({"name": name, "values": values})
        })
        .collect();
    let (digits, currency) = (currency.minor_digits(), currency.code());
    let price_facet: Vec<Value> = facets["price"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| {
            let (from, to) = (b["from"].as_i64()?, b["to"].as_i64()?);
            let (min, max) = (major_units(from, digits), major_units(to - 1, digits));
            let href = here.href(path, |l| {
                l.min = min.clone();
                l.max = max.clone();
            });
            let label = format!(
                "{} – {}",
                crate::money::format(from, currency),
                crate::money::format(to - 1, currency)
            );
            Some(json!({"label": label, "count": b["count"], "href": href}))
        })
        .collect();
    json!({"category": category_facet, "attributes": attribute_facets, "price": price_facet})
}

/// The product page's view of its variants: a label from the options, whether it can be
/// bought, which one is picked.
pub fn variants(product: &Value, picked: Option<&str>) -> Vec<Value> {
    let vs = product["variants"].as_array().cloned().unwrap_or_default();
    let picked = picked
        .filter(|p| vs.iter().any(|v| v["id"].as_str() == Some(*p)))
        .map(str::to_owned)
        .or_else(|| {
            vs.iter()
                .find(|v| v["available"].as_i64().unwrap_or(0) > 0)
                .or(vs.first())
                .and_then(|v| v["id"].as_str().map(str::to_owned))
        });
    vs.iter()
        .map(|v| {
            let label = v["options"]
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| {
                            format!(
                                "{}: {}",
                                crate::render::words(k),
                                v.as_str().unwrap_or_default()
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| v["sku"].as_str().unwrap_or_default().to_owned());
            let available = v["available"].as_i64().unwrap_or(0);
            json!({
                "id": v["id"], "label": label, "price": v["price"], "available": available,
                "picked": v["id"].as_str() == picked.as_deref(),
            })
        })
        .collect()
}

pub async fn product(
    State(s): State<AppState>,
    mut visit: Visit,
    Path(id): Path<String>,
) -> Response {
    if uuid::Uuid::parse_str(&id).is_err() {
        return super::not_found(State(s), visit).await;
    }
    let answer = visit.get(&format!("/api/v1/products/{id}")).await;
    if !answer.ok() {
        return failed(&s, visit, &answer);
    }
    product_page(&s, visit, &answer.body, None, StatusCode::OK, None)
}

/// The product page, with an error from adding it to the cart if there was one.
pub fn product_page(
    s: &AppState,
    visit: Visit,
    product: &Value,
    picked: Option<&str>,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    if product["status"].as_str().is_some_and(|st| st != "active") {
        return message(
            s,
            visit,
            StatusCode::NOT_FOUND,
            "This product is not on sale",
            "It may have been removed or hidden by the shop.",
            Some(("/", "Go to the shop")),
        );
    }
    let ctx = json!({
        "product": product,
        "variants": variants(product, picked),
        // Text and numbers, as search offers them to filter by; flags and lists are not shown.
        "attributes": product["attributes"].as_object().map(|a| {
            a.iter()
                .filter_map(|(k, v)| {
                    let value = match v {
                        Value::String(t) => t.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => return None,
                    };
                    Some(json!({"name": crate::render::words(k), "value": value}))
                })
                .collect::<Vec<_>>()
        }),
        "error": error,
    });
    page(s, visit, status, "product.html", ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_variant_in_stock_is_picked_unless_one_is_asked_for() {
        let p = json!({"variants": [
            {"id": "a", "sku": "A", "options": {"size": "S"}, "available": 0},
            {"id": "b", "sku": "B", "options": {"size": "M", "colour": "red"}, "available": 3},
            {"id": "c", "sku": "C", "options": {}, "available": 1},
        ]});
        let v = variants(&p, None);
        let picked: Vec<bool> = v.iter().map(|v| v["picked"] == true).collect();
        assert_eq!(picked, [false, true, false]);
        assert_eq!(v[1]["label"], "Colour: red, Size: M");
        assert_eq!(v[2]["label"], "C");
        let v = variants(&p, Some("c"));
        assert_eq!(v[2]["picked"], true);
        let v = variants(&p, Some("nope"));
        assert_eq!(v[1]["picked"], true);
    }

    #[test]
    fn categories_know_their_path() {
        let tree = json!([{"id": "a", "name": "Home", "children": [
            {"id": "b", "name": "Lamps", "children": []}]}]);
        let c = categories(&tree);
        assert_eq!(c["b"].0, "Lamps");
        assert_eq!(c["b"].1.len(), 2);
        assert_eq!(c["b"].1[0]["name"], "Home");
    }
}
