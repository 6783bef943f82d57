//! Template rendering with minijinja, plus a `money` filter for minor units.

use minijinja::{Environment, Value};

/// The digits of the currency's minor unit; two for a code ISO 4217 does not list.
fn exponent(currency: &str) -> u32 {
    kazna_contracts::currency::minor_digits(currency).unwrap_or(2)
}

/// Formats an amount of minor units: `money(1999, "EUR")` is `19.99 EUR`.
pub fn money(amount: i64, currency: &str) -> String {
    let exp = exponent(currency);
    if exp == 0 {
        return format!("{amount} {currency}");
    }
    let unit = 10i64.pow(exp);
    let sign = if amount < 0 { "-" } else { "" };
    let a = amount.unsigned_abs();
    let u = unit.unsigned_abs();
    format!(
        "{sign}{}.{:0width$} {currency}",
        a / u,
        a % u,
        width = exp as usize
    )
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
        assert_eq!(money(1999, "EUR"), "19.99 EUR");
        assert_eq!(money(5, "USD"), "0.05 USD");
        assert_eq!(money(-250, "EUR"), "-2.50 EUR");
        assert_eq!(money(500, "JPY"), "500 JPY");
        assert_eq!(money(1234, "KWD"), "1.234 KWD");
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
