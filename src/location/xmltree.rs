//! A compact, read-only XML element tree for the PIDF-LO hot path (RFC 4119 documents
//! inside a 999 INVITE), built in one pass from `quick-xml`'s borrowing pull parser.
//!
//! Why not roxmltree here: building its DOM was 64 % of classify + locate (BENCHMARKS.md,
//! "Classification and location"). This tree is a flat arena — one `Vec` push per element
//! or text run, names and (usually) text borrowed from the input, namespaces resolved
//! once per element against an in-scope prefix stack (Namespaces in XML 1.0 §6) — so the
//! PIDF-LO walk keeps its shape (children by local name) at a fraction of the cost.
//!
//! Same caps and refusals as [`super::xml::parse_bounded`]: input size, node count and
//! element depth ([`XmlLimits`]); a DTD (`<!DOCTYPE`) is refused outright, so no entity
//! defined by the sender is ever expanded (XXE, "billion laughs") — only the five
//! predefined entities and character references are. Not well-formed input (unclosed or
//! mismatched tags, several roots, text outside the root, unbound prefixes, duplicate
//! attributes, bad references) is [`XmlError::Malformed`]. No I/O.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::xml::{XmlError, XmlLimits};

/// Namespace bound to the `xml` prefix (Namespaces in XML 1.0 §3).
const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";
const NONE: u32 = u32::MAX;
/// `ns` value: no namespace.
const NS_NONE: u32 = u32::MAX;
/// `ns` value: the `xml` prefix's namespace.
const NS_XML_ID: u32 = u32::MAX - 1;

#[derive(Debug)]
enum Kind<'a> {
    Root,
    Element { qname: &'a str, local: &'a str },
    Text(Cow<'a, str>),
}

#[derive(Debug)]
struct NodeData<'a> {
    kind: Kind<'a>,
    first_child: u32,
    last_child: u32,
    next_sibling: u32,
    attr_start: u32,
    attr_end: u32,
    /// Index into `attrs` of the declaring `xmlns` attribute, or `NS_NONE` / `NS_XML_ID`.
    ns: u32,
    /// Byte offset of the start tag in the (BOM-stripped) text.
    pos: u32,
}

#[derive(Debug)]
struct Attr<'a> {
    qname: &'a str,
    value: Cow<'a, str>,
}

/// A parsed document: node 0 is the document root, its one element child the root element.
#[derive(Debug)]
pub struct Tree<'a> {
    nodes: Vec<NodeData<'a>>,
    attrs: Vec<Attr<'a>>,
}

/// A node of a [`Tree`]: an element, a text run (adjacent text, CDATA and references
/// merged, as roxmltree does) or the document root.
#[derive(Clone, Copy)]
pub struct Node<'t, 'a> {
    tree: &'t Tree<'a>,
    id: u32,
}

fn malformed(what: impl std::fmt::Display, pos: u64) -> XmlError {
    XmlError::Malformed(format!("{what} at byte {pos}"))
}

/// `s` as a slice of `raw` when it lies inside it (quick-xml hands out borrowed slices
/// of the input with a shorter lifetime; this recovers the input's).
/// No UTF-8 re-validation: `raw` is already `str`, `get` checks the char boundaries.
fn reslice_bytes<'a>(raw: &'a str, s: &[u8]) -> Option<&'a str> {
    let off = (s.as_ptr() as usize).checked_sub(raw.as_ptr() as usize)?;
    raw.get(off..off.checked_add(s.len())?)
}

/// Text content as a slice of the input, with XML 1.0 §2.11 end-of-line normalisation
/// (`\r\n` and lone `\r` become `\n`) only when there is a `\r`.
fn text_content<'a>(raw: &'a str, s: &[u8], pos: u64) -> Result<Cow<'a, str>, XmlError> {
    let t = reslice_bytes(raw, s).ok_or_else(|| malformed("text", pos))?;
    if !t.contains('\r') {
        return Ok(Cow::Borrowed(t));
    }
    Ok(Cow::Owned(t.replace("\r\n", "\n").replace('\r', "\n")))
}

/// The local part of a qualified name (after the first `:`).
fn local(qname: &str) -> &str {
    qname.split_once(':').map_or(qname, |(_, l)| l)
}

struct Builder<'a> {
    tree: Tree<'a>,
    /// Open elements (node ids), root first.
    open: Vec<u32>,
    /// In-scope namespace declarations: (prefix, attr index); `""` is the default.
    scope: Vec<(&'a str, u32)>,
    /// `scope.len()` when each open element was entered.
    scope_marks: Vec<u32>,
    /// The last child of the current parent is a text run that later text may extend.
    text_open: bool,
    saw_root: bool,
    limits: XmlLimits,
}

impl<'a> Builder<'a> {
    fn parent(&self) -> u32 {
        self.open.last().copied().unwrap_or(0)
    }

    fn count_node(&self) -> Result<(), XmlError> {
        if self.tree.nodes.len() >= self.limits.max_nodes as usize {
            return Err(XmlError::Malformed(format!(
                "nodes limit reached ({})",
                self.limits.max_nodes
            )));
        }
        Ok(())
    }

    fn append(&mut self, data: NodeData<'a>) -> u32 {
        let id = self.tree.nodes.len() as u32;
        let parent = self.parent();
        self.tree.nodes.push(data);
        if let Some(p) = self.tree.nodes.get_mut(parent as usize) {
            let last = p.last_child;
            p.last_child = id;
            if last == NONE {
                p.first_child = id;
            } else if let Some(l) = self.tree.nodes.get_mut(last as usize) {
                l.next_sibling = id;
            }
        }
        id
    }

    fn text(&mut self, s: Cow<'a, str>, pos: u64) -> Result<(), XmlError> {
        if s.is_empty() {
            return Ok(());
        }
        if self.open.is_empty() {
            if s.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
                .is_empty()
            {
                return Ok(());
            }
            return Err(malformed("text outside the root element", pos));
        }
        if self.text_open {
            let parent = self.parent();
            let last = self
                .tree
                .nodes
                .get(parent as usize)
                .map_or(NONE, |p| p.last_child);
            if let Some(NodeData {
                kind: Kind::Text(t),
                ..
            }) = self.tree.nodes.get_mut(last as usize)
            {
                t.to_mut().push_str(&s);
                return Ok(());
            }
        }
        self.count_node()?;
        self.append(NodeData {
            kind: Kind::Text(s),
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
            attr_start: 0,
            attr_end: 0,
            ns: NS_NONE,
            pos: pos as u32,
        });
        self.text_open = true;
        Ok(())
    }

    fn resolve(&self, prefix: &str, pos: u64) -> Result<u32, XmlError> {
        if prefix == "xml" {
            return Ok(NS_XML_ID);
        }
        for &(p, idx) in self.scope.iter().rev() {
            if p == prefix {
                let empty = self
                    .tree
                    .attrs
                    .get(idx as usize)
                    .is_none_or(|a| a.value.is_empty());
                return Ok(if empty { NS_NONE } else { idx });
            }
        }
        if prefix.is_empty() {
            Ok(NS_NONE)
        } else {
            Err(malformed(format_args!("unbound prefix {prefix:?}"), pos))
        }
    }

    fn start(&mut self, e: &BytesStart<'a>, raw: &'a str, pos: u64) -> Result<(), XmlError> {
        if self.open.is_empty() && self.saw_root {
            return Err(malformed("more than one root element", pos));
        }
        if self.open.len() >= self.limits.max_depth {
            return Err(XmlError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        self.count_node()?;
        self.saw_root = true;
        self.text_open = false;
        // The name is the start of the tag's content, which borrows from the input.
        let name_len = e.name().as_ref().len();
        let qname = raw
            .get(..name_len)
            .ok_or_else(|| malformed("bad name", pos))?;
        if qname.is_empty() {
            return Err(malformed("empty element name", pos));
        }
        self.scope_marks.push(self.scope.len() as u32);
        let attr_start = self.tree.attrs.len() as u32;
        for a in e.attributes() {
            let a = a.map_err(|err| malformed(err, pos))?;
            let key = reslice_bytes(raw, a.key.as_ref())
                .ok_or_else(|| malformed("attribute name", pos))?;
            // Attribute-value normalisation (XML 1.0 §3.3.3) only changes values with
            // references or \t \r \n; borrow the others as they are.
            let v =
                reslice_bytes(raw, &a.value).ok_or_else(|| malformed("attribute value", pos))?;
            let value = if v.bytes().any(|c| matches!(c, b'&' | b'\t' | b'\r' | b'\n')) {
                Cow::Owned(
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|err| malformed(err, pos))?
                        .into_owned(),
                )
            } else {
                Cow::Borrowed(v)
            };
            if key == "xmlns" {
                self.scope.push(("", self.tree.attrs.len() as u32));
            } else if let Some(p) = key.strip_prefix("xmlns:") {
                self.scope.push((p, self.tree.attrs.len() as u32));
            }
            self.tree.attrs.push(Attr { qname: key, value });
        }
        let attr_end = self.tree.attrs.len() as u32;
        // Attribute prefixes must be bound too (Namespaces in XML 1.0 §5).
        for i in attr_start..attr_end {
            if let Some((p, _)) = self
                .tree
                .attrs
                .get(i as usize)
                .and_then(|a| a.qname.split_once(':'))
            {
                if p != "xmlns" {
                    self.resolve(p, pos)?;
                }
            }
        }
        let prefix = qname.split_once(':').map_or("", |(p, _)| p);
        let ns = self.resolve(prefix, pos)?;
        let id = self.append(NodeData {
            kind: Kind::Element {
                qname,
                local: local(qname),
            },
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
            attr_start,
            attr_end,
            ns,
            pos: pos as u32,
        });
        self.open.push(id);
        Ok(())
    }

    fn end(&mut self, name: &[u8], pos: u64) -> Result<(), XmlError> {
        let Some(id) = self.open.pop() else {
            return Err(malformed("end tag without start tag", pos));
        };
        if let Some(NodeData {
            kind: Kind::Element { qname, .. },
            ..
        }) = self.tree.nodes.get(id as usize)
        {
            if qname.as_bytes() != name {
                return Err(malformed("mismatched end tag", pos));
            }
        }
        let mark = self.scope_marks.pop().unwrap_or(0) as usize;
        self.scope.truncate(mark);
        self.text_open = false;
        Ok(())
    }
}

impl<'a> Tree<'a> {
    /// Parses `text` under `limits` (a leading UTF-8 BOM is skipped).
    ///
    /// # Errors
    /// [`XmlError::TooLarge`], [`XmlError::TooDeep`] or [`XmlError::Malformed`] (not
    /// well-formed, a DTD, or more than [`XmlLimits::max_nodes`] nodes).
    pub fn parse(text: &'a str, limits: &XmlLimits) -> Result<Tree<'a>, XmlError> {
        if text.len() > limits.max_bytes {
            return Err(XmlError::TooLarge {
                size: text.len(),
                limit: limits.max_bytes,
            });
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut b = Builder {
            tree: Tree {
                nodes: Vec::with_capacity(64),
                attrs: Vec::with_capacity(16),
            },
            open: Vec::with_capacity(16),
            scope: Vec::with_capacity(8),
            scope_marks: Vec::with_capacity(16),
            text_open: false,
            saw_root: false,
            limits: *limits,
        };
        b.tree.nodes.push(NodeData {
            kind: Kind::Root,
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
            attr_start: 0,
            attr_end: 0,
            ns: NS_NONE,
            pos: 0,
        });
        let mut reader = Reader::from_str(text);
        {
            let cfg = reader.config_mut();
            cfg.check_end_names = true;
            cfg.check_comments = true;
            cfg.expand_empty_elements = false;
            cfg.trim_text(false);
        }
        loop {
            let pos = reader.buffer_position();
            let ev = reader
                .read_event()
                .map_err(|e| malformed(e, reader.error_position()))?;
            match ev {
                Event::Start(ref e) | Event::Empty(ref e) => {
                    // Content of `<name attrs…>` starts one byte after `<`.
                    let start = pos as usize + 1;
                    let raw = text.get(start..).unwrap_or("");
                    b.start(e, raw, pos)?;
                    if matches!(ev, Event::Empty(_)) {
                        let name = e.name();
                        b.end(name.as_ref(), pos)?;
                    }
                }
                Event::End(ref e) => b.end(e.name().as_ref(), pos)?,
                Event::Text(t) => {
                    let s = text_content(text, &t, pos)?;
                    b.text(s, pos)?;
                }
                Event::CData(t) => {
                    if b.open.is_empty() {
                        return Err(malformed("CDATA outside the root element", pos));
                    }
                    let s = text_content(text, &t, pos)?;
                    b.text(s, pos)?;
                }
                Event::GeneralRef(r) => {
                    let c = if r.is_char_ref() {
                        r.resolve_char_ref().map_err(|e| malformed(e, pos))?
                    } else {
                        match &*r {
                            b"lt" => Some('<'),
                            b"gt" => Some('>'),
                            b"amp" => Some('&'),
                            b"apos" => Some('\''),
                            b"quot" => Some('"'),
                            _ => None,
                        }
                    };
                    let Some(c) = c else {
                        return Err(malformed("unknown entity reference", pos));
                    };
                    let mut s = String::with_capacity(4);
                    s.push(c);
                    b.text(Cow::Owned(s), pos)?;
                }
                Event::Comment(_) | Event::PI(_) => {
                    b.count_node()?;
                    b.text_open = false;
                }
                Event::Decl(_) => {
                    if b.saw_root || pos != 0 {
                        return Err(malformed("misplaced XML declaration", pos));
                    }
                }
                Event::DocType(_) => return Err(malformed("DTD refused", pos)),
                Event::Eof => break,
            }
        }
        if !b.open.is_empty() {
            return Err(malformed("unclosed element", text.len() as u64));
        }
        if !b.saw_root {
            return Err(malformed("no root element", text.len() as u64));
        }
        Ok(b.tree)
    }

    /// The document root (parent of the root element).
    pub fn root(&self) -> Node<'_, 'a> {
        Node { tree: self, id: 0 }
    }

    /// The root element.
    pub fn root_element(&self) -> Node<'_, 'a> {
        self.root()
            .children()
            .find(Node::is_element)
            .unwrap_or(self.root())
    }
}

impl<'t, 'a> Node<'t, 'a> {
    fn data(&self) -> Option<&'t NodeData<'a>> {
        self.tree.nodes.get(self.id as usize)
    }

    /// `true` for an element.
    pub fn is_element(&self) -> bool {
        matches!(self.data().map(|d| &d.kind), Some(Kind::Element { .. }))
    }

    /// `true` for a text run.
    pub fn is_text(&self) -> bool {
        matches!(self.data().map(|d| &d.kind), Some(Kind::Text(_)))
    }

    /// Local name of an element (`""` for other nodes).
    pub fn name(&self) -> &'a str {
        match self.data().map(|d| &d.kind) {
            Some(Kind::Element { local, .. }) => local,
            _ => "",
        }
    }

    /// Namespace URI of an element, if it is in one.
    pub fn namespace(&self) -> Option<&'t str> {
        match self.data()?.ns {
            NS_NONE => None,
            NS_XML_ID => Some(NS_XML),
            i => self.tree.attrs.get(i as usize).map(|a| a.value.as_ref()),
        }
    }

    /// Value of the unprefixed attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&'t str> {
        self.attr_by_qname(name)
    }

    /// Value of the attribute with the qualified name `qname` as written (e.g. `xml:lang`,
    /// whose prefix is fixed by Namespaces in XML 1.0 §3).
    pub fn attr_by_qname(&self, qname: &str) -> Option<&'t str> {
        let d = self.data()?;
        self.tree
            .attrs
            .get(d.attr_start as usize..d.attr_end as usize)?
            .iter()
            .find(|a| a.qname == qname)
            .map(|a| a.value.as_ref())
    }

    /// Children in document order.
    pub fn children(&self) -> Children<'t, 'a> {
        Children {
            tree: self.tree,
            next: self.data().map_or(NONE, |d| d.first_child),
        }
    }

    /// The text of a text node, or of an element's first child when that is text.
    pub fn text(&self) -> Option<&'t str> {
        let d = self.data()?;
        match &d.kind {
            Kind::Text(t) => Some(t.as_ref()),
            Kind::Element { .. } => self.children().next().and_then(|c| match &c.data()?.kind {
                Kind::Text(t) => Some(t.as_ref()),
                _ => None,
            }),
            Kind::Root => None,
        }
    }

    /// Byte offset of the node's start tag in the (BOM-stripped) document.
    pub fn pos(&self) -> usize {
        self.data().map_or(0, |d| d.pos as usize)
    }
}

/// Iterator over a node's children.
pub struct Children<'t, 'a> {
    tree: &'t Tree<'a>,
    next: u32,
}

impl<'t, 'a> Iterator for Children<'t, 'a> {
    type Item = Node<'t, 'a>;
    fn next(&mut self) -> Option<Self::Item> {
        let d = self.tree.nodes.get(self.next as usize)?;
        let n = Node {
            tree: self.tree,
            id: self.next,
        };
        self.next = d.next_sibling;
        Some(n)
    }
}

/// The trimmed text directly inside `node`, or `None` when there is none.
pub(crate) fn text_of<'t>(node: Node<'t, '_>) -> Option<&'t str> {
    let t = node.text()?.trim();
    if t.is_empty() {
        None
    } else {
        Some(t)
    }
}

/// First child element of `node` whose local name is `name` (any namespace).
pub(crate) fn child<'t, 'a>(node: Node<'t, 'a>, name: &str) -> Option<Node<'t, 'a>> {
    node.children().find(|c| c.is_element() && c.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim() -> XmlLimits {
        XmlLimits::default()
    }

    #[test]
    fn names_namespaces_attributes_text() {
        let x = r#"<?xml version="1.0"?><p:a xmlns:p="urn:p" xmlns="urn:d" id="1&amp;2"><b xml:lang="en">x &lt; y<![CDATA[ & z]]></b><p:c/><d xmlns="">t</d></p:a>"#;
        let t = Tree::parse(x, &lim()).unwrap();
        let a = t.root_element();
        assert_eq!((a.name(), a.namespace()), ("a", Some("urn:p")));
        assert_eq!(a.attribute("id"), Some("1&2"));
        let kids: Vec<_> = a.children().collect();
        assert_eq!(kids.len(), 3);
        assert_eq!((kids[0].name(), kids[0].namespace()), ("b", Some("urn:d")));
        assert_eq!(kids[0].text(), Some("x < y & z"));
        assert_eq!(kids[0].attr_by_qname("xml:lang"), Some("en"));
        assert_eq!(kids[1].namespace(), Some("urn:p"));
        assert_eq!((kids[2].namespace(), kids[2].text()), (None, Some("t")));
        assert_eq!(kids[2].pos(), x.find("<d ").unwrap());
    }

    #[test]
    fn line_ends_and_attribute_values_are_normalised() {
        let t = Tree::parse("<a v=\"x\ty&#38;\">1\r\n2\r3</a>", &lim()).unwrap();
        let a = t.root_element();
        assert_eq!(a.attribute("v"), Some("x y&"));
        assert_eq!(a.text(), Some("1\n2\n3"));
    }

    #[test]
    fn refuses_dtd_and_unknown_entities() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
        assert!(matches!(
            Tree::parse(xxe, &lim()),
            Err(XmlError::Malformed(_))
        ));
        assert!(matches!(
            Tree::parse("<r>&x;</r>", &lim()),
            Err(XmlError::Malformed(_))
        ));
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "x<a/>",
            "<a/>x",
            "<p:a/>",
            r#"<a x="1" x="2"/>"#,
            "<a></a></a>",
            "<a><!-- -- --></a>",
        ] {
            assert!(
                matches!(Tree::parse(bad, &lim()), Err(XmlError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn caps_size_depth_and_nodes() {
        let l = XmlLimits {
            max_bytes: 64,
            max_nodes: 10,
            max_depth: 3,
        };
        let big = format!("<r>{}</r>", "x".repeat(100));
        assert_eq!(
            Tree::parse(&big, &l).unwrap_err(),
            XmlError::TooLarge {
                size: 107,
                limit: 64
            }
        );
        assert_eq!(
            Tree::parse("<a><b><c><d/></c></b></a>", &l).unwrap_err(),
            XmlError::TooDeep { limit: 3 }
        );
        assert!(Tree::parse("<a><b><c/></b></a>", &l).is_ok());
        let many = format!("<r>{}</r>", "<x/>".repeat(12));
        assert!(matches!(
            Tree::parse(&many, &l),
            Err(XmlError::Malformed(_))
        ));
    }

    /// Differential check against roxmltree on every XML fixture: same accept/refuse
    /// decision, same root element, same element count and local names in order.
    #[test]
    fn agrees_with_roxmltree_on_fixtures() {
        let mut stack = vec![std::path::PathBuf::from("fixtures/location")];
        let mut checked = 0;
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let path = e.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().and_then(|x| x.to_str()) != Some("xml") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let ours = Tree::parse(&text, &lim());
                let theirs = super::super::xml::parse_bounded(&text, &lim());
                assert_eq!(ours.is_ok(), theirs.is_ok(), "{path:?}");
                if let (Ok(t), Ok(d)) = (ours, theirs) {
                    let mut names = Vec::new();
                    let mut todo = vec![t.root_element()];
                    while let Some(n) = todo.pop() {
                        names.push((n.name(), n.namespace()));
                        let kids: Vec<_> = n.children().filter(Node::is_element).collect();
                        todo.extend(kids.into_iter().rev());
                    }
                    let want: Vec<_> = d
                        .descendants()
                        .filter(roxmltree::Node::is_element)
                        .map(|n| (n.tag_name().name(), n.tag_name().namespace()))
                        .collect();
                    assert_eq!(names, want, "{path:?}");
                }
                checked += 1;
            }
        }
        assert!(checked >= 40, "{checked}");
    }

    #[test]
    fn skips_bom() {
        let t = Tree::parse("\u{feff}<r>1</r>", &lim()).unwrap();
        assert_eq!(t.root_element().text(), Some("1"));
    }
}
