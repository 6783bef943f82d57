//! Account values, parsed once at the edge: if one exists, it is valid.

use kazna_kernel::{FieldError, Role};

use crate::error::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Trims and lower-cases; requires one `@` with a dotted domain.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim().to_lowercase();
        if s.len() > 254 {
            return Err("must be at most 254 characters".into());
        }
        let valid = match s.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !s.chars().any(char::is_whitespace)
            }
            None => false,
        };
        if valid {
            Ok(Self(s))
        } else {
            Err("is not a valid email address".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that meets the rules; never printed.
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str, email: Option<&Email>) -> Result<Self, String> {
        let n = raw.chars().count();
        if !(8..=128).contains(&n) {
            return Err("must be 8 to 128 characters".into());
        }
        if email.is_some_and(|e| raw.trim().eq_ignore_ascii_case(e.as_str())) {
            return Err("must not be your email address".into());
        }
        if is_common(raw) {
            return Err("is one of the most common passwords; choose another".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

const MAX_LISTED_LEN: usize = 32;

/// Whether the whole password is one entry of the common-password list that ships with
/// zxcvbn (30,000 passwords from public breach corpora, matched case-insensitively).
fn is_common(password: &str) -> bool {
    // Listed passwords are short; long inputs (which can overflow the estimator's arithmetic)
    // are not on the list by construction.
    if password.chars().count() > MAX_LISTED_LEN {
        return false;
    }
    // The estimator is third-party code on untrusted input: a panic in it must not become a
    // failed request.
    let Ok(estimate) = std::panic::catch_unwind(|| zxcvbn::zxcvbn(password, &[])) else {
        return false;
    };
    match estimate.sequence() {
        [only] => match &only.pattern {
            zxcvbn::matching::patterns::MatchPattern::Dictionary(d) => {
                // The dictionary's type is not exported by the crate; its name is.
                !d.reversed && !d.l33t && format!("{:?}", d.dictionary_name) == "Passwords"
            }
            _ => false,
        },
        _ => false,
    }
}

/// A phone number in E.164 form: `+`, then 8 to 15 digits, the first not 0.
/// A language as `en` or `de-AT` (ISO 639-1, optionally with an ISO 3166-1 region).
pub fn parse_language(raw: &str) -> Result<String, String> {
    match kazna_contracts::users::is_language_code(raw.trim()) {
        true => Ok(raw.trim().to_owned()),
        false => Err("a language code such as en or de-AT".into()),
    }
}

pub fn parse_phone(raw: &str) -> Result<String, String> {
    let s: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    let digits = s.strip_prefix('+').unwrap_or_default();
    let ok = (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(s)
    } else {
        Err("must be an international number like +4915112345678".into())
    }
}

pub fn parse_name(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    match s.chars().count() {
        0 => Err("is required".into()),
        n if n > 100 => Err("must be at most 100 characters".into()),
        _ => Ok(s.to_owned()),
    }
}

/// A validated registration.
pub struct NewAccount {
    pub email: Email,
    pub password: Password,
    pub name: String,
    pub roles: Vec<Role>,
}

impl NewAccount {
    pub fn parse(email: &str, password: &str, name: &str, roles: Vec<Role>) -> Result<Self, Error> {
        let mut errors = Vec::new();
        let email = Email::parse(email).map_err(|m| errors.push(FieldError::new("email", m)));
        let password = Password::parse(password, email.as_ref().ok())
            .map_err(|m| errors.push(FieldError::new("password", m)));
        let name = parse_name(name).map_err(|m| errors.push(FieldError::new("name", m)));
        match (email, password, name) {
            (Ok(email), Ok(password), Ok(name)) => Ok(Self {
                email,
                password,
                name,
                roles,
            }),
            _ => Err(Error::Validation(errors)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_are_refused_and_others_pass() {
        for common in [
            "password",
            "12345678",
            "iloveyou",
            "Password1",
            "qwertyuiop",
            "sunshine",
        ] {
            assert!(Password::parse(common, None).is_err(), "{common}");
        }
        let (repeated, same) = ("ab".repeat(16), "a".repeat(32));
        for fine in [
            "correct horse battery",
            "a long enough secret",
            "Tr0ub4dor&3-kazna",
            &repeated,
            &same,
        ] {
            assert!(Password::parse(fine, None).is_ok(), "{fine}");
        }
    }

    #[test]
    fn passwords_are_8_to_128_characters_and_not_the_email() {
        let email = Email::parse(" Ada@Example.COM ").expect("email");
        assert_eq!(email.as_str(), "ada@example.com");
        assert!(Password::parse("short", None).is_err());
        assert!(Password::parse(&"x".repeat(129), None).is_err());
        assert!(Password::parse("ada@example.com", Some(&email)).is_err());
        assert!(Password::parse(&"xk".repeat(64), None).is_ok());
    }

    #[test]
    fn phones_are_e164() {
        assert_eq!(
            parse_phone("+49 151 1234-5678").as_deref(),
            Ok("+4915112345678")
        );
        for bad in [
            "015112345678",
            "+0151123456",
            "+49abc",
            "+123",
            "+1234567890123456",
        ] {
            assert!(parse_phone(bad).is_err(), "{bad}");
        }
    }
}
