//! ISO 4217 currencies a price can be in, with the number of digits of their minor unit.
//!
//! The list holds the active codes of ISO 4217 (list one, as amended to 2025) that name a
//! currency: no precious metals, fund or testing codes, and none withdrawn (HRK, SLL, ZWL, CUC,
//! ANG). The minor-unit digits are the standard's, so `HUF` and `IDR` have two.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `(code, minor-unit digits)`, sorted by code.
#[rustfmt::skip]
const CURRENCIES: &[(&str, u32)] = &[
    ("AED", 2), ("AFN", 2), ("ALL", 2), ("AMD", 2), ("AOA", 2), ("ARS", 2), ("AUD", 2),
    ("AWG", 2), ("AZN", 2), ("BAM", 2), ("BBD", 2), ("BDT", 2), ("BGN", 2), ("BHD", 3),
    ("BIF", 0), ("BMD", 2), ("BND", 2), ("BOB", 2), ("BRL", 2), ("BSD", 2), ("BTN", 2),
    ("BWP", 2), ("BYN", 2), ("BZD", 2), ("CAD", 2), ("CDF", 2), ("CHF", 2), ("CLP", 0),
    ("CNY", 2), ("COP", 2), ("CRC", 2), ("CUP", 2), ("CVE", 2), ("CZK", 2), ("DJF", 0),
    ("DKK", 2), ("DOP", 2), ("DZD", 2), ("EGP", 2), ("ERN", 2), ("ETB", 2), ("EUR", 2),
    ("FJD", 2), ("FKP", 2), ("GBP", 2), ("GEL", 2), ("GHS", 2), ("GIP", 2), ("GMD", 2),
    ("GNF", 0), ("GTQ", 2), ("GYD", 2), ("HKD", 2), ("HNL", 2), ("HTG", 2), ("HUF", 2),
    ("IDR", 2), ("ILS", 2), ("INR", 2), ("IQD", 3), ("IRR", 2), ("ISK", 0), ("JMD", 2),
    ("JOD", 3), ("JPY", 0), ("KES", 2), ("KGS", 2), ("KHR", 2), ("KMF", 0), ("KPW", 2),
    ("KRW", 0), ("KWD", 3), ("KYD", 2), ("KZT", 2), ("LAK", 2), ("LBP", 2), ("LKR", 2),
    ("LRD", 2), ("LSL", 2), ("LYD", 3), ("MAD", 2), ("MDL", 2), ("MGA", 2), ("MKD", 2),
    ("MMK", 2), ("MNT", 2), ("MOP", 2), ("MRU", 2), ("MUR", 2), ("MVR", 2), ("MWK", 2),
    ("MXN", 2), ("MYR", 2), ("MZN", 2), ("NAD", 2), ("NGN", 2), ("NIO", 2), ("NOK", 2),
    ("NPR", 2), ("NZD", 2), ("OMR", 3), ("PAB", 2), ("PEN", 2), ("PGK", 2), ("PHP", 2),
    ("PKR", 2), ("PLN", 2), ("PYG", 0), ("QAR", 2), ("RON", 2), ("RSD", 2), ("RUB", 2),
    ("RWF", 0), ("SAR", 2), ("SBD", 2), ("SCR", 2), ("SDG", 2), ("SEK", 2), ("SGD", 2),
    ("SHP", 2), ("SLE", 2), ("SOS", 2), ("SRD", 2), ("SSP", 2), ("STN", 2), ("SVC", 2),
    ("SYP", 2), ("SZL", 2), ("THB", 2), ("TJS", 2), ("TMT", 2), ("TND", 3), ("TOP", 2),
    ("TRY", 2), ("TTD", 2), ("TWD", 2), ("TZS", 2), ("UAH", 2), ("UGX", 0), ("USD", 2),
    ("UYU", 2), ("UZS", 2), ("VED", 2), ("VES", 2), ("VND", 0), ("VUV", 0), ("WST", 2),
    ("XAF", 0), ("XCD", 2), ("XCG", 2), ("XOF", 0), ("XPF", 0), ("YER", 2), ("ZAR", 2),
    ("ZMW", 2), ("ZWG", 2),
];

/// A currency of the table: three capital letters that ISO 4217 lists. It is `Copy`, so money
/// moves by value; once one exists, it is a real code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    /// Its place in the table.
    index: u16,
}

/// A code that is not an active ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an ISO 4217 currency code")]
pub struct UnknownCurrency(pub String);

impl Currency {
    pub const EUR: Currency = Currency::known("EUR");
    pub const USD: Currency = Currency::known("USD");

    /// `EUR`, `JPY`…; anything else (`eur`, `XYZ`, `XAU`) is refused.
    pub fn parse(code: &str) -> Result<Self, UnknownCurrency> {
        CURRENCIES
            .binary_search_by(|(c, _)| (*c).cmp(code))
            .map(|i| Currency { index: i as u16 })
            .map_err(|_| UnknownCurrency(code.to_owned()))
    }

    /// For codes written in this crate: a code not in the table fails to compile.
    const fn known(code: &str) -> Currency {
        let mut i = 0;
        while i < CURRENCIES.len() {
            if eq(CURRENCIES[i].0.as_bytes(), code.as_bytes()) {
                return Currency { index: i as u16 };
            }
            i += 1;
        }
        panic!("not in the ISO 4217 table")
    }

    pub fn code(self) -> &'static str {
        CURRENCIES[self.index as usize].0
    }

    /// The digits of the minor unit: 2 for EUR, 0 for JPY, 3 for KWD.
    pub fn minor_digits(self) -> u32 {
        CURRENCIES[self.index as usize].1
    }
}

const fn eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl std::fmt::Debug for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl std::str::FromStr for Currency {
    type Err = UnknownCurrency;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl TryFrom<String> for Currency {
    type Error = UnknownCurrency;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Currency::parse(&s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(CURRENCIES.iter().map(|(code, _)| *code)))
            .description(Some("An active ISO 4217 currency code"))
            .examples(["EUR"])
            .into()
    }
}

impl utoipa::ToSchema for Currency {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_so_lookups_find_every_code() {
        assert!(CURRENCIES.windows(2).all(|w| w[0].0 < w[1].0));
        for (code, digits) in CURRENCIES {
            assert_eq!(code.len(), 3);
            let c = Currency::parse(code).unwrap();
            assert_eq!((c.code(), c.minor_digits()), (*code, *digits));
        }
    }

    #[test]
    fn real_codes_pass_and_others_do_not() {
        assert_eq!(Currency::parse("EUR").map(Currency::minor_digits), Ok(2));
        assert_eq!(Currency::parse("JPY").map(Currency::minor_digits), Ok(0));
        assert_eq!(Currency::parse("KWD").map(Currency::minor_digits), Ok(3));
        assert_eq!(Currency::EUR.code(), "EUR");
        for bad in ["XYZ", "eur", "EU", "EURO", "XAU", "HRK", ""] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn it_travels_as_its_code() {
        let json = serde_json::to_string(&Currency::USD).unwrap();
        assert_eq!(json, "\"USD\"");
        assert_eq!(
            serde_json::from_str::<Currency>(&json).unwrap(),
            Currency::USD
        );
        assert!(serde_json::from_str::<Currency>("\"usd\"").is_err());
    }
}
