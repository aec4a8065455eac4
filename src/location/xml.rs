//! Bounded XML parsing for PIDF-LO (RFC 4119) and RFC 7852 additional-data documents.
//!
//! Wraps `roxmltree` with the caps every network-facing XML parser here needs: an input
//! size cap, a node-count cap (checked by roxmltree while it builds the tree), an element
//! nesting-depth cap (checked before anything walks the tree) and DTDs refused, so no
//! entity defined by the sender, internal or external, is ever expanded (XXE, "billion
//! laughs"). No I/O: the caller hands in the text.

use roxmltree::{Document, Node, ParsingOptions};

/// Limits applied to one XML document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XmlLimits {
    /// Largest accepted document, in bytes.
    pub max_bytes: usize,
    /// Most nodes (elements, text, comments, PIs, attributes' parents) roxmltree may build.
    pub max_nodes: u32,
    /// Deepest element nesting accepted (the root element is depth 1).
    pub max_depth: usize,
}

impl Default for XmlLimits {
    /// 256 KiB, 20,000 nodes, depth 32: several times the largest real emergency-call
    /// document seen (a 15 KB PIDF-LO with every RFC 7852 block by value, depth 9).
    fn default() -> Self {
        XmlLimits {
            max_bytes: 256 * 1024,
            max_nodes: 20_000,
            max_depth: 32,
        }
    }
}

/// Why an XML document was refused before its content was looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// The document is larger than [`XmlLimits::max_bytes`].
    #[error("XML document of {size} bytes exceeds the {limit}-byte limit")]
    TooLarge {
        /// Document size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// Element nesting deeper than [`XmlLimits::max_depth`].
    #[error("XML nesting deeper than {limit} elements")]
    TooDeep {
        /// The depth limit.
        limit: usize,
    },
    /// Not well-formed XML, a DTD (refused), or more than [`XmlLimits::max_nodes`] nodes;
    /// the text is roxmltree's description including the position.
    #[error("malformed XML: {0}")]
    Malformed(String),
}

/// Parses `text` as XML under `limits`: a leading UTF-8 byte-order mark is skipped, DTDs
/// are refused, and size, node count and depth are capped.
///
/// # Errors
/// [`XmlError::TooLarge`], [`XmlError::TooDeep`] or [`XmlError::Malformed`].
pub fn parse_bounded<'a>(text: &'a str, limits: &XmlLimits) -> Result<Document<'a>, XmlError> {
    if text.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            size: text.len(),
            limit: limits.max_bytes,
        });
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let opts = ParsingOptions {
        allow_dtd: false,
        nodes_limit: limits.max_nodes,
    };
    let doc =
        Document::parse_with_options(text, opts).map_err(|e| XmlError::Malformed(e.to_string()))?;
    // Depth check without recursion: depth[node] = depth[parent] + 1, in document order
    // (a parent always precedes its children).
    let mut depth: Vec<u16> = vec![0; doc.descendants().count()];
    for node in doc.descendants() {
        let d = match node.parent() {
            Some(p) => depth.get(p.id().get_usize()).copied().unwrap_or(0) + 1,
            None => 0,
        };
        if node.is_element() && usize::from(d) > limits.max_depth {
            return Err(XmlError::TooDeep {
                limit: limits.max_depth,
            });
        }
        if let Some(slot) = depth.get_mut(node.id().get_usize()) {
            *slot = d;
        }
    }
    Ok(doc)
}

/// The trimmed text content directly inside `node` (concatenating text children), or
/// `None` when there is none.
pub(crate) fn text_of<'a>(node: Node<'a, '_>) -> Option<&'a str> {
    let t = node.text()?.trim();
    if t.is_empty() {
        None
    } else {
        Some(t)
    }
}

/// First child element of `node` whose local name is `name` (any namespace).
pub(crate) fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

/// All child elements of `node` whose local name is `name` (any namespace).
pub(crate) fn children<'a, 'i: 'a>(
    node: Node<'a, 'i>,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// Trimmed text of the first child element named `name`, owned.
pub(crate) fn child_text(node: Node<'_, '_>, name: &str) -> Option<String> {
    child(node, name).and_then(text_of).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_dtd_and_entities() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
        assert!(matches!(
            parse_bounded(xxe, &XmlLimits::default()),
            Err(XmlError::Malformed(_))
        ));
    }

    #[test]
    fn caps_size_depth_and_nodes() {
        let lim = XmlLimits {
            max_bytes: 64,
            max_nodes: 10,
            max_depth: 3,
        };
        let big = format!("<r>{}</r>", "x".repeat(100));
        assert_eq!(
            parse_bounded(&big, &lim).unwrap_err(),
            XmlError::TooLarge {
                size: 107,
                limit: 64
            }
        );
        assert_eq!(
            parse_bounded("<a><b><c><d/></c></b></a>", &lim).unwrap_err(),
            XmlError::TooDeep { limit: 3 }
        );
        assert!(parse_bounded("<a><b><c/></b></a>", &lim).is_ok());
        let many = format!("<r>{}</r>", "<x/>".repeat(12));
        assert!(matches!(
            parse_bounded(&many, &lim),
            Err(XmlError::Malformed(_))
        ));
    }

    #[test]
    fn skips_bom() {
        let doc = parse_bounded("\u{feff}<r>1</r>", &XmlLimits::default()).unwrap();
        assert_eq!(doc.root_element().text(), Some("1"));
    }
}
