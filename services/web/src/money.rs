//! Prices as a shopper reads them: minor units turned into the currency's own digits, with
//! its symbol where it has a well-known one ("€1,234.50", "¥1,200", "CHF 12.00").

use kazna_contracts::Currency;

/// Symbols written before the amount with no space.
const SYMBOLS: [(&str, &str); 5] = [
    ("EUR", "€"),
    ("GBP", "£"),
    ("JPY", "¥"),
    ("USD", "$"),
    ("INR", "₹"),
];

/// The currency's symbol, or its code where it has no well-known one.
pub fn symbol(code: &str) -> &str {
    SYMBOLS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(code, |(_, symbol)| symbol)
}

pub fn format(amount: i64, code: &str) -> String {
    let Ok(currency) = Currency::parse(code) else {
        return format!("{amount} {code}");
    };
    let digits = currency.minor_digits();
    let unit = 10_u64.pow(digits);
    let magnitude = amount.unsigned_abs();
    let (whole, minor) = (magnitude / unit, magnitude % unit);
    let mut grouped = String::new();
    let whole = whole.to_string();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let number = if digits == 0 {
        grouped
    } else {
        format!("{grouped}.{minor:0width$}", width = digits as usize)
    };
    let sign = if amount < 0 { "−" } else { "" };
    match symbol(code) {
        s if s == code => format!("{sign}{code} {number}"),
        s => format!("{sign}{s}{number}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{format, symbol};

    #[test]
    fn amounts_read_in_their_currencys_digits() {
        assert_eq!(format(123_450, "EUR"), "€1,234.50");
        assert_eq!(format(5, "USD"), "$0.05");
        assert_eq!(format(1200, "JPY"), "¥1,200");
        assert_eq!(format(1_234_567, "KWD"), "KWD 1,234.567");
        assert_eq!(format(1200, "CHF"), "CHF 12.00");
        assert_eq!(format(-250, "GBP"), "−£2.50");
        assert_eq!(format(100_000_000, "EUR"), "€1,000,000.00");
        assert_eq!(format(7, "XYZ"), "7 XYZ");
        assert_eq!(symbol("EUR"), "€");
        assert_eq!(symbol("CHF"), "CHF");
    }
}
