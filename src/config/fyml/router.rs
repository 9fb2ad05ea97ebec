//! f.yml's router (pure): picks the function for a request's method and path. Literal
//! segments beat `:param`, which beats `*`; among equals, the order of the file.

use super::FunctionDef;

/// Picks the function for a request: literal segments beat `:param`, which beats `*`; among
/// equals, the order of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Router {
    routes: Vec<Pattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    segments: Vec<Segment>,
    methods: Option<Vec<String>>,
    function: usize,
    resource: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Rest,
}

/// The function a request goes to, the route as API Gateway names resources
/// (`/users/{id}`, `/{proxy+}`), and the path parameters it captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub function: usize,
    pub resource: String,
    pub params: Vec<(String, String)>,
}

impl Router {
    pub fn new(functions: &[FunctionDef]) -> Router {
        let mut routes: Vec<Pattern> = functions
            .iter()
            .enumerate()
            .flat_map(|(function, f)| {
                f.routes.iter().map(move |r| {
                    let segments = segments(&r.path);
                    Pattern {
                        resource: resource(&segments),
                        segments,
                        methods: r.methods.clone(),
                        function,
                    }
                })
            })
            .collect();
        routes.sort_by_key(|p| std::cmp::Reverse(specificity(&p.segments)));
        Router { routes }
    }

    pub fn route(&self, method: &str, path: &str) -> Option<Matched> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        self.routes.iter().find_map(|pattern| {
            if pattern
                .methods
                .as_ref()
                .is_some_and(|m| !m.iter().any(|m| m == method))
            {
                return None;
            }
            matches(&pattern.segments, &parts).map(|params| Matched {
                function: pattern.function,
                resource: pattern.resource.clone(),
                params,
            })
        })
    }
}

impl Router {
    /// The routes of one function, as `fnshim check` prints them.
    pub fn describe(&self, function: usize) -> String {
        let routes: Vec<String> = self
            .routes
            .iter()
            .filter(|p| p.function == function)
            .map(|p| match &p.methods {
                Some(methods) => format!("{} {}", methods.join(","), p.resource),
                None => format!("ANY {}", p.resource),
            })
            .collect();
        match routes.is_empty() {
            true => "none".into(),
            false => routes.join(", "),
        }
    }
}

fn resource(segments: &[Segment]) -> String {
    let mut text = String::new();
    for segment in segments {
        text.push('/');
        match segment {
            Segment::Literal(literal) => text.push_str(literal),
            Segment::Param(name) => text.push_str(&format!("{{{name}}}")),
            Segment::Rest => text.push_str("{proxy+}"),
        }
    }
    if text.is_empty() {
        text.push('/');
    }
    text
}

fn segments(path: &str) -> Vec<Segment> {
    path.split('/')
        .filter(|p| !p.is_empty())
        .map(|p| match p {
            "*" => Segment::Rest,
            _ if p.starts_with(':') => Segment::Param(p[1..].to_owned()),
            _ => Segment::Literal(p.to_owned()),
        })
        .collect()
}

fn specificity(pattern: &[Segment]) -> (usize, usize, bool) {
    let literals = pattern
        .iter()
        .filter(|s| matches!(s, Segment::Literal(_)))
        .count();
    let params = pattern
        .iter()
        .filter(|s| matches!(s, Segment::Param(_)))
        .count();
    (literals, params, !pattern.contains(&Segment::Rest))
}

fn matches(pattern: &[Segment], parts: &[&str]) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    for (i, segment) in pattern.iter().enumerate() {
        match segment {
            Segment::Rest => {
                params.push((
                    "proxy".to_owned(),
                    parts.get(i..).unwrap_or_default().join("/"),
                ));
                return Some(params);
            }
            Segment::Literal(text) if parts.get(i) == Some(&text.as_str()) => {}
            Segment::Param(name) => params.push((name.clone(), (*parts.get(i)?).to_owned())),
            Segment::Literal(_) => return None,
        }
    }
    (parts.len() == pattern.len()).then_some(params)
}

#[cfg(test)]
mod tests {
    use super::super::{parse, tests::SEED};
    use super::*;

    #[test]
    fn routing_prefers_literals_then_params_then_wildcards() {
        let d = parse(SEED).unwrap();
        let router = Router::new(&d.functions);
        let route = |method, path| {
            router
                .route(method, path)
                .map(|m| (m.function, m.params, m.resource))
        };
        let owned = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(route("GET", "/foo"), Some((0, vec![], "/foo".into())));
        assert_eq!(
            route("DELETE", "/foo"),
            Some((2, owned(&[("proxy", "foo")]), "/{proxy+}".into()))
        );
        assert_eq!(
            route("GET", "/users/42"),
            Some((1, owned(&[("id", "42")]), "/users/{id}".into()))
        );
        assert_eq!(
            route("POST", "/users/42"),
            Some((2, owned(&[("proxy", "users/42")]), "/{proxy+}".into()))
        );
        assert_eq!(
            route("GET", "/a/b/c"),
            Some((2, owned(&[("proxy", "a/b/c")]), "/{proxy+}".into()))
        );
        let only_foo = Router::new(&d.functions[..1]);
        assert_eq!(only_foo.route("GET", "/bar"), None);
        assert_eq!(only_foo.route("GET", "/foo/extra"), None);
    }
}
