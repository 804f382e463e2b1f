//! The API reference page (`GET /reference`, docs/api.md "OpenAPI description") through
//! the real components: the page, its one script and what the browser needs to trust
//! them (types, CSP, encoding), and that the page renders the app's own description.

use roster_tests::App;

/// The page's Content-Security-Policy, as docs/api.md states it.
const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_page_and_its_script_are_served_locally_under_a_strict_csp() {
    let app = App::start().await;
    let page = app.send("GET", "/reference", None, &[], None).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("content-security-policy"), Some(CSP));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    // The page renders the app's own description, and its only script is the app's
    // own file: no inline script (the CSP would refuse one), nothing from elsewhere.
    assert!(
        page.text.contains(r#"<rapi-doc spec-url="/openapi.json""#),
        "{}",
        page.text
    );
    let scripts: Vec<&str> = page.text.split("<script").skip(1).collect();
    assert_eq!(scripts.len(), 1, "{}", page.text);
    assert!(scripts[0].starts_with(r#" type="module" src="/reference/rapidoc-min.js"></script>"#));
    assert!(
        !page.text.contains("://"),
        "the page names another origin: {}",
        page.text
    );

    // The script, as a browser fetches it (deflate accepted) and as a client that
    // accepts no coding does: the same RapiDoc bundle.
    let client = reqwest::Client::new();
    let packed = client
        .get(app.url("/reference/rapidoc-min.js"))
        .header("accept-encoding", "gzip, deflate, br, zstd")
        .send()
        .await
        .unwrap();
    assert_eq!(packed.status(), 200);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        header(&packed, "content-type").as_deref(),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        header(&packed, "content-encoding").as_deref(),
        Some("deflate")
    );
    assert_eq!(header(&packed, "vary").as_deref(), Some("accept-encoding"));
    assert_eq!(
        header(&packed, "content-security-policy").as_deref(),
        Some(CSP)
    );
    let packed = packed.bytes().await.unwrap();
    let script = app
        .send("GET", "/reference/rapidoc-min.js", None, &[], None)
        .await;
    assert_eq!(script.status, 200);
    assert_eq!(script.header("content-encoding"), None);
    assert_eq!(
        miniz_oxide::inflate::decompress_to_vec_zlib(&packed).unwrap(),
        script.text.as_bytes()
    );
    // RapiDoc's bundle, which defines the page's element, as npm ships it.
    assert!(script.text.contains(r#"customElements.define("rapi-doc""#));
    let installed = roster_tests::root()
        .join("target/reference-assets/node_modules/rapidoc/dist/rapidoc-min.js");
    assert_eq!(script.text.as_bytes(), std::fs::read(installed).unwrap());
    // Compressed, it is a quarter of the bundle (what keeps its component small).
    assert!(
        packed.len() * 4 < script.text.len(),
        "{} bytes",
        packed.len()
    );

    // What the page loads next, its description, is the app's own and public.
    let doc = app.send("GET", "/openapi.json", None, &[], None).await;
    assert_eq!(doc.status, 200);
    for route in ["/reference", "/reference/rapidoc-min.js"] {
        assert!(
            doc.body["paths"][route]["get"].is_object(),
            "{route} is not described"
        );
        let post = app.send("POST", route, None, &[], None).await;
        assert_eq!(post.status, 405, "{route}");
        assert_eq!(post.header("allow"), Some("GET, HEAD"), "{route}");
        // HEAD (RFC 9110 §9.3.2): GET's headers, no body.
        let get = app.send("GET", route, None, &[], None).await;
        let head = app.send("HEAD", route, None, &[], None).await;
        assert_eq!(head.status, 200, "{route}");
        assert!(head.text.is_empty(), "{route}: a HEAD answer has no body");
        for h in [
            "content-type",
            "content-security-policy",
            "x-content-type-options",
        ] {
            assert_eq!(head.header(h), get.header(h), "{route}: {h}");
        }
    }
    app.assert_consistent();
}
