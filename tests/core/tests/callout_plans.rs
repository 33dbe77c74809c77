//! HTTP callouts as plans and answers (`router::callout`): what the host sends, and how what came back
//! is read, as table tests.

use predictor_router::router::callout::{answer, before_body, Answer, CalloutPlan, Failure};
use predictor_router::router::header_map::values_of;

const MIB: usize = 1 << 20;

fn plan() -> CalloutPlan {
    let mut plan = CalloutPlan::get(
        "outbound|9090||prometheus.monitoring.svc.cluster.local",
        "prometheus.monitoring.svc.cluster.local:9090",
        "/api/v1/query?query=up&time=1700000000".into(),
        2000,
    );
    plan.headers.push(("accept".into(), b"application/json".to_vec()));
    plan
}

#[test]
fn the_pseudo_headers_come_first_then_the_others_in_order() {
    let plan = plan();
    let names: Vec<&str> = plan.header_pairs().map(|(k, _)| k).collect();
    assert_eq!(names, [":method", ":path", ":authority", "accept"]);
    let values: Vec<&[u8]> = plan.header_pairs().map(|(_, v)| v).collect();
    assert_eq!(values[0], b"GET");
    assert_eq!(values[1], b"/api/v1/query?query=up&time=1700000000");
    assert_eq!(values[2], b"prometheus.monitoring.svc.cluster.local:9090");
}

#[test]
fn the_serialized_headers_read_back_with_the_abi_decoder() {
    let bytes = plan().serialized_headers();
    assert_eq!(&bytes[..4], &4u32.to_le_bytes(), "four pairs");
    assert_eq!(values_of(&bytes, b":method"), [b"GET".to_vec()]);
    assert_eq!(
        values_of(&bytes, b":path"),
        [b"/api/v1/query?query=up&time=1700000000".to_vec()]
    );
    assert_eq!(values_of(&bytes, b"accept"), [b"application/json".to_vec()]);
    // The exact layout: sizes first, then NUL-terminated keys and values.
    let one = CalloutPlan::get("c", "a", "/".into(), 1).serialized_headers();
    let mut expected = 3u32.to_le_bytes().to_vec();
    for (k, v) in [(7u32, 3u32), (5, 1), (10, 1)] {
        expected.extend_from_slice(&k.to_le_bytes());
        expected.extend_from_slice(&v.to_le_bytes());
    }
    expected.extend_from_slice(b":method\0GET\0:path\0/\0:authority\0a\0");
    assert_eq!(one, expected);
}

/// Headers that arrived, `:status`, announced body size, and what is known before reading the body.
type BeforeBody = (usize, Option<&'static [u8]>, usize, Result<u16, Failure>);

#[test]
fn what_is_known_before_the_body_is_read() {
    let cases: &[BeforeBody] = &[
        (0, None, 0, Err(Failure::NoResponse)),
        (0, Some(b"200"), 10, Err(Failure::NoResponse)),
        (2, Some(b"200"), 10, Ok(200)),
        (2, Some(b"503"), 0, Ok(503)),
        (2, Some(b"100"), 0, Ok(100)),
        (2, Some(b"599"), 0, Ok(599)),
        (2, None, 0, Err(Failure::BadStatus)),
        (2, Some(b""), 0, Err(Failure::BadStatus)),
        (2, Some(b"20"), 0, Err(Failure::BadStatus)),
        (2, Some(b"2000"), 0, Err(Failure::BadStatus)),
        (2, Some(b"20x"), 0, Err(Failure::BadStatus)),
        (2, Some(b"099"), 0, Err(Failure::BadStatus)),
        (2, Some(b"600"), 0, Err(Failure::BadStatus)),
        (2, Some(b"\xff\xfe\xfd"), 0, Err(Failure::BadStatus)),
        (2, Some(b"200"), MIB, Ok(200)),
        (2, Some(b"200"), MIB + 1, Err(Failure::TooLarge)),
        (2, Some(b"200"), 2 * MIB, Err(Failure::TooLarge)),
    ];
    for (headers, status, body_size, expected) in cases {
        assert_eq!(
            before_body(*headers, *status, *body_size, MIB),
            *expected,
            "{headers} headers, status {status:?}, body {body_size}"
        );
    }
}

#[test]
fn the_answer_holds_the_status_and_body_or_the_failure() {
    assert_eq!(
        answer(Ok(200), Some(b"{}".to_vec())),
        Answer::Response {
            status: 200,
            body: b"{}".to_vec()
        }
    );
    assert_eq!(
        answer(Ok(204), None),
        Answer::Response {
            status: 204,
            body: Vec::new()
        }
    );
    assert_eq!(
        answer(Err(Failure::TooLarge), Some(b"x".to_vec())),
        Answer::Failed(Failure::TooLarge)
    );
    assert_eq!(
        answer(Err(Failure::NoResponse), None),
        Answer::Failed(Failure::NoResponse)
    );
}
