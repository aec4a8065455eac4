//! Additional data about an emergency call (RFC 7852 §4): the `EmergencyCallData.*`
//! blocks — ProviderInfo (§4.1), ServiceInfo (§4.2), DeviceInfo (§4.3), SubscriberInfo
//! (§4.4), Comment (§4.5) — by value (a body part, or inside a PIDF-LO `<provided-by>`,
//! §5) and by reference (a `Call-Info` URI or `EmergencyCallDataReference`). Also the
//! related documents NG9-1-1 systems send alongside: OASIS CAP 1.2 alerts (RFC 8876) and
//! vCards as xCard (RFC 6351) or jCard (RFC 7095).
//!
//! The parser extracts the fields a call handler reads; the original bytes are passed on
//! to the handler unchanged (see [`crate::location::passon`]), so nothing is lost.

use roxmltree::Node;
use serde::Serialize;

use super::xml::{child, child_text, children, parse_bounded, text_of, XmlError, XmlLimits};

/// Errors in an additional-data document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdditionalDataError {
    /// The XML was refused (size, depth, node count, DTD, syntax).
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// An RFC 7852 block without its mandatory `DataProviderReference` (§4.1.1 ff.).
    #[error("{block} has no DataProviderReference")]
    MissingDataProviderReference {
        /// The block's root element name.
        block: String,
    },
    /// jCard (RFC 7095) that is not JSON or not a `["vcard", [...]]` array.
    #[error("malformed jCard: {0}")]
    BadJcard(String),
    /// A root element this module does not know.
    #[error("unknown additional-data document {root:?}")]
    Unknown {
        /// Root element local name.
        root: String,
    },
}

/// One parsed additional-data block.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum AdditionalData {
    /// RFC 7852 §4.1 `EmergencyCallData.ProviderInfo`.
    ProviderInfo(ProviderInfo),
    /// RFC 7852 §4.2 `EmergencyCallData.ServiceInfo`.
    ServiceInfo(ServiceInfo),
    /// RFC 7852 §4.3 `EmergencyCallData.DeviceInfo`.
    DeviceInfo(DeviceInfo),
    /// RFC 7852 §4.4 `EmergencyCallData.SubscriberInfo`.
    SubscriberInfo(SubscriberInfo),
    /// RFC 7852 §4.5 `EmergencyCallData.Comment`.
    Comment(CommentInfo),
    /// OASIS CAP 1.2 `alert` (RFC 8876).
    Cap(CapAlert),
    /// One or more vCards (xCard `vcard`/`vcards`, or jCard).
    VCards(Vec<VCard>),
    /// Another `EmergencyCallData.*` block (e.g. NENA-CallerInfo), kept by name.
    Other {
        /// Root element local name.
        root: String,
        /// Root element namespace.
        namespace: Option<String>,
        /// Its DataProviderReference, if it has one.
        data_provider_reference: Option<String>,
    },
}

/// RFC 7852 §4.1 data provider information.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ProviderInfo {
    /// §4.1.1 DataProviderReference.
    pub data_provider_reference: String,
    /// §4.1.2 DataProviderString (the provider's name).
    pub data_provider_string: Option<String>,
    /// §4.1.3 ProviderID.
    pub provider_id: Option<String>,
    /// §4.1.4 ProviderIDSeries.
    pub provider_id_series: Option<String>,
    /// §4.1.5 TypeOfProvider.
    pub type_of_provider: Option<String>,
    /// §4.1.6 ContactURI (24×7 contact, usually `tel:`).
    pub contact_uri: Option<String>,
    /// §4.1.7 Language(s).
    pub languages: Vec<String>,
    /// §4.1.8 DataProviderContact vCard.
    pub contact: Option<VCard>,
}

/// RFC 7852 §4.2 service information.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ServiceInfo {
    /// DataProviderReference.
    pub data_provider_reference: String,
    /// §4.2.1 ServiceEnvironment (`Business`, `Residence`, `Unknown`).
    pub service_environment: Option<String>,
    /// §4.2.2 ServiceType values (`wireless`, `POTS`, `VOIP`…).
    pub service_types: Vec<String>,
    /// §4.2.3 ServiceMobility (`Mobile`, `Fixed`, `Nomadic`, `Unknown`).
    pub service_mobility: Option<String>,
}

/// RFC 7852 §4.3 device information.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct DeviceInfo {
    /// DataProviderReference.
    pub data_provider_reference: String,
    /// §4.3.1 DeviceClassification.
    pub device_classification: Option<String>,
    /// §4.3.2 DeviceMfgr.
    pub device_mfgr: Option<String>,
    /// §4.3.3 DeviceModelNr.
    pub device_model_nr: Option<String>,
    /// §4.3.4 UniqueDeviceID values with their `TypeOfDeviceID` (`IMEI`, `MAC`…).
    pub unique_device_ids: Vec<(Option<String>, String)>,
}

/// RFC 7852 §4.4 owner/subscriber information.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct SubscriberInfo {
    /// DataProviderReference.
    pub data_provider_reference: String,
    /// `privacyRequested` attribute (§4.4).
    pub privacy_requested: Option<bool>,
    /// §4.4.1 SubscriberData vCard(s).
    pub subscriber: Vec<VCard>,
}

/// RFC 7852 §4.5 comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct CommentInfo {
    /// DataProviderReference.
    pub data_provider_reference: String,
    /// Comments with their `xml:lang`.
    pub comments: Vec<(Option<String>, String)>,
}

/// The fields of an OASIS CAP 1.2 alert a handler reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct CapAlert {
    /// `identifier`.
    pub identifier: Option<String>,
    /// `sender`.
    pub sender: Option<String>,
    /// `sent`, as Unix milliseconds when it parses.
    pub sent_ms: Option<i64>,
    /// `status` (`Actual`, `Exercise`, `Test`…).
    pub status: Option<String>,
    /// `msgType`.
    pub msg_type: Option<String>,
    /// `info/event` values.
    pub events: Vec<String>,
    /// `info/headline` values.
    pub headlines: Vec<String>,
}

/// The vCard fields a handler reads (RFC 6350 FN, N, TEL, EMAIL, ADR).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct VCard {
    /// FN (formatted name).
    pub full_name: Option<String>,
    /// TEL values (URI or text).
    pub tel: Vec<String>,
    /// EMAIL values.
    pub email: Vec<String>,
    /// ADR values joined as "street, locality, region, code, country".
    pub addresses: Vec<String>,
}

/// A reference to an additional-data block (RFC 7852 §4.1: `Call-Info` by reference, or
/// `EmergencyCallDataReference` in `<provided-by>`, §5), kept for a later dereference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataReference {
    /// The purpose (`EmergencyCallData.ServiceInfo`…).
    pub purpose: String,
    /// The URI to dereference (`https://…`).
    pub uri: String,
}

/// A PIDF-LO `<provided-by>` element in the EmergencyCallData namespace (RFC 7852 §5).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ProvidedBy {
    /// `EmergencyCallDataReference` elements.
    pub references: Vec<DataReference>,
    /// Blocks inside `EmergencyCallDataValue`.
    pub values: Vec<AdditionalData>,
    /// Blocks inside `EmergencyCallDataValue` that failed to parse.
    #[serde(skip)]
    pub errors: Vec<AdditionalDataError>,
}

/// Most blocks read from one `<provided-by>`.
const MAX_PROVIDED_BY: usize = 16;

impl ProvidedBy {
    /// Reads a `<provided-by>` element (RFC 7852 §5).
    pub(crate) fn from_node(node: Node<'_, '_>) -> ProvidedBy {
        let mut pb = ProvidedBy::default();
        for r in children(node, "EmergencyCallDataReference").take(MAX_PROVIDED_BY) {
            if let (Some(p), Some(u)) = (r.attribute("purpose"), r.attribute("ref")) {
                pb.references.push(DataReference {
                    purpose: p.trim().to_owned(),
                    uri: u.trim().to_owned(),
                });
            }
        }
        for v in children(node, "EmergencyCallDataValue") {
            for block in v.children().filter(Node::is_element).take(MAX_PROVIDED_BY) {
                match parse_node(block) {
                    Ok(b) => pb.values.push(b),
                    Err(e) => pb.errors.push(e),
                }
            }
        }
        pb
    }
}

/// Parses an additional-data XML document (any of the kinds in [`AdditionalData`]) under
/// the default [`XmlLimits`].
///
/// # Errors
/// [`AdditionalDataError`] for refused XML, a missing DataProviderReference or an unknown
/// root element.
pub fn parse_additional_data(xml: &str) -> Result<AdditionalData, AdditionalDataError> {
    let doc = parse_bounded(xml, &XmlLimits::default())?;
    parse_node(doc.root_element())
}

/// Parses one block from its root element.
pub(crate) fn parse_node(root: Node<'_, '_>) -> Result<AdditionalData, AdditionalDataError> {
    let name = root.tag_name().name();
    let dpr = || {
        child_text(root, "DataProviderReference").ok_or_else(|| {
            AdditionalDataError::MissingDataProviderReference {
                block: name.to_owned(),
            }
        })
    };
    Ok(match name {
        "EmergencyCallData.ProviderInfo" => AdditionalData::ProviderInfo(ProviderInfo {
            data_provider_reference: dpr()?,
            data_provider_string: child_text(root, "DataProviderString"),
            provider_id: child_text(root, "ProviderID"),
            provider_id_series: child_text(root, "ProviderIDSeries"),
            type_of_provider: child_text(root, "TypeOfProvider"),
            contact_uri: child_text(root, "ContactURI"),
            languages: children(root, "Language")
                .filter_map(text_of)
                .map(str::to_owned)
                .take(8)
                .collect(),
            contact: child(root, "DataProviderContact")
                .and_then(|c| child(c, "vcard"))
                .map(vcard_from_xml),
        }),
        "EmergencyCallData.ServiceInfo" => AdditionalData::ServiceInfo(ServiceInfo {
            data_provider_reference: dpr()?,
            service_environment: child_text(root, "ServiceEnvironment"),
            service_types: children(root, "ServiceType")
                .filter_map(text_of)
                .map(str::to_owned)
                .take(8)
                .collect(),
            service_mobility: child_text(root, "ServiceMobility"),
        }),
        "EmergencyCallData.DeviceInfo" => AdditionalData::DeviceInfo(DeviceInfo {
            data_provider_reference: dpr()?,
            device_classification: child_text(root, "DeviceClassification"),
            device_mfgr: child_text(root, "DeviceMfgr"),
            device_model_nr: child_text(root, "DeviceModelNr"),
            unique_device_ids: children(root, "UniqueDeviceID")
                .filter_map(|n| {
                    Some((
                        n.attribute("TypeOfDeviceID").map(str::to_owned),
                        text_of(n)?.to_owned(),
                    ))
                })
                .take(8)
                .collect(),
        }),
        "EmergencyCallData.SubscriberInfo" => AdditionalData::SubscriberInfo(SubscriberInfo {
            data_provider_reference: dpr()?,
            privacy_requested: root.attribute("privacyRequested").and_then(parse_xml_bool),
            subscriber: child(root, "SubscriberData")
                .map(|d| {
                    d.children()
                        .filter(|c| c.is_element() && c.tag_name().name() == "vcard")
                        .take(8)
                        .map(vcard_from_xml)
                        .collect()
                })
                .unwrap_or_default(),
        }),
        "EmergencyCallData.Comment" => AdditionalData::Comment(CommentInfo {
            data_provider_reference: dpr()?,
            comments: children(root, "Comment")
                .filter_map(|n| {
                    Some((
                        n.attribute(("http://www.w3.org/XML/1998/namespace", "lang"))
                            .map(str::to_owned),
                        text_of(n)?.to_owned(),
                    ))
                })
                .take(16)
                .collect(),
        }),
        "alert" => AdditionalData::Cap(CapAlert {
            identifier: child_text(root, "identifier"),
            sender: child_text(root, "sender"),
            sent_ms: child_text(root, "sent").and_then(|s| super::time::parse_rfc3339_ms(&s)),
            status: child_text(root, "status"),
            msg_type: child_text(root, "msgType"),
            events: children(root, "info")
                .filter_map(|i| child_text(i, "event"))
                .take(16)
                .collect(),
            headlines: children(root, "info")
                .filter_map(|i| child_text(i, "headline"))
                .take(16)
                .collect(),
        }),
        "vcard" => AdditionalData::VCards(vec![vcard_from_xml(root)]),
        "vcards" => AdditionalData::VCards(
            children(root, "vcard")
                .take(16)
                .map(vcard_from_xml)
                .collect(),
        ),
        n if n.starts_with("EmergencyCallData.") => AdditionalData::Other {
            root: n.to_owned(),
            namespace: root.tag_name().namespace().map(str::to_owned),
            data_provider_reference: child_text(root, "DataProviderReference"),
        },
        n => {
            return Err(AdditionalDataError::Unknown {
                root: n.chars().take(64).collect(),
            })
        }
    })
}

fn parse_xml_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// Reads an xCard `vcard` element (RFC 6351 §3).
fn vcard_from_xml(v: Node<'_, '_>) -> VCard {
    let value_of = |prop: Node<'_, '_>| -> Option<String> {
        ["uri", "text"].iter().find_map(|k| child_text(prop, k))
    };
    VCard {
        full_name: child(v, "fn").and_then(|f| child_text(f, "text")),
        tel: children(v, "tel").filter_map(value_of).take(8).collect(),
        email: children(v, "email").filter_map(value_of).take(8).collect(),
        addresses: children(v, "adr")
            .take(8)
            .map(|a| {
                ["street", "locality", "region", "code", "country"]
                    .iter()
                    .filter_map(|k| child_text(a, k))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|s| !s.is_empty())
            .collect(),
    }
}

/// Parses a jCard (RFC 7095 §3: `["vcard", [[name, params, type, value…]…]]`), or a JSON
/// array of jCards, into [`VCard`]s. Input is capped at 256 KiB.
///
/// # Errors
/// [`AdditionalDataError::BadJcard`] when it is not JSON or not jCard-shaped.
pub fn parse_jcard(json: &str) -> Result<Vec<VCard>, AdditionalDataError> {
    use serde_json::Value;
    if json.len() > 256 * 1024 {
        return Err(AdditionalDataError::BadJcard("larger than 256 KiB".into()));
    }
    let v: Value = serde_json::from_str(json.trim_start_matches('\u{feff}'))
        .map_err(|e| AdditionalDataError::BadJcard(e.to_string()))?;
    fn one(v: &Value) -> Option<VCard> {
        let arr = v.as_array()?;
        if arr.first()?.as_str()? != "vcard" {
            return None;
        }
        let mut card = VCard::default();
        for prop in arr.get(1)?.as_array()?.iter().take(256) {
            let p = prop.as_array()?;
            let name = p.first()?.as_str()?.to_ascii_lowercase();
            let text = |val: &Value| -> String {
                match val {
                    Value::String(s) => s.clone(),
                    Value::Array(a) => a
                        .iter()
                        .filter_map(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(", "),
                    other => other.to_string(),
                }
            };
            let value = p.get(3).map(text).unwrap_or_default();
            match name.as_str() {
                "fn" => card.full_name = Some(value),
                "tel" => card.tel.push(value),
                "email" => card.email.push(value),
                "adr" => card.addresses.push(value),
                _ => {}
            }
        }
        Some(card)
    }
    let bad = || AdditionalDataError::BadJcard("not a [\"vcard\", [...]] array".into());
    if let Some(card) = one(&v) {
        return Ok(vec![card]);
    }
    v.as_array()
        .ok_or_else(bad)?
        .iter()
        .take(16)
        .map(|c| one(c).ok_or_else(bad))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_reference_is_an_error() {
        let xml = r#"<svc:EmergencyCallData.ServiceInfo xmlns:svc="urn:ietf:params:xml:ns:EmergencyCallData:ServiceInfo"><svc:ServiceType>POTS</svc:ServiceType></svc:EmergencyCallData.ServiceInfo>"#;
        assert_eq!(
            parse_additional_data(xml),
            Err(AdditionalDataError::MissingDataProviderReference {
                block: "EmergencyCallData.ServiceInfo".into()
            })
        );
    }

    #[test]
    fn unknown_root() {
        assert_eq!(
            parse_additional_data("<foo/>"),
            Err(AdditionalDataError::Unknown { root: "foo".into() })
        );
    }

    #[test]
    fn jcard_errors() {
        assert!(matches!(
            parse_jcard("{"),
            Err(AdditionalDataError::BadJcard(_))
        ));
        assert!(matches!(
            parse_jcard("[1,2]"),
            Err(AdditionalDataError::BadJcard(_))
        ));
        let c =
            parse_jcard(r#"["vcard",[["fn",{},"text","A B"],["tel",{},"uri","tel:+1"]]]"#).unwrap();
        assert_eq!(c[0].full_name.as_deref(), Some("A B"));
        assert_eq!(c[0].tel, vec!["tel:+1".to_string()]);
    }
}
