//! Caller location and emergency data: PIDF-LO (RFC 4119, RFC 5491, RFC 5139),
//! multipart bodies (RFC 2046), Geolocation (RFC 6442), AML (ETSI TS 103 625) and
//! RFC 7852 additional data.
