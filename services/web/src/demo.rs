//! Pictures for the demo shop, drawn here so it needs nothing from the internet: a gradient
//! and a few shapes whose colours and places follow from the picture's name.

use axum::{
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

/// FNV-1a: the same name always draws the same picture.
fn hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub fn svg(name: &str) -> String {
    let h = hash(name);
    let hue = h % 360;
    let other = (hue + 40 + (h >> 9) % 80) % 360;
    let (x, y, r) = (
        200 + (h >> 17) % 400,
        200 + (h >> 27) % 400,
        90 + (h >> 37) % 110,
    );
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"800\" viewBox=\"0 0 800 800\">\
         <defs><linearGradient id=\"g\" x1=\"0\" y1=\"0\" x2=\"1\" y2=\"1\">\
         <stop offset=\"0\" stop-color=\"hsl({hue},55%,78%)\"/><stop offset=\"1\" stop-color=\"hsl({other},50%,58%)\"/>\
         </linearGradient></defs>\
         <rect width=\"800\" height=\"800\" fill=\"url(#g)\"/>\
         <circle cx=\"{x}\" cy=\"{y}\" r=\"{r}\" fill=\"hsla({other},60%,92%,.55)\"/>\
         <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"24\" fill=\"hsla({hue},45%,30%,.35)\"/>\
         </svg>",
        800 - x / 2 - 120,
        800 - y / 2 - 140,
        160 + r,
        120 + r / 2,
    )
}

pub async fn picture(Path(file): Path<String>) -> Response {
    let Some(name) = file.strip_suffix(".svg").filter(|n| {
        !n.is_empty() && n.len() <= 40 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    }) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut res = svg(name).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    res
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_name_always_draws_the_same_picture_and_names_differ() {
        assert_eq!(super::svg("kazna-1"), super::svg("kazna-1"));
        assert_ne!(super::svg("kazna-1"), super::svg("kazna-2"));
        assert!(super::svg("kazna-1").starts_with("<svg"));
    }
}
