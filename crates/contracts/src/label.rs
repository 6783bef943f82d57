//! States and kinds that are stored and sent as text (`pending_payment`, `email`): the enum is
//! the truth, the text is its label, and a label no variant has is an error, never a default.

/// A label that names no variant of the enum it was read as (a corrupt row, a newer peer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a {kind}")]
pub struct UnknownLabel {
    pub kind: &'static str,
    pub value: String,
}

/// Gives a unit enum its text labels: `as_str`, `ALL`, `FromStr`, `TryFrom<String>` (what
/// `#[sqlx(try_from = "String")]` reads a column through) and `Display`.
///
/// The labels must be those serde uses for the enum; a test beside each enum checks it with
/// [`assert_labels_match_serde`].
#[macro_export]
macro_rules! labels {
    ($ty:ident { $($variant:ident = $label:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $label),+
                }
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::label::UnknownLabel;
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                $ty::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| $crate::label::UnknownLabel {
                        kind: stringify!($ty),
                        value: s.to_owned(),
                    })
            }
        }

        impl ::std::convert::TryFrom<String> for $ty {
            type Error = $crate::label::UnknownLabel;
            fn try_from(s: String) -> ::std::result::Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Panics unless every variant's label is the string serde writes for it.
pub fn assert_labels_match_serde<T>(all: &[T], label: impl Fn(&T) -> &'static str)
where
    T: serde::Serialize + std::fmt::Debug,
{
    for v in all {
        let json = serde_json::to_value(v).unwrap_or_default();
        assert_eq!(json.as_str(), Some(label(v)), "{v:?}");
    }
}
