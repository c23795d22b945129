//! The page shells (one HTML template, filled in and escaped here) and the embedded
//! browser code; the sign-in form's handler.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use crate::api::Shared;
use crate::auth::{Principal, session_cookie};

const PAGE: &str = include_str!("../assets/page.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

/// `text` safe inside HTML text and double-quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The shell of page `page` (`overview`, `ops`, `op`, …).
fn shell(page: &str, title: &str, id: &str, who: Option<&Principal>, error: &str) -> Response {
    let csrf = who.and_then(|p| p.csrf.clone()).unwrap_or_default();
    let who = who.map_or(String::new(), |p| format!("{} · {}", p.name, p.permission));
    let html = PAGE
        .replace("{{title}}", &escape(&format!("{title} · brain")))
        .replace("{{page}}", page)
        .replace("{{id}}", &escape(id))
        .replace("{{csrf}}", &escape(&csrf))
        .replace("{{who}}", &escape(&who))
        .replace("{{error}}", &escape(error));
    let mut response = Html(html).into_response();
    // Pages carry the session's token: no caching, and no framing by other sites.
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    response
}

pub(crate) async fn overview(Extension(p): Extension<Principal>) -> Response {
    shell("overview", "Overview", "", Some(&p), "")
}

pub(crate) async fn ops(Extension(p): Extension<Principal>) -> Response {
    shell("ops", "Operations", "", Some(&p), "")
}

pub(crate) async fn op(Extension(p): Extension<Principal>, Path(id): Path<String>) -> Response {
    shell("op", &id, &id, Some(&p), "")
}

pub(crate) async fn estimates(Extension(p): Extension<Principal>) -> Response {
    shell("estimates", "Estimates", "", Some(&p), "")
}

pub(crate) async fn start(Extension(p): Extension<Principal>) -> Response {
    shell("start", "Start an operation", "", Some(&p), "")
}

pub(crate) async fn login_page() -> Response {
    shell("login", "Sign in", "", None, "")
}

#[derive(Debug, Deserialize)]
pub(crate) struct Login {
    secret: String,
}

pub(crate) async fn login(State(app): Shared, Form(form): Form<Login>) -> Response {
    match app.access.token(form.secret.trim()) {
        Some(token) => {
            let id = app.access.start_session(&token.name, token.permission);
            let mut response = Redirect::to("/").into_response();
            response
                .headers_mut()
                .insert(header::SET_COOKIE, session_cookie(&id));
            response
        }
        None => {
            let mut response = shell(
                "login",
                "Sign in",
                "",
                None,
                "That secret is not one of [web.tokens].",
            );
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response
        }
    }
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

pub(crate) async fn app_css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
