//! What a listing page (search or category) shows, as its address says: the words, filters,
//! sort and page; how that becomes a call to the search API; and the addresses of the same
//! listing with one thing changed, for facets, sorting and paging without JavaScript.

use std::collections::BTreeMap;

use crate::api::encode;

/// The most attributes a listing address may filter by, as the search API allows.
const MAX_ATTRIBUTES: usize = 10;
pub const SORTS: [(&str, &str); 4] = [
    ("relevance", "Best match"),
    ("price_asc", "Price: low to high"),
    ("price_desc", "Price: high to low"),
    ("newest", "Newest"),
];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    pub q: String,
    pub category: Option<String>,
    /// Prices as the shopper typed them, in major units ("12.50").
    pub min: String,
    pub max: String,
    pub sort: String,
    pub in_stock: bool,
    /// Attribute name (lower case) to the values any of which a product must have.
    pub attrs: BTreeMap<String, Vec<String>>,
    pub cursor: Option<String>,
}

fn attribute_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 50
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// "12.50" in minor units of a currency with `digits` decimals; `None` for anything else.
pub fn minor_units(typed: &str, digits: u32) -> Option<i64> {
    let typed = typed.trim();
    let (whole, frac) = typed.split_once('.').unwrap_or((typed, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && frac.is_empty()
        || !all_digits(whole)
        || !all_digits(frac)
        || frac.len() > digits as usize
        || whole.len() > 12
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<width$}", width = digits as usize)
            .parse()
            .ok()?
    };
    whole.checked_mul(10_i64.pow(digits))?.checked_add(frac)
}

/// Minor units as the shopper would type them ("12.5" for 1250 with two digits).
pub fn major_units(minor: i64, digits: u32) -> String {
    let unit = 10_i64.pow(digits);
    let (whole, frac) = (minor / unit, minor % unit);
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:0width$}", width = digits as usize);
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

impl Listing {
    pub fn parse(pairs: &[(String, String)]) -> Self {
        let mut l = Listing::default();
        for (k, v) in pairs {
            let v = v.trim();
            match k.as_str() {
                "q" => l.q = v.chars().take(200).collect(),
                "category" if !v.is_empty() => l.category = Some(v.to_owned()),
                "min" => l.min = v.chars().take(20).collect(),
                "max" => l.max = v.chars().take(20).collect(),
                "sort" if SORTS.iter().any(|(s, _)| *s == v) => l.sort = v.to_owned(),
                "in_stock" => l.in_stock = v == "1",
                "cursor" if !v.is_empty() => l.cursor = Some(v.to_owned()),
                k => {
                    if let Some(name) = k.strip_prefix("attr.")
                        && attribute_name(name)
                        && !v.is_empty()
                        && (l.attrs.len() < MAX_ATTRIBUTES || l.attrs.contains_key(name))
                    {
                        let values = l.attrs.entry(name.to_owned()).or_default();
                        for value in v.split(',').map(str::trim).filter(|x| !x.is_empty()) {
                            if values.len() < 20 && !values.iter().any(|x| x == value) {
                                values.push(value.to_lowercase());
                            }
                        }
                    }
                }
            }
        }
        l
    }

    /// The search API's query for this listing, or the fields typed wrong.
    pub fn api_query(
        &self,
        digits: u32,
        limit: usize,
    ) -> Result<String, BTreeMap<&'static str, String>> {
        let mut errors = BTreeMap::new();
        let mut p: Vec<(String, String)> = vec![("limit".into(), limit.to_string())];
        if !self.q.is_empty() {
            p.push(("q".into(), self.q.clone()));
        }
        if let Some(c) = &self.category {
            p.push(("category".into(), c.clone()));
        }
        for (field, typed, param) in [
            ("min", &self.min, "min_price"),
            ("max", &self.max, "max_price"),
        ] {
            if typed.is_empty() {
                continue;
            }
            match minor_units(typed, digits) {
                Some(v) => p.push((param.into(), v.to_string())),
                None => {
                    errors.insert(field, "Type a price like 12.50".to_owned());
                }
            }
        }
        if !self.sort.is_empty() {
            p.push(("sort".into(), self.sort.clone()));
        }
        if self.in_stock {
            p.push(("in_stock".into(), "true".into()));
        }
        for (name, values) in &self.attrs {
            p.push((format!("attr.{name}"), values.join(",")));
        }
        if let Some(c) = &self.cursor {
            p.push(("cursor".into(), c.clone()));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(query(&p))
    }

    /// This listing's own address parameters.
    fn params(&self) -> Vec<(String, String)> {
        let mut p = Vec::new();
        let mut put = |k: &str, v: &str| {
            if !v.is_empty() {
                p.push((k.to_owned(), v.to_owned()));
            }
        };
        put("q", &self.q);
        put("category", self.category.as_deref().unwrap_or_default());
        put("min", &self.min);
        put("max", &self.max);
        put("sort", &self.sort);
        put("in_stock", if self.in_stock { "1" } else { "" });
        for (name, values) in &self.attrs {
            put(&format!("attr.{name}"), &values.join(","));
        }
        put("cursor", self.cursor.as_deref().unwrap_or_default());
        p
    }

    /// The address of this listing at `path` changed by `change`, from its first page unless
    /// `change` sets a cursor.
    pub fn href(&self, path: &str, change: impl FnOnce(&mut Listing)) -> String {
        let mut l = self.clone();
        l.cursor = None;
        change(&mut l);
        let q = query(&l.params());
        if q.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{q}")
        }
    }

    /// This listing with `value` of attribute `name` added, or taken out if it was in.
    pub fn toggled(&self, path: &str, name: &str, value: &str) -> (String, bool) {
        let on = self
            .attrs
            .get(name)
            .is_some_and(|vs| vs.iter().any(|v| v == value));
        let href = self.href(path, |l| {
            let values = l.attrs.entry(name.to_owned()).or_default();
            if on {
                values.retain(|v| v != value);
            } else {
                values.push(value.to_owned());
            }
            if values.is_empty() {
                l.attrs.remove(name);
            }
        });
        (href, on)
    }
}

fn query(p: &[(String, String)]) -> String {
    p.iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn typed_prices_become_minor_units() {
        assert_eq!(minor_units("12.50", 2), Some(1250));
        assert_eq!(minor_units("12.5", 2), Some(1250));
        assert_eq!(minor_units("12", 2), Some(1200));
        assert_eq!(minor_units(".5", 2), Some(50));
        assert_eq!(minor_units("1200", 0), Some(1200));
        for bad in ["", ".", "12.345", "-1", "1e3", "12,50", "9999999999999"] {
            assert_eq!(minor_units(bad, 2), None, "{bad}");
        }
        assert_eq!(minor_units("1.5", 0), None);
        assert_eq!(major_units(1250, 2), "12.5");
        assert_eq!(major_units(1999, 2), "19.99");
        assert_eq!(major_units(1200, 2), "12");
        assert_eq!(major_units(1200, 0), "1200");
    }

    #[test]
    fn a_listing_address_becomes_the_search_apis_query() {
        let l = Listing::parse(&pairs(
            "q=red+lamp&category=c1&min=10&max=19.99&sort=price_asc&in_stock=1&attr.colour=Red,blue&attr.Bad!=x&sort2=y&cursor=abc",
        ));
        assert_eq!(
            l.api_query(2, 24).as_deref(),
            Ok(
                "limit=24&q=red+lamp&category=c1&min_price=1000&max_price=1999&sort=price_asc&in_stock=true&attr.colour=red%2Cblue&cursor=abc"
            )
        );
        let bad = Listing::parse(&pairs("min=ten&sort=cheapest"));
        assert_eq!(bad.sort, "", "an unknown sort is the default");
        let errors = bad.api_query(2, 24).expect_err("a bad price");
        assert_eq!(errors.keys().copied().collect::<Vec<_>>(), ["min"]);
    }

    #[test]
    fn facet_links_toggle_one_value_and_start_from_the_first_page() {
        let l = Listing::parse(&pairs("q=lamp&attr.colour=red&cursor=abc"));
        let (on, was) = l.toggled("/search", "colour", "blue");
        assert!(!was);
        assert_eq!(on, "/search?q=lamp&attr.colour=red%2Cblue");
        let (off, was) = l.toggled("/search", "colour", "red");
        assert!(was);
        assert_eq!(off, "/search?q=lamp");
        assert_eq!(
            l.href("/search", |l| l.sort = "newest".into()),
            "/search?q=lamp&sort=newest&attr.colour=red"
        );
    }
}
