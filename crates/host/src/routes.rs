//! HTTP route matching with Spin's semantics (Spin's `crates/routes`, built on `routefinder`
//! 0.5.4, the version every released Spin from v3.0.0 to v4.0.2 locks; 0.6 consumes
//! repeated slashes, and none, where 0.5.4 needs exactly one, so this host pins 0.5.4).
//!
//! Precedence follows `routefinder`: exact segments beat `:name` segments, which beat a
//! trailing wildcard (`/...`); among wildcards the longest prefix wins. A single trailing slash
//! is stripped from route patterns; request paths are matched as given (routefinder ignores
//! a trailing slash on the path). `{ private = true }` routes are never routable from outside.

use crate::error::HostError;
use crate::manifest::{HttpTrigger, Route};

#[derive(Debug, Clone)]
struct Handler {
    component: String,
    based_route: String,
    raw_route: String,
    display: String,
}

/// The router built from the manifest's `[[trigger.http]]` entries.
#[derive(Debug)]
pub struct Router {
    inner: routefinder::Router<Handler>,
}

/// The result of routing one request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    /// The component that handles the request.
    pub component: String,
    /// The route with the base applied (Spin's `spin-matched-route`).
    pub based_route: String,
    /// The route as written in the manifest (`spin-raw-component-route`).
    pub raw_route: String,
    /// `:name` captures, in route order.
    pub named: Vec<(String, String)>,
    /// The part of the path matched by a trailing wildcard (`spin-path-info`).
    pub path_info: String,
}

impl RouteMatch {
    /// The raw route without a trailing `/...` (`spin-component-route`).
    pub fn raw_route_or_prefix(&self) -> &str {
        self.raw_route
            .strip_suffix("/...")
            .unwrap_or(&self.raw_route)
    }
}

fn sanitize(s: &str) -> &str {
    s.strip_suffix('/').unwrap_or(s)
}

fn based(base: &str, route: &str) -> String {
    let route = if route.starts_with('/') {
        route.to_owned()
    } else {
        format!("/{route}")
    };
    format!("{}{}", sanitize(base), sanitize(&route))
}

impl Router {
    /// Builds the router. Later duplicates of the same route replace earlier ones (as Spin does).
    pub fn build(base: &str, triggers: &[HttpTrigger]) -> Result<Self, HostError> {
        let mut entries: Vec<(String, Handler)> = Vec::new();
        for t in triggers {
            let Route::Pattern(raw) = &t.route else {
                continue;
            };
            let handler = Handler {
                component: t.component.clone(),
                based_route: based(base, raw),
                raw_route: raw.clone(),
                display: String::new(),
            };
            if let Some(existing) = entries.iter_mut().find(|(r, _)| r == raw) {
                existing.1 = handler;
            } else {
                entries.push((raw.clone(), handler));
            }
        }
        let mut inner = routefinder::Router::new();
        for (_, mut h) in entries {
            let (spec, display) = if let Some(prefix) = h.based_route.strip_suffix("/...") {
                (
                    format!("{prefix}/*"),
                    format!("{} (wildcard)", or_root(prefix)),
                )
            } else if let Some(prefix) = h.based_route.strip_suffix("/*") {
                (
                    h.based_route.clone(),
                    format!("{} (wildcard)", or_root(prefix)),
                )
            } else {
                (h.based_route.clone(), or_root(&h.based_route).to_owned())
            };
            h.display = display;
            let component = h.component.clone();
            inner
                .add(spec.as_str(), h)
                .map_err(|message| HostError::InvalidRoute {
                    route: spec.clone(),
                    component,
                    message,
                })?;
        }
        Ok(Self { inner })
    }

    /// Routes `path` (the request URI's path, without query).
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let m = self.inner.best_match(path)?;
        let h = m.handler();
        let captures = m.captures();
        let path_info = match captures.wildcard() {
            None => String::new(),
            Some(w) => match (w.is_empty(), path.ends_with('/')) {
                (true, false) => String::new(),
                (true, true) => "/".to_owned(),
                (false, false) => format!("/{w}"),
                (false, true) => format!("/{w}/"),
            },
        };
        Some(RouteMatch {
            component: h.component.clone(),
            based_route: h.based_route.clone(),
            raw_route: h.raw_route.clone(),
            named: captures
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            path_info,
        })
    }

    /// `(component id, printable route)` for every routable route, in routefinder order.
    pub fn routes(&self) -> Vec<(String, String)> {
        self.inner
            .iter()
            .map(|(_, h)| (h.component.clone(), h.display.clone()))
            .collect()
    }
}

fn or_root(p: &str) -> &str {
    if p.is_empty() { "/" } else { p }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        let triggers: Vec<HttpTrigger> = routes
            .iter()
            .map(|(r, c)| HttpTrigger {
                route: Route::Pattern((*r).to_owned()),
                component: (*c).to_owned(),
            })
            .collect();
        Router::build("/", &triggers).expect("router builds")
    }

    fn comp(r: &Router, path: &str) -> Option<String> {
        r.route(path).map(|m| m.component)
    }

    #[test]
    fn precedence_exact_param_wildcard() {
        let r = router(&[
            ("/...", "root"),
            ("/users/...", "wild"),
            ("/users/:id", "param"),
            ("/users/me", "exact"),
        ]);
        assert_eq!(comp(&r, "/users/me").as_deref(), Some("exact"));
        assert_eq!(comp(&r, "/users/42").as_deref(), Some("param"));
        assert_eq!(comp(&r, "/users/42/x").as_deref(), Some("wild"));
        assert_eq!(comp(&r, "/other").as_deref(), Some("root"));
        assert_eq!(comp(&r, "/").as_deref(), Some("root"));
    }

    /// routefinder splits patterns at `.` as well as `/`: the pattern `/users/.search`
    /// becomes `Exact("users.")`, `Exact("search")` and matches the path
    /// `/users.search`, never `/users/.search`, which the `:id` route takes (with id
    /// `.search`) ahead of any wildcard (without a `:prefix.search` route: see
    /// `a_prefix_dot_route_wins_over_a_parameter`).
    #[test]
    fn a_dot_segment_is_a_parameter_not_a_literal() {
        let r = router(&[
            ("/scim/...", "wild"),
            ("/scim/users/:id", "param"),
            ("/scim/users/.search", "literal"),
        ]);
        let m = r.route("/scim/users/.search").expect("match");
        assert_eq!(m.component, "param");
        assert_eq!(m.named, vec![("id".into(), ".search".into())]);
        assert_eq!(comp(&r, "/scim/users.search").as_deref(), Some("literal"));
        assert_eq!(comp(&r, "/scim/users/.search/x").as_deref(), Some("wild"));
        assert_eq!(comp(&r, "/scim/.search").as_deref(), Some("wild"));
    }

    /// SCIM's search routes: `…/users/:prefix.search` takes `…/users/.search` (empty
    /// `prefix`) and any `…/users/<x>.search` ahead of `…/users/:id` — the segments rank
    /// alike (a parameter each), then the route with more dots wins — whatever the order
    /// of the triggers; every other id stays `:id`'s.
    #[test]
    fn a_prefix_dot_route_wins_over_a_parameter() {
        for routes in [
            [
                ("/scim/...", "wild"),
                ("/scim/users/:id", "param"),
                ("/scim/users/:prefix.search", "search"),
            ],
            [
                ("/scim/users/:prefix.search", "search"),
                ("/scim/users/:id", "param"),
                ("/scim/...", "wild"),
            ],
        ] {
            let r = router(&routes);
            let m = r.route("/scim/users/.search").expect("match");
            assert_eq!(m.component, "search");
            assert_eq!(m.named, vec![("prefix".into(), String::new())]);
            let m = r.route("/scim/users/x.search").expect("match");
            assert_eq!(m.component, "search");
            assert_eq!(m.named, vec![("prefix".into(), "x".into())]);
            assert_eq!(comp(&r, "/scim/users/42").as_deref(), Some("param"));
            assert_eq!(comp(&r, "/scim/users/a.b").as_deref(), Some("param"));
            assert_eq!(comp(&r, "/scim/users/.searchx").as_deref(), Some("param"));
            assert_eq!(comp(&r, "/scim/users/.search/x").as_deref(), Some("wild"));
        }
    }

    /// routefinder 0.5.4 matches one `/` per separator: a doubled slash is no route's
    /// but the wildcard's (0.6 would send `/scim//users/7` to `:id`).
    #[test]
    fn a_doubled_slash_falls_to_the_wildcard() {
        let r = router(&[("/scim/...", "wild"), ("/scim/users/:id", "param")]);
        assert_eq!(comp(&r, "/scim//users/7").as_deref(), Some("wild"));
        assert_eq!(comp(&r, "/scim/users//7").as_deref(), Some("wild"));
        assert_eq!(comp(&r, "/scim/users/7").as_deref(), Some("param"));
        // …and the `/` after an exact segment is required (0.6 would route
        // `/scim/usersX` to `:id` with id `X`).
        assert_eq!(comp(&r, "/scim/usersX").as_deref(), Some("wild"));
    }

    #[test]
    fn named_captures_and_path_info() {
        let r = router(&[("/v1/orgs/:org/users/:user", "a"), ("/static/...", "s")]);
        let m = r.route("/v1/orgs/o1/users/u2").expect("match");
        assert_eq!(
            m.named,
            vec![("org".into(), "o1".into()), ("user".into(), "u2".into())]
        );
        assert_eq!(m.path_info, "");
        let m = r.route("/static/a/b").expect("match");
        assert_eq!(m.path_info, "/a/b");
        assert_eq!(m.raw_route_or_prefix(), "/static");
        assert_eq!(r.route("/static").expect("match").path_info, "");
        assert_eq!(r.route("/static/").expect("match").path_info, "/");
        assert_eq!(r.route("/static/a/").expect("match").path_info, "/a/");
    }

    #[test]
    fn trailing_slashes() {
        let r = router(&[("/exact", "e"), ("/slashed/", "s")]);
        assert_eq!(comp(&r, "/exact").as_deref(), Some("e"));
        assert_eq!(comp(&r, "/exact/").as_deref(), Some("e"));
        assert_eq!(comp(&r, "/slashed").as_deref(), Some("s"));
        assert_eq!(comp(&r, "/slashed/").as_deref(), Some("s"));
        assert_eq!(comp(&r, "/exact/more"), None);
    }

    #[test]
    fn private_routes_are_not_routable() {
        let triggers = vec![HttpTrigger {
            route: Route::Private,
            component: "p".into(),
        }];
        let r = Router::build("/", &triggers).expect("router builds");
        assert_eq!(comp(&r, "/"), None);
        assert!(r.routes().is_empty());
    }
}
