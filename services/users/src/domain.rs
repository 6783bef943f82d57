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
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
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
