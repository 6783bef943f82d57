//! Template rendering with minijinja, plus a `money` filter for minor units.

use kazna_contracts::{Currency, Money};
use minijinja::{Environment, Value};

/// Formats an amount of minor units: `money(1999, "EUR")` is `19.99 EUR`.
pub fn money(amount: i64, currency: &str) -> Result<String, minijinja::Error> {
    let currency = Currency::parse(currency).map_err(|e| {
        minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
    })?;
    Ok(Money::new(amount, currency).to_string())
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.add_filter("money", |amount: i64, currency: String| {
        money(amount, &currency)
    });
    env
}

pub fn render(template: &str, data: &serde_json::Value) -> Result<String, minijinja::Error> {
    environment().render_str(template, Value::from_serialize(data))
}

/// Checks that a template compiles, for admins editing one.
pub fn check(template: &str) -> Result<(), minijinja::Error> {
    let env = environment();
    env.template_from_str(template).map(|_| ())
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
}
