//! Template rendering with minijinja, plus a `money` filter for minor units. A template named
//! `*.html` is autoescaped, so a user's name or a product's can never become markup.

use kazna_contracts::{Currency, Money};
use minijinja::{Environment, UndefinedBehavior, Value};

/// Formats an amount of minor units: `money(1999, "EUR")` is `19.99 EUR`.
pub fn money(amount: i64, currency: &str) -> Result<String, minijinja::Error> {
    let currency = Currency::parse(currency).map_err(|e| {
        minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
    })?;
    Ok(Money::new(amount, currency).to_string())
}

fn environment(strict: bool) -> Environment<'static> {
    let mut env = Environment::new();
    env.add_filter("money", |amount: i64, currency: String| {
        money(amount, &currency)
    });
    if strict {
        env.set_undefined_behavior(UndefinedBehavior::Strict);
    }
    env
}

/// Renders `template` (named `name`: `.html` autoescapes) with `data`; a variable the data does
/// not have renders empty.
pub fn render_named(
    name: &str,
    template: &str,
    data: &serde_json::Value,
) -> Result<String, minijinja::Error> {
    environment(false).render_named_str(name, template, Value::from_serialize(data))
}

pub fn render(template: &str, data: &serde_json::Value) -> Result<String, minijinja::Error> {
    render_named("text", template, data)
}

/// Renders `template` with `data` strictly: a variable `data` does not have is an error, named
/// with its line (`line 3: undefined value`).
pub fn check_with(name: &str, template: &str, data: &serde_json::Value) -> Result<(), String> {
    environment(true)
        .render_named_str(name, template, Value::from_serialize(data))
        .map(|_| ())
        .map_err(|e| {
            let what = e
                .detail()
                .map_or_else(|| e.kind().to_string(), str::to_owned);
            match e.line() {
                Some(line) => format!("line {line}: {what}"),
                None => what,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_uses_the_currency_exponent() {
        assert_eq!(money(1999, "EUR").unwrap(), "19.99 EUR");
        assert_eq!(money(5, "USD").unwrap(), "0.05 USD");
        assert_eq!(money(-250, "EUR").unwrap(), "-2.50 EUR");
        assert_eq!(money(500, "JPY").unwrap(), "500 JPY");
        assert_eq!(money(1234, "KWD").unwrap(), "1.234 KWD");
        assert!(money(1, "XYZ").is_err());
    }

    #[test]
    fn templates_see_event_fields() {
        let data = serde_json::json!({"name": "Ada", "total": {"amount": 1000, "currency": "EUR"}});
        let out = render(
            "Hi {{ name }}, {{ total.amount | money(total.currency) }}",
            &data,
        );
        assert_eq!(out.ok().as_deref(), Some("Hi Ada, 10.00 EUR"));
    }

    #[test]
    fn html_is_escaped_in_the_html_part_only() {
        let data = serde_json::json!({"name": "<b>Grace</b> & co"});
        let html = render_named("x.html", "<p>{{ name }}</p>", &data).unwrap();
        assert_eq!(html, "<p>&lt;b&gt;Grace&lt;&#x2f;b&gt; &amp; co</p>");
        let text = render_named("x.txt", "{{ name }}", &data).unwrap();
        assert_eq!(text, "<b>Grace</b> & co");
    }

    #[test]
    fn a_variable_the_event_does_not_have_is_named_with_its_line() {
        let data = serde_json::json!({"name": "Ada"});
        assert_eq!(check_with("t.txt", "Hi {{ name }}", &data), Ok(()));
        let e = check_with("t.txt", "Hi {{ name }}\n\n{{ nmae }}", &data).unwrap_err();
        assert!(e.starts_with("line 3:"), "{e}");
        assert!(
            check_with("t.txt", "{% if %}", &data)
                .unwrap_err()
                .starts_with("line 1:")
        );
    }
}
