//! PEP 440 versions, parsed and ordered as Python `packaging` does (`packaging.version`).
//!
//! The grammar is `packaging`'s `VERSION_PATTERN`, matched case-insensitively after stripping
//! surrounding whitespace; the order is `packaging`'s comparison key: epoch, release without
//! trailing zeros, pre-release (a dev release with no pre or post release sorts before any
//! pre-release), post release, dev release, local version.

use std::cmp::Ordering;
use std::sync::LazyLock;

use crate::util::cmp_digits;

static PATTERN: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
    regex::Regex::new(
        r"(?ix)^\s*
        v?
        (?:(?P<epoch>[0-9]+)!)?
        (?P<release>[0-9]+(?:\.[0-9]+)*)
        (?P<pre>
            [-_.]?
            (?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)
            [-_.]?
            (?P<pre_n>[0-9]+)?
        )?
        (?P<post>
            (?:-(?P<post_n1>[0-9]+))
            |
            (?:
                [-_.]?
                (?P<post_l>post|rev|r)
                [-_.]?
                (?P<post_n2>[0-9]+)?
            )
        )?
        (?P<dev>
            [-_.]?
            (?P<dev_l>dev)
            [-_.]?
            (?P<dev_n>[0-9]+)?
        )?
        (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
        \s*$",
    )
    .ok()
});

/// A pre-release phase, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Alpha,
    Beta,
    Rc,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum LocalPart {
    // Declared first: any text segment sorts before any number segment.
    Text(String),
    Number(Num),
}

/// An unbounded non-negative integer (digits without leading zeros).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Num(String);

impl Num {
    fn new(s: &str) -> Self {
        let t = s.trim_start_matches('0');
        Self(if t.is_empty() {
            "0".to_owned()
        } else {
            t.to_owned()
        })
    }
    fn zero() -> Self {
        Self("0".to_owned())
    }
}
impl Ord for Num {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_digits(&self.0, &other.0)
    }
}
impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Pep440Version {
    epoch: Num,
    release: Vec<Num>,
    pre: Option<(Phase, Num)>,
    post: Option<Num>,
    dev: Option<Num>,
    local: Option<Vec<LocalPart>>,
}

impl Pep440Version {
    pub(crate) fn parse(text: &str) -> Result<Self, &'static str> {
        let re = PATTERN
            .as_ref()
            .ok_or("the PEP 440 pattern did not compile")?;
        let caps = re.captures(text).ok_or("not a PEP 440 version")?;
        let num = |name: &str| caps.name(name).map(|m| Num::new(m.as_str()));
        let epoch = num("epoch").unwrap_or_else(Num::zero);
        let release = caps
            .name("release")
            .map(|m| m.as_str().split('.').map(Num::new).collect())
            .unwrap_or_default();
        let pre = caps.name("pre_l").map(|l| {
            let phase = match l.as_str().to_ascii_lowercase().as_str() {
                "a" | "alpha" => Phase::Alpha,
                "b" | "beta" => Phase::Beta,
                _ => Phase::Rc,
            };
            (phase, num("pre_n").unwrap_or_else(Num::zero))
        });
        let post = if caps.name("post").is_some() {
            Some(
                num("post_n1")
                    .or_else(|| num("post_n2"))
                    .unwrap_or_else(Num::zero),
            )
        } else {
            None
        };
        let dev = caps
            .name("dev")
            .map(|_| num("dev_n").unwrap_or_else(Num::zero));
        let local = caps.name("local").map(|m| {
            m.as_str()
                .split(['-', '_', '.'])
                .map(|p| {
                    if p.bytes().all(|c| c.is_ascii_digit()) {
                        LocalPart::Number(Num::new(p))
                    } else {
                        LocalPart::Text(p.to_ascii_lowercase())
                    }
                })
                .collect()
        });
        Ok(Self {
            epoch,
            release,
            pre,
            post,
            dev,
            local,
        })
    }

    /// The release segment without trailing zeros, as `packaging` compares it.
    fn trimmed_release(&self) -> &[Num] {
        let zero = Num::zero();
        let mut end = self.release.len();
        while end > 0 && self.release.get(end - 1) == Some(&zero) {
            end -= 1;
        }
        self.release.get(..end).unwrap_or_default()
    }
}

/// `packaging`'s infinities around the optional parts, as an ordered enum.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Bound<T> {
    NegInf,
    Value(T),
    Inf,
}

impl Ord for Pep440Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let pre_key = |v: &Self| match (&v.pre, &v.post, &v.dev) {
            (None, None, Some(_)) => Bound::NegInf,
            (None, _, _) => Bound::Inf,
            (Some((phase, n)), _, _) => Bound::Value((*phase, n.clone())),
        };
        let post_key = |v: &Self| v.post.clone().map_or(Bound::NegInf, Bound::Value);
        let dev_key = |v: &Self| v.dev.clone().map_or(Bound::Inf, Bound::Value);
        let local_key = |v: &Self| v.local.clone().map_or(Bound::NegInf, Bound::Value);
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| self.trimmed_release().cmp(other.trimmed_release()))
            .then_with(|| pre_key(self).cmp(&pre_key(other)))
            .then_with(|| post_key(self).cmp(&post_key(other)))
            .then_with(|| dev_key(self).cmp(&dev_key(other)))
            .then_with(|| local_key(self).cmp(&local_key(other)))
    }
}
impl PartialOrd for Pep440Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Pep440Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Pep440Version {}
