//! The RFC 3261 §17 machines and keys fed with real parsed messages from the SIP layer
//! (`crate::sip::{parse, Message, MessageBuilder}`) and a carrier trace
//! (fixtures/sip/carrier-traces, a 3GPP IMS emergency call to urn:service:sos).

use std::time::{Duration, Instant};

use answerpoint::sip::transaction::{
    ClientEvent, ClientKey, ClientTransaction, InviteClient, InviteServer, InviteServerState,
    KeyError, Reliability, RequestMatch, ServerEvent, ServerKey, ServerTransaction, TimerConfig,
    TransactionTable, Trying, TxEvent,
};
use answerpoint::sip::{parse, Message, MessageBuilder, Method};

fn trace(name: &str) -> Message {
    let path = format!(
        "{}/fixtures/sip/carrier-traces/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    parse(&std::fs::read(path).unwrap()).unwrap()
}

/// The server key of a received request, from its top Via and method (§17.2.3).
fn server_key(m: &Message) -> Result<ServerKey, KeyError> {
    let via = m.top_via().ok_or(KeyError::MissingBranch)?;
    let method = m.method().ok_or(KeyError::InvalidMethod)?;
    ServerKey::from_parts(
        via.branch().unwrap_or(""),
        &via.host.to_uri_string(),
        via.port,
        method.as_str(),
    )
}

/// The client key of a received response, from its top Via and CSeq method (§17.1.3).
fn client_key(m: &Message) -> Result<ClientKey, KeyError> {
    let via = m.top_via().ok_or(KeyError::MissingBranch)?;
    let cseq = m.cseq().ok_or(KeyError::InvalidMethod)?;
    ClientKey::new(via.branch().unwrap_or(""), cseq.method)
}

#[test]
fn carrier_sos_invite_absorbed_cancelled_and_acked() {
    let t0 = Instant::now();
    let cfg = TimerConfig::default();
    let invite = trace("14_INVITE-urn-service-sos-SIP-2-0.sip");
    let key = server_key(&invite).unwrap();
    assert_eq!(key.branch(), "z9hg4bk24e14040b017");
    assert_eq!(key.sent_by(), "10.244.139.184:5060");

    let mut table: TransactionTable<Message> = TransactionTable::new(100);
    assert_eq!(
        table.handle_request(t0, &key, "INVITE", invite.clone()),
        RequestMatch::New
    );
    let trying = MessageBuilder::response_to(&invite, 100, "Trying")
        .build()
        .unwrap();
    table
        .insert_server(
            key.clone(),
            ServerTransaction::Invite(InviteServer::new(
                t0,
                Reliability::Unreliable,
                cfg,
                Trying::Immediate(trying),
            )),
        )
        .unwrap();
    let (_, sent) = table.poll_transmit().unwrap();
    assert_eq!(sent.status_code(), Some(100));
    assert_eq!(
        client_key(&sent).unwrap(),
        ClientKey::new("z9hG4bK24e14040b017", "INVITE").unwrap()
    );

    // The same bytes again (a UDP retransmission): absorbed, the 100 re-sent.
    let again = trace("14_INVITE-urn-service-sos-SIP-2-0.sip");
    assert_eq!(
        table.handle_request(
            t0 + Duration::from_millis(500),
            &server_key(&again).unwrap(),
            "INVITE",
            again
        ),
        RequestMatch::Absorbed
    );
    assert_eq!(table.poll_transmit().unwrap().1.status_code(), Some(100));

    // The CANCEL in the trace was captured at another hop: its top Via branch differs from
    // the INVITE's, so by RFC 3261 §9.2 / §17.2.3 it cancels nothing here (answer 481).
    let trace_cancel = trace("16_CANCEL-urn-service-sos-SIP-2-0.sip");
    let trace_cancel_key = server_key(&trace_cancel).unwrap();
    assert!(!table.is_cancellable(&trace_cancel_key));

    // A CANCEL built per §9.1 from this INVITE (same top Via) targets it.
    let cancel = MessageBuilder::cancel_for(&invite)
        .unwrap()
        .build()
        .unwrap();
    let cancel_key = server_key(&cancel).unwrap();
    assert_eq!(cancel_key.method(), "CANCEL");
    assert_eq!(cancel_key.cancel_target(), key);
    assert!(table.is_cancellable(&cancel_key));
    let t1 = t0 + Duration::from_secs(20);
    let r487 = MessageBuilder::response_to(&invite, 487, "Request Terminated")
        .to_tag("LRF_cd99ae1")
        .build()
        .unwrap();
    table.send_response(t1, &key, 487, r487.clone()).unwrap();
    assert_eq!(table.poll_transmit().unwrap().1.status_code(), Some(487));

    // The upstream's ACK for the 487 (§17.1.1.3: the INVITE's top Via) matches the INVITE.
    let ack = MessageBuilder::ack_for_non2xx(&invite, &r487)
        .unwrap()
        .build()
        .unwrap();
    let ack_key = server_key(&ack).unwrap();
    let method = ack.method().unwrap().as_str().to_owned();
    assert_eq!(ack_key, key);
    assert_eq!(
        table.handle_request(t1, &ack_key, &method, ack),
        RequestMatch::Absorbed
    );
    match table.server(&key) {
        Some(ServerTransaction::Invite(s)) => assert_eq!(s.state(), InviteServerState::Confirmed),
        other => panic!("{other:?}"),
    }
    table.handle_timeout(t1 + Duration::from_secs(5));
    assert!(matches!(
        table.poll_event(),
        Some((_, TxEvent::Server(ServerEvent::Terminated)))
    ));
    assert!(table.is_empty());
}

#[test]
fn invite_client_acks_a_487_with_the_sip_layer_builder() {
    let t0 = Instant::now();
    let invite = MessageBuilder::request(Method::Invite, "sip:seat-1@127.0.0.1:5090")
        .header("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-ap-1")
        .header("Max-Forwards", "70")
        .header("From", "<sip:999@answerpoint>;tag=ap1")
        .header("To", "<sip:seat-1@127.0.0.1>")
        .header("Call-ID", "call-1@answerpoint")
        .header("CSeq", "1 INVITE")
        .build()
        .unwrap();
    let key = ClientKey::new("z9hG4bK-ap-1", "INVITE").unwrap();
    let mut table: TransactionTable<Message> = TransactionTable::new(10);
    table
        .insert_client(
            key.clone(),
            ClientTransaction::Invite(InviteClient::new(
                t0,
                invite.clone(),
                Reliability::Unreliable,
                TimerConfig::default(),
            )),
        )
        .unwrap();
    assert_eq!(table.poll_transmit().unwrap().1, invite);

    let busy = MessageBuilder::response_to(&invite, 486, "Busy Here")
        .to_tag("seat1")
        .build()
        .unwrap();
    let wire = parse(&busy.to_bytes()).unwrap();
    assert_eq!(client_key(&wire).unwrap(), key);
    let inv = invite.clone();
    let resp = wire.clone();
    assert!(table
        .handle_response(t0 + Duration::from_millis(40), &key, 486, wire, move || {
            MessageBuilder::ack_for_non2xx(&inv, &resp)
                .unwrap()
                .build()
                .unwrap()
        })
        .unwrap());
    let (_, ack) = table.poll_transmit().unwrap();
    assert_eq!(ack.method().unwrap().as_str(), "ACK");
    assert_eq!(ack.top_via().unwrap().branch(), Some("z9hG4bK-ap-1"));
    assert_eq!(ack.cseq().unwrap().method, "ACK");
    assert!(matches!(
        table.poll_event(),
        Some((
            _,
            TxEvent::Client(ClientEvent::Response { status: 486, .. })
        ))
    ));
}
