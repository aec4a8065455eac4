//! Property: a `multipart/mixed` body framed per RFC 2046 §5.1.1 from any parts (content
//! free of the boundary) splits back into exactly those parts, with their headers, whether
//! the boundary is quoted or not and with any preamble and epilogue.

use answerpoint::location::multipart::{Multipart, MultipartLimits};
use proptest::prelude::*;

const BOUNDARY: &str = "ap-boundary-5f2c1e9a";

fn part_strategy() -> impl Strategy<Value = (String, Vec<u8>)> {
    (
        "[a-z]{1,12}/[a-z0-9.+-]{1,20}",
        proptest::collection::vec(any::<u8>(), 0..300),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn framed_parts_split_back(
        parts in proptest::collection::vec(part_strategy(), 1..6),
        preamble in "[ -~]{0,40}",
        epilogue in proptest::collection::vec(any::<u8>(), 0..40),
        quoted in any::<bool>(),
    ) {
        // Content must not contain the delimiter.
        prop_assume!(parts.iter().all(|(_, b)| !b.windows(BOUNDARY.len()).any(|w| w == BOUNDARY.as_bytes())));
        let mut body = Vec::new();
        if !preamble.is_empty() {
            body.extend_from_slice(preamble.as_bytes());
            body.extend_from_slice(b"\r\n");
        }
        for (i, (ct, content)) in parts.iter().enumerate() {
            body.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Type: {ct}\r\nContent-ID: <p{i}@example.com>\r\n\r\n").as_bytes());
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        body.extend_from_slice(&epilogue);
        let ct = if quoted {
            format!("multipart/mixed; boundary=\"{BOUNDARY}\"")
        } else {
            format!("multipart/mixed;boundary={BOUNDARY}")
        };
        let mp = Multipart::parse(&ct, &body, &MultipartLimits::default()).unwrap();
        prop_assert!(!mp.unterminated && !mp.boundary_mismatch);
        prop_assert_eq!(mp.parts.len(), parts.len());
        for (i, ((ct, content), got)) in parts.iter().zip(&mp.parts).enumerate() {
            prop_assert_eq!(got.content_type(), ct.as_str());
            prop_assert_eq!(got.body, content.as_slice());
            let cid = format!("p{i}@example.com");
            prop_assert_eq!(got.content_id(), Some(cid.as_str()));
            prop_assert_eq!(mp.part_by_cid(&format!("cid:{cid}")).map(|p| p.body), Some(content.as_slice()));
        }
    }
}
