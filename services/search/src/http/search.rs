//! `GET /api/v1/search`: what a shopper asks, checked, answered from the hot-query cache or
//! the index.

use std::collections::{BTreeMap, HashMap};

use axum::{
    extract::State,
    http::{HeaderMap, HeaderName, header},
};
use kazna_contracts::Money;
use kazna_kernel::{Code, FieldError, Json, Problem, Query};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    AppState,
    error::Result,
    index::{Cursor, Filters, Sort},
};

/// The most attributes one search may filter by, and values per attribute.
const MAX_ATTRIBUTES: usize = 10;
const MAX_VALUES: usize = 20;

#[derive(Debug, Deserialize, IntoParams)]
pub(super) struct SearchQuery {
    /// Words to look for, as plain text (no query syntax). Every word must match, typos
    /// tolerated and the last word also as the start of one; when no product matches them
    /// all, a word no product has is left out, or else the commonest, until some do.
    #[serde(default)]
    #[param(max_length = 200)]
    q: String,
    /// Only products in this category (an id) or one below it.
    #[param(format = Uuid)]
    category: Option<String>,
    /// The cheapest variant costs at least this, in minor units.
    #[param(minimum = 0)]
    min_price: Option<String>,
    /// The cheapest variant costs at most this, in minor units.
    #[param(minimum = 0)]
    max_price: Option<String>,
    /// `true`: only products with a variant available.
    in_stock: Option<String>,
    /// Only this seller's products (a user id).
    #[param(format = Uuid)]
    seller: Option<String>,
    /// `relevance` (the default: how well the words match, lifted by recent sales and by
    /// newness), `price_asc`, `price_desc` or `newest`.
    sort: Option<String>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// `false`: leave the facets out (empty), which makes the search cheaper.
    facets: Option<String>,
    /// `attr.<name>=<value>[,<value>…]`: products with one of these values of an attribute
    /// or a variant option (`attr.colour=red,blue`); every attribute named must match.
    #[serde(flatten)]
    #[param(ignore)]
    rest: HashMap<String, String>,
}

/// What a search asks, checked: every bad parameter is named.
struct Asked {
    q: String,
    filters: Filters,
    sort: Sort,
    cursor: Option<Cursor>,
    limit: usize,
    facets: bool,
}

fn parse(q: SearchQuery) -> std::result::Result<Asked, Problem> {
    let mut errors = Vec::new();
    let mut price = |name: &str, raw: Option<&str>| match raw.map(str::parse::<i64>) {
        None => None,
        Some(Ok(n)) if n >= 0 => Some(n),
        Some(_) => {
            errors.push(FieldError::new(
                name,
                "a whole number of minor units, 0 or more",
            ));
            None
        }
    };
    let min_price = price("min_price", q.min_price.as_deref());
    let max_price = price("max_price", q.max_price.as_deref());
    if let (Some(lo), Some(hi)) = (min_price, max_price)
        && lo > hi
    {
        errors.push(FieldError::new("max_price", "must not be below min_price"));
    }
    let mut id = |name: &str, raw: Option<&str>, what: &str| match raw.map(Uuid::parse_str) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            errors.push(FieldError::new(name, what));
            None
        }
    };
    let category = id("category", q.category.as_deref(), "a category id");
    let seller = id("seller", q.seller.as_deref(), "a seller's user id");
    let in_stock = match q.in_stock.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            errors.push(FieldError::new("in_stock", "true or false"));
            false
        }
    };
    let sort = match q.sort.as_deref().map(str::parse::<Sort>) {
        None => Sort::Relevance,
        Some(Ok(s)) => s,
        Some(Err(())) => {
            errors.push(FieldError::new(
                "sort",
                "relevance, price_asc, price_desc or newest",
            ));
            Sort::Relevance
        }
    };
    let limit = match q.limit.as_deref().map(str::parse::<usize>) {
        None => 20,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            errors.push(FieldError::new("limit", "must be between 1 and 100"));
            20
        }
    };
    let cursor = match q.cursor.as_deref().map(str::parse::<Cursor>) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(())) => {
            errors.push(FieldError::new("cursor", "is not a cursor this API gave"));
            None
        }
    };
    let facets = match q.facets.as_deref() {
        None | Some("true") => true,
        Some("false") => false,
        Some(_) => {
            errors.push(FieldError::new("facets", "true or false"));
            true
        }
    };
    if q.q.chars().count() > 200 {
        errors.push(FieldError::new("q", "must be at most 200 characters"));
    }
    let attributes = attributes(q.rest, &mut errors);
    if !errors.is_empty() {
        let mut p = Problem::new(Code::InvalidParameter);
        p.errors = errors;
        return Err(p);
    }
    Ok(Asked {
        q: q.q,
        filters: Filters {
            category,
            min_price,
            max_price,
            in_stock,
            seller,
            attributes,
        },
        sort,
        cursor,
        limit,
        facets,
    })
}

/// The `attr.<name>` filters, in name order; other unknown parameters are ignored.
fn attributes(
    rest: HashMap<String, String>,
    errors: &mut Vec<FieldError>,
) -> Vec<(String, Vec<String>)> {
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, raw) in rest {
        let Some(name) = key.strip_prefix("attr.") else {
            continue;
        };
        let name_ok = (1..=40).contains(&name.chars().count())
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
        let mut values: Vec<String> = raw
            .split(',')
            .map(|v| v.trim().to_lowercase())
            .filter(|v| !v.is_empty())
            .collect();
        values.sort();
        values.dedup();
        if !name_ok {
            errors.push(FieldError::new(
                key.clone(),
                "an attribute name: 1 to 40 letters, digits, `_` or `-`",
            ));
        } else if values.is_empty()
            || values.len() > MAX_VALUES
            || values.iter().any(|v| v.chars().count() > 100)
        {
            errors.push(FieldError::new(
                key.clone(),
                format!("1 to {MAX_VALUES} values of at most 100 characters, comma-separated"),
            ));
        } else {
            by_name.insert(name.to_lowercase(), values);
        }
    }
    if by_name.len() > MAX_ATTRIBUTES {
        errors.push(FieldError::new(
            "attr",
            format!("at most {MAX_ATTRIBUTES} attributes at once"),
        ));
    }
    by_name.into_iter().collect()
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(super) struct Item {
    product_id: Uuid,
    name: String,
    /// The cheapest variant's price.
    price: Money,
    /// How well it matches, lifted by recent sales and newness (0 when sorted by something
    /// else).
    score: f32,
    /// The name, HTML-escaped, with the words that matched (typos included) in `<b>`.
    highlight: String,
    /// The product's main picture, when it has one.
    image: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(super) struct FacetCount {
    /// A category id.
    value: Uuid,
    count: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(super) struct ValueCount {
    /// An attribute's value, in lower case.
    value: String,
    count: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(super) struct PriceCount {
    /// Minor units, included.
    from: i64,
    /// Minor units, excluded.
    to: i64,
    count: u64,
}

/// Counts over everything the search found, filters applied.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(super) struct ResultFacets {
    /// Per category, each counting what is in it or below it.
    category: Vec<FacetCount>,
    /// Per attribute (and variant option) name, in lower case: its values, most found first.
    attributes: BTreeMap<String, Vec<ValueCount>>,
    /// Per price range of the cheapest variant, with round edges around the prices found.
    price: Vec<PriceCount>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(super) struct Results {
    items: Vec<Item>,
    total: usize,
    facets: ResultFacets,
    /// The next page, read from the index as it was for this one, so pages neither repeat
    /// nor skip while the index changes (products no longer on sale are left out).
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/search", tag = "search", params(SearchQuery),
    description = "Filters by attribute take `attr.<name>=<value>[,<value>…]` besides the parameters listed.",
    responses((status = 200, body = Results,
                headers(("x-cache" = String, description = "`hit` when answered from the hot-query cache, else `miss` (always with `Cache-Control: no-cache`)"))),
              (status = 400, description = "invalid_parameter, naming each bad one", body = Problem)))]
pub(super) async fn search(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SearchQuery>,
) -> Result<([(HeaderName, &'static str); 1], Json<Results>)> {
    let Asked {
        q,
        filters,
        sort,
        cursor,
        limit,
        facets: with_facets,
    } = parse(q)?;
    // `Cache-Control: no-cache` asks for an answer from the index itself.
    let fresh = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|d| d.trim().eq_ignore_ascii_case("no-cache"))
        });
    let index = s.index.current();
    let words = index.normalized(&q);
    // The request as the cache knows it: what the index reads of it, nothing else.
    let browse = q.trim().is_empty();
    let at = cursor.map_or_else(|| "first".to_owned(), |c| c.to_string());
    let request = format!("{browse}|{words}|{filters:?}|{sort:?}|{at}|{limit}|{with_facets}");
    let (epoch, generation) = index.generation();
    let generation = format!("{epoch}.{generation}");
    let cached = match fresh {
        true => None,
        false => s.cache.get::<Results>(&generation, &request).await,
    };
    let (results, cached) = match cached {
        Some(results) => (results, "hit"),
        None => {
            let results = s
                .pool
                .run(move || {
                    let (page, facets) = match with_facets {
                        true => index.page_with_facets(&q, &filters, sort, cursor, limit)?,
                        false => (
                            index.page(&q, &filters, sort, cursor, limit)?,
                            Default::default(),
                        ),
                    };
                    Ok::<_, crate::error::Error>(results(page, facets))
                })
                .await??;
            if !fresh {
                s.cache.put(&generation, &request, &results).await;
            }
            (results, "miss")
        }
    };
    // Only a shopper's first page counts as a query asked.
    if cursor.is_none() {
        s.tally.count(&words, results.total);
    }
    Ok((
        [(HeaderName::from_static("x-cache"), cached)],
        Json(results),
    ))
}

fn results(page: crate::index::Page, facets: crate::index::Facets) -> Results {
    let items = page
        .hits
        .into_iter()
        .map(|h| Item {
            product_id: h.product_id,
            name: h.name,
            price: h.price,
            score: h.score,
            highlight: h.highlight,
            image: h.image,
        })
        .collect();
    let facets = ResultFacets {
        category: facets
            .categories
            .into_iter()
            .map(|c| FacetCount {
                value: c.id,
                count: c.count,
            })
            .collect(),
        attributes: facets
            .attributes
            .into_iter()
            .map(|(name, values)| {
                let values = values
                    .into_iter()
                    .map(|v| ValueCount {
                        value: v.value,
                        count: v.count,
                    })
                    .collect();
                (name, values)
            })
            .collect(),
        price: facets
            .price
            .into_iter()
            .map(|b| PriceCount {
                from: b.from,
                to: b.to,
                count: b.count,
            })
            .collect(),
    };
    Results {
        items,
        total: page.total,
        facets,
        next_cursor: page.next.map(|c| c.to_string()),
    }
}
