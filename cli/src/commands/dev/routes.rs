//! The routes of agent.yaml (`api.all_routes()`: `api.routes`, and in async mode
//! the job routes) and which one a request matches, as API Gateway's HTTP API
//! chooses: the most specific path wins (literal segments over `{param}` over
//! a greedy `{proxy+}`), a route for the method over `ANY`, and a request no
//! route matches is API Gateway's 404 `{"message":"Not Found"}`
//! (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html).

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    /// `{name+}`: the rest of the path, one segment or more.
    Greedy(String),
}

/// One route: `METHOD /path`, as written in agent.yaml (its route key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub key: String,
    method: String,
    segments: Vec<Segment>,
}

/// A matched route and the path parameters the request gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<'a> {
    pub route: &'a Route,
    pub params: Vec<(String, String)>,
}

impl Route {
    /// Parses `METHOD /path`; claw validate has checked the form already.
    pub fn parse(key: &str) -> anyhow::Result<Route> {
        let Some((method, path)) = key.split_once(' ') else {
            anyhow::bail!("`{key}` is not a route: write `METHOD /path`");
        };
        let segments = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(inner) => match inner.strip_suffix('+') {
                        Some(name) => Segment::Greedy(name.to_string()),
                        None => Segment::Param(inner.to_string()),
                    },
                    None => Segment::Literal(s.to_string()),
                },
            )
            .collect();
        Ok(Route {
            key: key.to_string(),
            method: method.to_string(),
            segments,
        })
    }

    /// The path parameters when `path` matches this route's path.
    fn params(&self, path: &str) -> Option<Vec<(String, String)>> {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut params = Vec::new();
        for (i, seg) in self.segments.iter().enumerate() {
            match seg {
                Segment::Literal(l) => {
                    if parts.get(i) != Some(&l.as_str()) {
                        return None;
                    }
                }
                Segment::Param(name) => {
                    params.push((name.clone(), decode(parts.get(i)?)));
                }
                Segment::Greedy(name) => {
                    if i >= parts.len() {
                        return None;
                    }
                    params.push((name.clone(), decode(&parts[i..].join("/"))));
                    return Some(params);
                }
            }
        }
        (parts.len() == self.segments.len()).then_some(params)
    }

    /// Higher is more specific: literal segments first, then parameters, a
    /// greedy segment last; a method over `ANY`.
    fn rank(&self) -> (usize, usize, bool, bool) {
        let literal = self
            .segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count();
        let greedy = self
            .segments
            .iter()
            .any(|s| matches!(s, Segment::Greedy(_)));
        (
            usize::from(!greedy),
            literal,
            self.method != "ANY",
            !self.segments.is_empty(),
        )
    }
}

/// The routes a local server answers.
#[derive(Debug, Clone)]
pub struct Routes(Vec<Route>);

impl Routes {
    pub fn new(keys: &[String]) -> anyhow::Result<Routes> {
        keys.iter()
            .map(|k| Route::parse(k))
            .collect::<anyhow::Result<_>>()
            .map(Routes)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|r| r.key.as_str())
    }

    /// The most specific route for `method` and `path` (without the query).
    pub fn find(&self, method: &str, path: &str) -> Option<Matched<'_>> {
        self.0
            .iter()
            .filter(|r| r.method == "ANY" || r.method.eq_ignore_ascii_case(method))
            .filter_map(|r| r.params(path).map(|params| Matched { route: r, params }))
            .max_by_key(|m| m.route.rank())
    }
}

/// Percent-decodes a path segment, as API Gateway hands path parameters over.
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(keys: &[&str]) -> Routes {
        Routes::new(&keys.iter().map(|k| k.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn found(r: &Routes, method: &str, path: &str) -> Option<(String, Vec<(String, String)>)> {
        r.find(method, path)
            .map(|m| (m.route.key.clone(), m.params))
    }

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_parameter_takes_one_segment() {
        let r = routes(&["POST /agents/{agent}"]);
        assert_eq!(
            found(&r, "POST", "/agents/qualifier"),
            Some(("POST /agents/{agent}".into(), p(&[("agent", "qualifier")])))
        );
        assert_eq!(found(&r, "GET", "/agents/qualifier"), None);
        assert_eq!(found(&r, "POST", "/agents"), None);
        assert_eq!(found(&r, "POST", "/agents/a/b"), None);
        assert_eq!(found(&r, "POST", "/other/x"), None);
        assert_eq!(
            found(&r, "POST", "/agents/lead%20bot").unwrap().1,
            p(&[("agent", "lead bot")])
        );
    }

    #[test]
    fn greedy_takes_the_rest_and_loses_to_specific_routes() {
        let r = routes(&["ANY /api/{proxy+}", "GET /api/health", "GET /jobs/{id}"]);
        assert_eq!(
            found(&r, "DELETE", "/api/a/b/c"),
            Some(("ANY /api/{proxy+}".into(), p(&[("proxy", "a/b/c")])))
        );
        assert_eq!(
            found(&r, "GET", "/api/health").unwrap().0,
            "GET /api/health"
        );
        assert_eq!(
            found(&r, "POST", "/api/health").unwrap().0,
            "ANY /api/{proxy+}"
        );
        // A greedy parameter needs at least one segment.
        assert_eq!(found(&r, "GET", "/api"), None);
        assert_eq!(
            found(&r, "GET", "/jobs/j-1").unwrap().1,
            p(&[("id", "j-1")])
        );
    }

    #[test]
    fn literal_beats_parameter_and_method_beats_any() {
        let r = routes(&["POST /jobs/{id}", "POST /jobs/urgent", "ANY /jobs/urgent"]);
        assert_eq!(
            found(&r, "POST", "/jobs/urgent").unwrap().0,
            "POST /jobs/urgent"
        );
        assert_eq!(
            found(&r, "GET", "/jobs/urgent").unwrap().0,
            "ANY /jobs/urgent"
        );
        assert_eq!(found(&r, "POST", "/jobs/42").unwrap().0, "POST /jobs/{id}");
    }

    #[test]
    fn the_root_route_matches_only_the_root() {
        let r = routes(&["GET /"]);
        assert_eq!(found(&r, "GET", "/").unwrap().0, "GET /");
        assert_eq!(found(&r, "GET", "/x"), None);
    }
}
