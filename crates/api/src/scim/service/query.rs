//! Planning a filtered list: which index lookups and substring searches select a
//! superset of the resources a filter matches, so that the filter is then evaluated
//! in memory on those candidates only. A filter with no such plan is refused (400
//! `invalidFilter`), never answered by a scan.
//!
//! A plan is a union of accesses. An `eq` on an indexed attribute is a lookup
//! (O(1)); `eq`, `co`, `sw` or `ew` on a searchable attribute is a search (a pass over
//! the organization's compact search entries); a conjunction is served by its
//! cheapest servable member, a disjunction by the union of all its members' plans
//! (each must be servable); `not`, `pr`, ordering comparisons and unindexed
//! attributes have no plan of their own.

use roster_scim::{CompValue, CompareOp, Filter, ScimError};

/// One way of finding candidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Access {
    /// An exact lookup of index `index` (a position in the plan's index list).
    Lookup(usize, String),
    /// A substring search over the compact search entries.
    Search(String),
}

impl Access {
    fn cost(&self) -> u64 {
        match self {
            Access::Lookup(..) => 1,
            Access::Search(_) => 10_000,
        }
    }
}

fn cost(plan: &[Access]) -> u64 {
    plan.iter().map(Access::cost).sum()
}

/// A plan for `filter`: `indexed` are attribute paths with an exact index (in the
/// order [`Access::Lookup`] refers to them), `searchable` those the search entries
/// cover. `None` when no plan exists.
pub(crate) fn plan(filter: &Filter, indexed: &[&str], searchable: &[&str]) -> Option<Vec<Access>> {
    match filter {
        Filter::Compare {
            path,
            op,
            value: CompValue::String(s),
        } => {
            if *op == CompareOp::Eq
                && let Some(i) = indexed.iter().position(|a| path.refers_to(a))
            {
                return Some(vec![Access::Lookup(i, s.clone())]);
            }
            let substring = matches!(
                op,
                CompareOp::Eq | CompareOp::Co | CompareOp::Sw | CompareOp::Ew
            );
            (substring && searchable.iter().any(|a| path.refers_to(a)))
                .then(|| vec![Access::Search(s.clone())])
        }
        Filter::And(items) => items
            .iter()
            .filter_map(|f| plan(f, indexed, searchable))
            .min_by_key(|p| cost(p)),
        Filter::Or(items) => {
            let mut out: Vec<Access> = Vec::new();
            for f in items {
                for a in plan(f, indexed, searchable)? {
                    if !out.contains(&a) {
                        out.push(a);
                    }
                }
            }
            Some(out)
        }
        Filter::ValuePath { filter, .. } => plan(filter, indexed, searchable),
        Filter::Compare { .. } | Filter::Present(_) | Filter::Not(_) => None,
    }
}

/// The plan for a filter on a list endpoint, or the refusal saying why there is none
/// or why it is too costly.
pub(crate) fn plan_or_refuse(
    filter: &Filter,
    indexed: &[&str],
    searchable: &[&str],
) -> Result<Vec<Access>, ScimError> {
    let Some(plan) = plan(filter, indexed, searchable) else {
        let mut how = format!("an eq comparison of {}", indexed.join(", "));
        if !searchable.is_empty() {
            how.push_str(&format!(
                ", or an eq, co, sw or ew comparison of {}",
                searchable.join(", ")
            ));
        }
        return Err(ScimError::invalid_filter(format!(
            "this filter cannot be served without scanning every resource: it needs, in \
             every alternative (or) and in some condition of each conjunction (and), {how}"
        )));
    };
    let searches = plan
        .iter()
        .filter(|a| matches!(a, Access::Search(_)))
        .count();
    if searches > super::MAX_SEARCHES {
        return Err(ScimError::invalid_filter(format!(
            "this filter needs {searches} substring searches; at most {} are served",
            super::MAX_SEARCHES
        )));
    }
    if plan.len() - searches > super::MAX_LOOKUPS {
        return Err(ScimError::invalid_filter(format!(
            "this filter needs more than {} lookups",
            super::MAX_LOOKUPS
        )));
    }
    Ok(plan)
}

/// Whether `filter` compares or tests attribute `name` (any sub-attribute).
pub(crate) fn mentions(filter: &Filter, name: &str) -> bool {
    match filter {
        Filter::Compare { path, .. } | Filter::Present(path) => {
            path.attribute().name.eq_ignore_ascii_case(name)
        }
        Filter::ValuePath { path, filter } => {
            path.attribute().name.eq_ignore_ascii_case(name) || mentions(filter, name)
        }
        Filter::And(items) | Filter::Or(items) => items.iter().any(|f| mentions(f, name)),
        Filter::Not(f) => mentions(f, name),
    }
}

/// The refusal of a filter that selects more than [`super::MAX_CANDIDATES`].
pub(crate) fn too_many() -> ScimError {
    ScimError::typed(
        roster_scim::ScimType::TooMany,
        format!(
            "the filter selects more than {} candidates; narrow it",
            super::MAX_CANDIDATES
        ),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use roster_scim::USER;

    const INDEXED: &[&str] = &["id", "userName", "externalId", "emails"];
    const SEARCHABLE: &[&str] = &["userName", "emails", "name.givenName", "name.familyName"];

    fn p(text: &str) -> Option<Vec<Access>> {
        plan(&Filter::parse(text, &USER).unwrap(), INDEXED, SEARCHABLE)
    }

    #[test]
    fn equalities_are_lookups_and_substrings_searches() {
        assert_eq!(
            p("userName eq \"kim\""),
            Some(vec![Access::Lookup(1, "kim".into())])
        );
        assert_eq!(
            p("emails[type eq \"work\" and value eq \"a@b.c\"]"),
            Some(vec![Access::Lookup(3, "a@b.c".into())])
        );
        assert_eq!(
            p("emails.value eq \"a@b.c\""),
            Some(vec![Access::Lookup(3, "a@b.c".into())])
        );
        assert_eq!(
            p("name.givenName sw \"Ki\""),
            Some(vec![Access::Search("Ki".into())])
        );
        // The cheapest member of a conjunction serves it.
        assert_eq!(
            p("userName co \"k\" and externalId eq \"7\" and active eq true"),
            Some(vec![Access::Lookup(2, "7".into())])
        );
        // Every alternative of a disjunction must be servable.
        assert_eq!(
            p("userName eq \"a\" or externalId eq \"b\" or userName eq \"a\""),
            Some(vec![
                Access::Lookup(1, "a".into()),
                Access::Lookup(2, "b".into())
            ])
        );
    }

    #[test]
    fn unservable_filters_have_no_plan() {
        for text in [
            "title pr",
            "active eq true",
            "userName ne \"kim\"",
            "not (userName eq \"kim\")",
            "userName eq \"a\" or title eq \"b\"",
            "meta.lastModified gt \"2020-01-01T00:00:00Z\"",
            "emails[type eq \"work\"]",
            "displayName co \"x\"",
            "userName gt \"a\"",
        ] {
            assert_eq!(p(text), None, "{text}");
        }
    }

    #[test]
    fn refusals_say_why() {
        let f = Filter::parse("title pr", &USER).unwrap();
        let e = plan_or_refuse(&f, INDEXED, SEARCHABLE).unwrap_err();
        assert_eq!(e.scim_type, Some(roster_scim::ScimType::InvalidFilter));
        assert!(e.detail.contains("userName"), "{}", e.detail);
        let f = Filter::parse(
            "userName co \"a\" or userName co \"b\" or userName co \"c\" or userName co \"d\" or userName co \"e\"",
            &USER,
        )
        .unwrap();
        assert!(plan_or_refuse(&f, INDEXED, SEARCHABLE).is_err());
    }
}
