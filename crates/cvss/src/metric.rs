//! The vector-string grammar shared by v3.x and v4.0: `CVSS:x.y/M1:V1/M2:V2/...`, and the
//! typed metric values. Each version module owns its metric table and its rules (which
//! metrics are mandatory, whether order matters); this module only splits and looks up.

use crate::{CvssError, Version};

/// A metric value that has a one-letter (or one-word) abbreviation in vector strings.
pub trait MetricValue: Sized + Copy + 'static {
    /// Every value, in the specification's order.
    const ALL: &'static [Self];
    /// The abbreviation written in vector strings (`N`, `L`, `Amber`, ...).
    fn abbrev(self) -> &'static str;
    /// The value an abbreviation stands for.
    fn from_abbrev(abbrev: &str) -> Option<Self>;
}

/// Declares a metric value enum and its [`MetricValue`] implementation.
macro_rules! metric_values {
    ($(#[$meta:meta])* pub enum $name:ident {
        $($(#[$vmeta:meta])* $variant:ident = $abbrev:literal),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $crate::metric::MetricValue for $name {
            const ALL: &'static [Self] = &[$(Self::$variant),+];

            fn abbrev(self) -> &'static str {
                match self {
                    $(Self::$variant => $abbrev),+
                }
            }

            fn from_abbrev(abbrev: &str) -> Option<Self> {
                match abbrev {
                    $($abbrev => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use metric_values;

/// Whether a version lets metrics appear in any order (v3.x) or only in the specification's
/// order (v4.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    Any,
    Specification,
}

/// The components of one vector string, indexed by the position of their metric in the
/// version's metric table.
#[derive(Debug)]
pub(crate) struct Components<'a> {
    names: &'static [&'static str],
    values: Vec<Option<&'a str>>,
}

impl<'a> Components<'a> {
    /// Splits `body` (the vector after `CVSS:x.y/`, starting at byte `offset` of the whole
    /// string) into components and checks each names a metric of `names`, at most once, in
    /// order when `order` requires it.
    pub(crate) fn split(
        body: &'a str,
        offset: usize,
        version: Version,
        names: &'static [&'static str],
        order: Order,
    ) -> Result<Self, CvssError> {
        let mut values: Vec<Option<&'a str>> = vec![None; names.len()];
        let mut last: Option<usize> = None;
        let mut at = offset;
        // `CVSS:3.1` or `CVSS:3.1/` alone: no components, so the first mandatory metric is
        // reported missing rather than an empty component malformed.
        let components = (!body.is_empty()).then(|| body.split('/'));
        for component in components.into_iter().flatten() {
            let malformed = || CvssError::MalformedComponent {
                component: component.to_owned(),
                offset: at,
            };
            let (name, value) = component.split_once(':').ok_or_else(malformed)?;
            if name.is_empty() || value.is_empty() || value.contains(':') {
                return Err(malformed());
            }
            let index =
                names
                    .iter()
                    .position(|n| *n == name)
                    .ok_or_else(|| CvssError::UnknownMetric {
                        version,
                        metric: name.to_owned(),
                    })?;
            let metric = names.get(index).copied().unwrap_or_default();
            let slot = values.get_mut(index).ok_or_else(malformed)?;
            if slot.is_some() {
                return Err(CvssError::DuplicateMetric { metric });
            }
            if order == Order::Specification
                && let Some(previous) = last
                && previous > index
            {
                return Err(CvssError::OutOfOrder {
                    metric,
                    after: names.get(previous).copied().unwrap_or_default(),
                });
            }
            *slot = Some(value);
            last = Some(index);
            at += component.len() + 1;
        }
        Ok(Self { names, values })
    }

    fn raw(&self, metric: &'static str) -> Option<&'a str> {
        let index = self.names.iter().position(|n| *n == metric)?;
        self.values.get(index).copied().flatten()
    }

    /// A mandatory metric.
    pub(crate) fn required<T: MetricValue>(&self, metric: &'static str) -> Result<T, CvssError> {
        let value = self
            .raw(metric)
            .ok_or(CvssError::MissingMetric { metric })?;
        T::from_abbrev(value).ok_or_else(|| invalid::<T>(metric, value, None))
    }

    /// An optional metric: absent or `X` (Not Defined) is `None`.
    pub(crate) fn optional<T: MetricValue>(
        &self,
        metric: &'static str,
    ) -> Result<Option<T>, CvssError> {
        self.optional_with(metric, "X")
    }

    /// An optional metric whose Not Defined value is written `not_defined` (v2 writes `ND`).
    pub(crate) fn optional_with<T: MetricValue>(
        &self,
        metric: &'static str,
        not_defined: &'static str,
    ) -> Result<Option<T>, CvssError> {
        match self.raw(metric) {
            None => Ok(None),
            Some(value) if value == not_defined => Ok(None),
            Some(value) => T::from_abbrev(value)
                .map(Some)
                .ok_or_else(|| invalid::<T>(metric, value, Some(not_defined))),
        }
    }
}

fn invalid<T: MetricValue>(
    metric: &'static str,
    value: &str,
    not_defined: Option<&'static str>,
) -> CvssError {
    let mut expected: Vec<&str> = T::ALL.iter().map(|v| v.abbrev()).collect();
    if let Some(nd) = not_defined {
        expected.push(nd);
    }
    CvssError::InvalidValue {
        metric,
        value: value.to_owned(),
        expected: expected.join(", "),
    }
}

/// Writes `/NAME:VALUE`.
pub(crate) fn write_metric<T: MetricValue>(
    f: &mut std::fmt::Formatter<'_>,
    name: &str,
    value: T,
) -> std::fmt::Result {
    write!(f, "/{name}:{}", value.abbrev())
}

/// Writes `/NAME:VALUE` when the optional metric is defined.
pub(crate) fn write_optional<T: MetricValue>(
    f: &mut std::fmt::Formatter<'_>,
    name: &str,
    value: Option<T>,
) -> std::fmt::Result {
    match value {
        Some(v) => write_metric(f, name, v),
        None => Ok(()),
    }
}
