//! Money: an integer number of minor units in one currency, never floating point.
//!
//! On the wire it is `{"amount": 1999, "currency": "EUR"}`. Arithmetic is checked: adding two
//! currencies or leaving the `i64` range is an error the caller must handle, never a panic or
//! a silent wrap.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::currency::Currency;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct Money {
    /// Minor units (cents for EUR, yen for JPY).
    #[serde(rename = "amount")]
    pub amount_minor: i64,
    pub currency: Currency,
}

/// Why a sum or a product of money has no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("cannot add {0} to {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("the amount leaves the range of minor units")]
    Overflow,
}

impl Money {
    pub const fn new(amount_minor: i64, currency: Currency) -> Self {
        Self {
            amount_minor,
            currency,
        }
    }

    pub const fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        self.amount_minor
            .checked_add(other.amount_minor)
            .map(|a| Money::new(a, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    /// The price of `quantity` units.
    pub fn checked_mul(self, quantity: i64) -> Result<Money, MoneyError> {
        self.amount_minor
            .checked_mul(quantity)
            .map(|a| Money::new(a, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    /// The sum of `amounts`, all in `currency` (zero when there are none).
    pub fn sum(
        currency: Currency,
        amounts: impl IntoIterator<Item = Money>,
    ) -> Result<Money, MoneyError> {
        amounts
            .into_iter()
            .try_fold(Money::zero(currency), Money::checked_add)
    }
}

impl std::fmt::Display for Money {
    /// `19.99 EUR`, `500 JPY`, `1.234 KWD`: the currency's own minor-unit digits.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits = self.currency.minor_digits();
        let sign = if self.amount_minor < 0 { "-" } else { "" };
        let a = self.amount_minor.unsigned_abs();
        if digits == 0 {
            return write!(f, "{sign}{a} {}", self.currency);
        }
        let unit = 10u64.pow(digits);
        write!(
            f,
            "{sign}{}.{:0width$} {}",
            a / unit,
            a % unit,
            self.currency,
            width = digits as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(a: i64) -> Money {
        Money::new(a, Currency::EUR)
    }

    #[test]
    fn the_wire_shape_is_amount_and_currency() {
        let json = serde_json::to_value(eur(1999)).unwrap();
        assert_eq!(json, serde_json::json!({"amount": 1999, "currency": "EUR"}));
        let back: Money = serde_json::from_value(json).unwrap();
        assert_eq!(back, eur(1999));
        let bad = serde_json::json!({"amount": 1, "currency": "XYZ"});
        assert!(serde_json::from_value::<Money>(bad).is_err());
    }

    #[test]
    fn sums_refuse_other_currencies_and_overflow() {
        assert_eq!(eur(150).checked_add(eur(50)), Ok(eur(200)));
        let usd = Money::new(1, Currency::USD);
        assert_eq!(
            eur(1).checked_add(usd),
            Err(MoneyError::CurrencyMismatch(Currency::EUR, Currency::USD))
        );
        assert_eq!(eur(i64::MAX).checked_add(eur(1)), Err(MoneyError::Overflow));
        assert_eq!(
            eur(i64::MAX / 2 + 1).checked_mul(2),
            Err(MoneyError::Overflow)
        );
        assert_eq!(eur(250).checked_mul(4), Ok(eur(1000)));
        assert_eq!(Money::sum(Currency::EUR, [eur(1), eur(2)]), Ok(eur(3)));
        assert_eq!(Money::sum(Currency::EUR, []), Ok(eur(0)));
        assert!(Money::sum(Currency::EUR, [usd]).is_err());
    }

    #[test]
    fn it_prints_with_the_currency_digits() {
        assert_eq!(eur(1999).to_string(), "19.99 EUR");
        assert_eq!(eur(5).to_string(), "0.05 EUR");
        assert_eq!(eur(-250).to_string(), "-2.50 EUR");
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(Money::new(500, jpy).to_string(), "500 JPY");
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(Money::new(1234, kwd).to_string(), "1.234 KWD");
    }
}
