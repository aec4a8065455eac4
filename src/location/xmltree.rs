//! A compact, read-only XML element tree for the PIDF-LO hot path (RFC 4119 documents
//! inside a 999 INVITE), built in one pass by a hand-written, bounded XML 1.0 tokenizer
//! ([`Tree::parse`]).
//!
//! Why not roxmltree or quick-xml here: building roxmltree's DOM was 64 % of classify +
//! locate, and quick-xml's event loop and attribute iterator still 55 % after that
//! (BENCHMARKS.md, "Classification and location"). This tree is a flat arena — one `Vec`
//! push per element or text run, names and (usually) text and attribute values borrowed
//! from the input, namespaces resolved once per element against an in-scope prefix stack
//! (Namespaces in XML 1.0 §6) — so the PIDF-LO walk keeps its shape (children by local
//! name) at a fraction of the cost. The previous quick-xml based builder is kept as
//! [`Tree::parse_quick_xml`]: the reference for the differential tests and the benchmark.
//!
//! Both builders apply the same caps as [`super::xml::parse_bounded`]: input size, node
//! count and element depth ([`XmlLimits`]), plus at most [`MAX_ATTRIBUTES`] attributes per
//! element. A DTD (`<!DOCTYPE`) is refused outright, so no entity defined by the sender is
//! ever expanded (XXE, "billion laughs") — only the five predefined entities (XML 1.0 §4.6)
//! and character references (§4.1) are. Not well-formed input (unclosed or mismatched
//! tags, several roots, text outside the root, unbound prefixes, duplicate attributes,
//! bad references, `--` in a comment, a misplaced XML declaration) is
//! [`XmlError::Malformed`]. Text gets XML 1.0 §2.11 end-of-line normalisation, attribute
//! values §3.3.3 normalisation. No I/O.

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

/// Most attributes accepted on one element (the duplicate check is quadratic in this).
pub const MAX_ATTRIBUTES: usize = 64;

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
/// merged, as roxmltree does) or the document root. White-space-only text between
/// element children (formatting, "element content" in XML 1.0 §2.10 terms) is not kept;
/// comments and processing instructions are not kept either (they still split text runs).
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

/// XML 1.0 §2.11 end-of-line normalisation: `\r\n` and a lone `\r` become `\n`.
fn normalize_eol(t: &str) -> String {
    t.replace("\r\n", "\n").replace('\r', "\n")
}

/// Text content as a slice of the input, with end-of-line normalisation only when there
/// is a `\r`.
fn text_content<'a>(raw: &'a str, s: &[u8], pos: u64) -> Result<Cow<'a, str>, XmlError> {
    let t = reslice_bytes(raw, s).ok_or_else(|| malformed("text", pos))?;
    if memchr::memchr(b'\r', t.as_bytes()).is_none() {
        return Ok(Cow::Borrowed(t));
    }
    Ok(Cow::Owned(normalize_eol(t)))
}

/// Splits a qualified name into prefix (`""` when none) and local part.
fn split_qname(qname: &str) -> (&str, &str) {
    // Names are short: a plain loop beats a `memchr` call.
    match qname.bytes().position(|c| c == b':') {
        Some(i) => (
            qname.get(..i).unwrap_or(""),
            qname.get(i + 1..).unwrap_or(qname),
        ),
        None => ("", qname),
    }
}

/// `true` for XML 1.0 §2.3 white space.
fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Byte classes for the tokenizer's inner loops (one table load per byte).
const C_NAME: u8 = 1; // name character: ASCII letter, digit, `_ - .`, any non-ASCII byte
const C_COLON: u8 = 2; // `:`
const C_TEXT_STOP: u8 = 4; // ends a plain character-data run: `<`, `&`, `\r`
const C_ATTR_STOP: u8 = 8; // ends a plain attribute-value run: quotes, `<`, `&`, `\t \r \n`

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.' || b >= 0x80 {
            t[c] = C_NAME;
        }
        c += 1;
    }
    t[b':' as usize] = C_COLON;
    t[b'<' as usize] |= C_TEXT_STOP;
    t[b'&' as usize] |= C_TEXT_STOP;
    t[b'\r' as usize] |= C_TEXT_STOP;
    t[b'"' as usize] |= C_ATTR_STOP;
    t[b'\'' as usize] |= C_ATTR_STOP;
    t[b'<' as usize] |= C_ATTR_STOP;
    t[b'&' as usize] |= C_ATTR_STOP;
    t[b'\t' as usize] |= C_ATTR_STOP;
    t[b'\r' as usize] |= C_ATTR_STOP;
    t[b'\n' as usize] |= C_ATTR_STOP;
    t
};

fn class(c: u8) -> u8 {
    CLASS.get(usize::from(c)).copied().unwrap_or(0)
}

/// String equality for short strings (names, prefixes) without a `memcmp` call.
fn eq_short(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// The tree under construction plus the parser state both tokenizers share.
struct Builder<'a> {
    tree: Tree<'a>,
    /// Open elements: (node id, `scope.len()` when it was entered), root first.
    open: Vec<(u32, u32)>,
    /// In-scope namespace declarations: (prefix, attr index); `""` is the default.
    scope: Vec<(&'a str, u32)>,
    /// The last child of the current parent is a text run that later text may extend.
    text_open: bool,
    /// White-space-only text not yet kept: dropped when a start tag follows (formatting
    /// before an element child), kept when an end tag, text, a comment or a PI follows
    /// (e.g. `<pos> </pos>`, `<a> <!--c-->1</a>`).
    pending_ws: Option<(Cow<'a, str>, u64)>,
    saw_root: bool,
    /// Comments and processing instructions seen (they count towards the node cap but
    /// are not kept).
    other_nodes: u32,
    /// The start tag being read has an attribute with a prefix other than `xmlns`.
    prefixed_attr: bool,
    limits: XmlLimits,
}

impl<'a> Builder<'a> {
    fn new(limits: &XmlLimits) -> Builder<'a> {
        let mut nodes = Vec::with_capacity(48);
        nodes.push(NodeData {
            kind: Kind::Root,
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
            attr_start: 0,
            attr_end: 0,
            ns: NS_NONE,
            pos: 0,
        });
        Builder {
            tree: Tree {
                nodes,
                attrs: Vec::with_capacity(16),
            },
            open: Vec::with_capacity(12),
            scope: Vec::with_capacity(8),
            text_open: false,
            pending_ws: None,
            saw_root: false,
            other_nodes: 0,
            prefixed_attr: false,
            limits: *limits,
        }
    }

    /// Qualified name of the innermost open element (`""` when none is open).
    fn open_qname(&self) -> &'a str {
        match self.tree.nodes.get(self.parent() as usize).map(|d| &d.kind) {
            Some(Kind::Element { qname, .. }) if !self.open.is_empty() => qname,
            _ => "",
        }
    }

    fn parent(&self) -> u32 {
        self.open.last().map_or(0, |&(id, _)| id)
    }

    fn count_node(&self) -> Result<(), XmlError> {
        if self.tree.nodes.len() as u64 + u64::from(self.other_nodes)
            >= u64::from(self.limits.max_nodes)
        {
            return Err(XmlError::Malformed(format!(
                "nodes limit reached ({})",
                self.limits.max_nodes
            )));
        }
        Ok(())
    }

    /// A comment or processing instruction: counted, ends a text run, not kept.
    fn other(&mut self) -> Result<(), XmlError> {
        self.flush_pending()?;
        self.count_node()?;
        self.other_nodes += 1;
        self.text_open = false;
        Ok(())
    }

    #[inline(always)]
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

    #[inline(always)]
    fn text(&mut self, s: Cow<'a, str>, pos: u64) -> Result<(), XmlError> {
        if s.is_empty() {
            return Ok(());
        }
        if self.open.is_empty() {
            if s.bytes().all(is_ws) {
                return Ok(());
            }
            return Err(malformed("text outside the root element", pos));
        }
        if !self.text_open && s.bytes().all(is_ws) {
            // Formatting white space: dropped after an element child; before one it is
            // held until the next markup decides (see `pending_ws`).
            if !self.last_child_is_element() {
                self.pending_ws = Some((s, pos));
            }
            return Ok(());
        }
        self.flush_pending()?;
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
        self.push_text_node(s, pos)
    }

    /// `true` when `run` (plain text, no `\r`) is white space right after an element
    /// child, which [`Builder::text`] would drop: lets the tokenizer skip the call.
    fn skips_formatting(&self, run: Option<&[u8]>) -> bool {
        if self.text_open
            || self.open.is_empty()
            || !run.is_some_and(|r| r.iter().all(|&c| is_ws(c)))
        {
            return false;
        }
        self.last_child_is_element()
    }

    /// `true` when the open element's last child so far is an element.
    fn last_child_is_element(&self) -> bool {
        self.tree
            .nodes
            .get(self.parent() as usize)
            .and_then(|p| self.tree.nodes.get(p.last_child as usize))
            .is_some_and(|l| matches!(l.kind, Kind::Element { .. }))
    }

    /// Appends `s` as a new text node (counted against the node cap) and keeps it open
    /// for the text that may follow.
    #[inline(always)]
    fn push_text_node(&mut self, s: Cow<'a, str>, pos: u64) -> Result<(), XmlError> {
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

    /// Keeps held white space as a text node (it turned out not to be formatting).
    fn flush_pending(&mut self) -> Result<(), XmlError> {
        let Some((s, pos)) = self.pending_ws.take() else {
            return Ok(());
        };
        self.push_text_node(s, pos)
    }

    #[inline(always)]
    fn resolve(&self, prefix: &str, pos: u64) -> Result<u32, XmlError> {
        if eq_short(prefix, "xml") {
            return Ok(NS_XML_ID);
        }
        for &(p, idx) in self.scope.iter().rev() {
            if eq_short(p, prefix) {
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

    /// A start tag begins: root, depth and node checks. Returns the index its first
    /// attribute will get.
    #[inline(always)]
    fn begin_element(&mut self, pos: u64) -> Result<u32, XmlError> {
        if self.open.is_empty() && self.saw_root {
            return Err(malformed("more than one root element", pos));
        }
        if self.open.len() >= self.limits.max_depth {
            return Err(XmlError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        self.count_node()?;
        self.pending_ws = None;
        self.saw_root = true;
        self.text_open = false;
        Ok(self.tree.attrs.len() as u32)
    }

    /// One attribute of the element begun at `attr_start`: duplicate and count checks,
    /// namespace declarations put in scope.
    #[inline(always)]
    fn attribute(
        &mut self,
        attr_start: u32,
        qname: &'a str,
        value: Cow<'a, str>,
        pos: u64,
    ) -> Result<(), XmlError> {
        let earlier = self
            .tree
            .attrs
            .get(attr_start as usize..)
            .unwrap_or_default();
        if earlier.len() >= MAX_ATTRIBUTES {
            return Err(malformed(
                format_args!("more than {MAX_ATTRIBUTES} attributes"),
                pos,
            ));
        }
        if earlier.iter().any(|a| eq_short(a.qname, qname)) {
            return Err(malformed(
                format_args!("duplicate attribute {qname:?}"),
                pos,
            ));
        }
        let idx = self.tree.attrs.len() as u32;
        match qname.strip_prefix("xmlns") {
            Some("") => self.scope.push(("", idx)),
            Some(p) if p.starts_with(':') => self.scope.push((p.get(1..).unwrap_or(""), idx)),
            _ => {
                if qname.bytes().any(|c| c == b':') {
                    self.prefixed_attr = true;
                }
            }
        }
        self.tree.attrs.push(Attr { qname, value });
        Ok(())
    }

    /// The start tag is complete: prefixes resolved, the element appended and opened.
    #[inline(always)]
    fn finish_start(
        &mut self,
        qname: &'a str,
        colon: usize,
        attr_start: u32,
        scope_mark: u32,
        pos: u64,
    ) -> Result<(), XmlError> {
        let attr_end = self.tree.attrs.len() as u32;
        // Attribute prefixes must be bound too (Namespaces in XML 1.0 §5).
        let check = std::mem::take(&mut self.prefixed_attr);
        for i in (attr_start..attr_end).filter(|_| check) {
            let Some(a) = self.tree.attrs.get(i as usize) else {
                break;
            };
            let (p, _) = split_qname(a.qname);
            if !p.is_empty() && p != "xmlns" {
                self.resolve(p, pos)?;
            }
        }
        let (prefix, local) = match colon {
            0 => ("", qname),
            c => (
                qname.get(..c).unwrap_or(""),
                qname.get(c + 1..).unwrap_or(qname),
            ),
        };
        let ns = self.resolve(prefix, pos)?;
        let id = self.append(NodeData {
            kind: Kind::Element { qname, local },
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
            attr_start,
            attr_end,
            ns,
            pos: pos as u32,
        });
        self.open.push((id, scope_mark));
        Ok(())
    }

    /// Closes the current element; its qualified name must be `name` unless `None` (an
    /// empty-element tag).
    #[inline(always)]
    fn end(&mut self, name: Option<&[u8]>, pos: u64) -> Result<(), XmlError> {
        self.flush_pending()?;
        let Some((id, mark)) = self.open.pop() else {
            return Err(malformed("end tag without start tag", pos));
        };
        if let (
            Some(name),
            Some(NodeData {
                kind: Kind::Element { qname, .. },
                ..
            }),
        ) = (name, self.tree.nodes.get(id as usize))
        {
            if qname.as_bytes() != name {
                return Err(malformed("mismatched end tag", pos));
            }
        }
        self.scope.truncate(mark as usize);
        self.text_open = false;
        Ok(())
    }

    fn finish(self, len: usize) -> Result<Tree<'a>, XmlError> {
        if !self.open.is_empty() {
            return Err(malformed("unclosed element", len as u64));
        }
        if !self.saw_root {
            return Err(malformed("no root element", len as u64));
        }
        Ok(self.tree)
    }
}

/// A predefined entity (XML 1.0 §4.6) or character reference (§4.1) — `body` is what lies
/// between `&` and `;`. `None` for anything else (entities are never defined: no DTD).
fn resolve_reference(body: &[u8]) -> Option<char> {
    let code = match body {
        b"lt" => return Some('<'),
        b"gt" => return Some('>'),
        b"amp" => return Some('&'),
        b"apos" => return Some('\''),
        b"quot" => return Some('"'),
        [b'#', b'x', hex @ ..] => {
            if hex.is_empty() || hex.len() > 6 {
                return None;
            }
            u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?
        }
        [b'#', dec @ ..] => {
            if dec.is_empty() || dec.len() > 7 || !dec.iter().all(u8::is_ascii_digit) {
                return None;
            }
            std::str::from_utf8(dec).ok()?.parse::<u32>().ok()?
        }
        _ => return None,
    };
    // XML 1.0 §2.2 Char.
    let ok =
        matches!(code, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x1_0000..=0x10_FFFF);
    if ok {
        char::from_u32(code)
    } else {
        None
    }
}

/// The hand-written tokenizer: a cursor over the (BOM-stripped) text.
struct Scanner<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
}

/// Longest entity or character reference body looked for (`#x10FFFF` is 8).
const MAX_REF_LEN: usize = 10;

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn at(&self, k: usize) -> Option<u8> {
        self.b.get(self.i + k).copied()
    }

    fn rest(&self) -> &'a [u8] {
        self.b.get(self.i..).unwrap_or_default()
    }

    fn slice(&self, from: usize, to: usize) -> &'a str {
        self.text.get(from..to).unwrap_or("")
    }

    fn skip_ws(&mut self) -> bool {
        let start = self.i;
        while self.peek().is_some_and(is_ws) {
            self.i += 1;
        }
        self.i > start
    }

    fn err(&self, what: &str) -> XmlError {
        malformed(what, self.i as u64)
    }

    /// A (qualified) name: name characters up to a delimiter. ASCII letters, digits,
    /// `_ - . :` and any non-ASCII character; not starting with a digit, `-` or `.`;
    /// at most one `:`, with non-empty prefix and local part (Namespaces in XML 1.0 §4).
    /// Returns the name and the offset of its `:` (0 when unprefixed).
    #[inline(always)]
    fn name(&mut self) -> Result<(&'a str, usize), XmlError> {
        let start = self.i;
        let rest = self.rest();
        let mut n = 0;
        let mut colon = 0;
        for &c in rest {
            let k = class(c);
            if k & C_NAME != 0 {
                n += 1;
            } else if k & C_COLON != 0 {
                // A second colon, or one first (Namespaces in XML 1.0 §4 QName).
                if colon != 0 || n == 0 {
                    return Err(self.err("name with a misplaced colon"));
                }
                colon = n;
                n += 1;
            } else {
                break;
            }
        }
        let bad_start = matches!(rest.first(), None | Some(b'0'..=b'9' | b'-' | b'.'));
        if bad_start || n == 0 || (colon != 0 && colon + 1 == n) {
            return Err(malformed("invalid name", start as u64));
        }
        self.i = start + n;
        Ok((self.slice(start, start + n), colon))
    }

    /// A processing instruction's target (XML 1.0 §2.6 PITarget = Name): name characters
    /// and colons anywhere, as roxmltree reads it (Namespaces in XML 1.0 §7 forbids the
    /// colons, but the PI is skipped either way); not starting with a digit, `-` or `.`.
    fn pi_target(&mut self) -> Result<&'a str, XmlError> {
        let start = self.i;
        let rest = self.rest();
        let n = rest
            .iter()
            .take_while(|&&c| class(c) & (C_NAME | C_COLON) != 0)
            .count();
        if n == 0 || matches!(rest.first(), Some(b'0'..=b'9' | b'-' | b'.')) {
            return Err(malformed(
                "invalid processing instruction target",
                start as u64,
            ));
        }
        self.i = start + n;
        Ok(self.slice(start, start + n))
    }

    /// `&…;` at the cursor: the character it stands for; the cursor moves past `;`.
    fn reference(&mut self) -> Result<char, XmlError> {
        let body = self.b.get(self.i + 1..).unwrap_or_default();
        let end = body
            .iter()
            .take(MAX_REF_LEN + 1)
            .position(|&c| c == b';')
            .ok_or_else(|| self.err("unterminated reference"))?;
        let c = resolve_reference(body.get(..end).unwrap_or_default())
            .ok_or_else(|| self.err("unknown entity or invalid character reference"))?;
        self.i += end + 2;
        Ok(c)
    }

    /// Position of `pat` at or after the cursor.
    fn find(&self, pat: &[u8]) -> Option<usize> {
        // Patterns are 2–3 bytes and usually near: `memchr` on the first byte beats
        // building a `memmem` searcher.
        let first = *pat.first()?;
        let mut from = self.i;
        loop {
            let k = from + memchr::memchr(first, self.b.get(from..)?)?;
            if self.b.get(k..).is_some_and(|r| r.starts_with(pat)) {
                return Some(k);
            }
            from = k + 1;
        }
    }

    /// Attribute value between quotes (cursor on the opening quote), normalised per
    /// XML 1.0 §3.3.3 (references replaced, each white-space character a space, `\r\n`
    /// one space) — borrowed when nothing changes.
    #[inline(always)]
    fn attr_value(&mut self) -> Result<Cow<'a, str>, XmlError> {
        let quote = match self.peek() {
            Some(q @ (b'"' | b'\'')) => q,
            _ => return Err(self.err("attribute value not quoted")),
        };
        self.i += 1;
        let start = self.i;
        // One pass to the closing quote (values are short: a table loop beats three
        // `memchr` calls), noting `<` (an error once the value is known to be
        // terminated) and anything that needs normalising (`&`, `\t \r \n`).
        let mut k = start;
        let mut plain = true;
        let mut lt = false;
        let end = loop {
            let run = self
                .b
                .get(k..)
                .unwrap_or_default()
                .iter()
                .position(|&c| class(c) & C_ATTR_STOP != 0);
            let Some(r) = run else {
                return Err(self.err("unterminated attribute value"));
            };
            k += r;
            match self.b.get(k).copied() {
                Some(c) if c == quote => break k,
                Some(b'<') => lt = true,
                Some(b'"' | b'\'') => {}
                _ => plain = false,
            }
            k += 1;
        };
        if lt {
            return Err(self.err("'<' in attribute value"));
        }
        self.i = end + 1;
        if plain {
            return Ok(Cow::Borrowed(self.slice(start, end)));
        }
        let raw = self.slice(start, end);
        let mut out = String::with_capacity(raw.len());
        // Re-scan with a cursor bounded at the closing quote.
        let mut sub = Scanner {
            text: self.text,
            b: self.b.get(..end).unwrap_or_default(),
            i: start,
        };
        while let Some(c) = sub.peek() {
            match c {
                b'&' => out.push(sub.reference()?),
                b'\r' => {
                    out.push(' ');
                    sub.i += if sub.at(1) == Some(b'\n') { 2 } else { 1 };
                }
                b'\t' | b'\n' => {
                    out.push(' ');
                    sub.i += 1;
                }
                _ => {
                    // Copy up to the next special byte in one go.
                    let from = sub.i;
                    while sub
                        .peek()
                        .is_some_and(|c| !matches!(c, b'&' | b'\t' | b'\r' | b'\n'))
                    {
                        sub.i += 1;
                    }
                    out.push_str(sub.slice(from, sub.i));
                }
            }
        }
        Ok(Cow::Owned(out))
    }
}

impl<'a> Tree<'a> {
    /// Parses `text` under `limits` (a leading UTF-8 BOM is skipped) with the
    /// hand-written tokenizer.
    ///
    /// # Errors
    /// [`XmlError::TooLarge`], [`XmlError::TooDeep`] or [`XmlError::Malformed`] (not
    /// well-formed, a DTD, more than [`XmlLimits::max_nodes`] nodes or more than
    /// [`MAX_ATTRIBUTES`] attributes on an element).
    pub fn parse(text: &'a str, limits: &XmlLimits) -> Result<Tree<'a>, XmlError> {
        if text.len() > limits.max_bytes {
            return Err(XmlError::TooLarge {
                size: text.len(),
                limit: limits.max_bytes,
            });
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut b = Builder::new(limits);
        let mut s = Scanner {
            text,
            b: text.as_bytes(),
            i: 0,
        };
        loop {
            // Character data up to the next markup or reference.
            let start = s.i;
            let mut has_cr = false;
            loop {
                let run = s.rest().iter().position(|&c| class(c) & C_TEXT_STOP != 0);
                s.i += run.unwrap_or(s.rest().len());
                if s.peek() == Some(b'\r') {
                    has_cr = true;
                    s.i += 1;
                } else {
                    break;
                }
            }
            if s.i > start && !has_cr && b.skips_formatting(s.b.get(start..s.i)) {
                // Formatting white space after an element child: not kept.
            } else if s.i > start {
                let t = s.slice(start, s.i);
                let t = if has_cr {
                    Cow::Owned(normalize_eol(t))
                } else {
                    Cow::Borrowed(t)
                };
                b.text(t, start as u64)?;
            }
            let pos = s.i as u64;
            match (s.peek(), s.at(1)) {
                (None, _) => break,
                (Some(b'&'), _) => {
                    if b.open.is_empty() {
                        return Err(malformed("reference outside the root element", pos));
                    }
                    let c = s.reference()?;
                    let mut buf = [0u8; 4];
                    b.text(Cow::Owned(c.encode_utf8(&mut buf).to_owned()), pos)?;
                }
                (Some(_), Some(b'/')) => {
                    s.i += 2;
                    // The name must be the open element's: compare in place.
                    let open = b.open_qname();
                    let n = open.len();
                    let matches = s.rest().get(..n) == Some(open.as_bytes())
                        && s.at(n).is_none_or(|c| class(c) & (C_NAME | C_COLON) == 0);
                    if !matches || n == 0 {
                        return Err(malformed("mismatched end tag", pos));
                    }
                    s.i += n;
                    s.skip_ws();
                    if s.peek() != Some(b'>') {
                        return Err(s.err("end tag not closed by '>'"));
                    }
                    s.i += 1;
                    b.end(None, pos)?;
                }
                (Some(_), Some(b'?')) => {
                    s.i += 2;
                    let target = s.pi_target()?;
                    let end = s.find(b"?>").ok_or_else(|| s.err("unterminated PI"))?;
                    s.i = end + 2;
                    if target.eq_ignore_ascii_case("xml") {
                        if b.saw_root || pos != 0 || target != "xml" {
                            return Err(malformed("misplaced XML declaration", pos));
                        }
                    } else {
                        b.other()?;
                    }
                }
                (Some(_), Some(b'!')) => {
                    let r = s.rest();
                    if r.starts_with(b"<!--") {
                        s.i += 4;
                        // `--` may appear only as the end `-->` (XML 1.0 §2.5).
                        let dd = s.find(b"--").ok_or_else(|| s.err("unterminated comment"))?;
                        if s.b.get(dd + 2) != Some(&b'>') {
                            return Err(malformed("'--' inside a comment", dd as u64));
                        }
                        s.i = dd + 3;
                        b.other()?;
                    } else if r.starts_with(b"<![CDATA[") {
                        if b.open.is_empty() {
                            return Err(malformed("CDATA outside the root element", pos));
                        }
                        s.i += 9;
                        let end = s.find(b"]]>").ok_or_else(|| s.err("unterminated CDATA"))?;
                        let t = s.slice(s.i, end);
                        s.i = end + 3;
                        let t = if memchr::memchr(b'\r', t.as_bytes()).is_some() {
                            Cow::Owned(normalize_eol(t))
                        } else {
                            Cow::Borrowed(t)
                        };
                        b.text(t, pos)?;
                    } else if r.starts_with(b"<!DOCTYPE") {
                        return Err(malformed("DTD refused", pos));
                    } else {
                        return Err(malformed("unknown markup declaration", pos));
                    }
                }
                (Some(_), _) => {
                    s.i += 1;
                    let (qname, colon) = s.name()?;
                    let attr_start = b.begin_element(pos)?;
                    let scope_mark = b.scope.len() as u32;
                    let empty = loop {
                        let had_ws = s.skip_ws();
                        match s.peek() {
                            Some(b'>') => {
                                s.i += 1;
                                break false;
                            }
                            Some(b'/') => {
                                if s.at(1) != Some(b'>') {
                                    return Err(s.err("'/' not followed by '>'"));
                                }
                                s.i += 2;
                                break true;
                            }
                            None => return Err(s.err("unterminated start tag")),
                            Some(_) if !had_ws => {
                                return Err(s.err("attributes not separated by white space"))
                            }
                            Some(_) => {
                                let (name, _) = s.name()?;
                                s.skip_ws();
                                if s.peek() != Some(b'=') {
                                    return Err(s.err("attribute without '='"));
                                }
                                s.i += 1;
                                s.skip_ws();
                                let value = s.attr_value()?;
                                b.attribute(attr_start, name, value, pos)?;
                            }
                        }
                    };
                    b.finish_start(qname, colon, attr_start, scope_mark, pos)?;
                    if empty {
                        b.end(None, pos)?;
                    }
                }
            }
        }
        b.finish(text.len())
    }

    /// The previous builder: the same tree from `quick-xml`'s borrowing pull parser, with
    /// the same limits and refusals. Kept as the reference implementation for the
    /// differential tests (tests/location_xml_diff.rs) and as the comparison in
    /// benches/locate.rs; [`Tree::parse`] is the one to use.
    ///
    /// # Errors
    /// As [`Tree::parse`].
    pub fn parse_quick_xml(text: &'a str, limits: &XmlLimits) -> Result<Tree<'a>, XmlError> {
        if text.len() > limits.max_bytes {
            return Err(XmlError::TooLarge {
                size: text.len(),
                limit: limits.max_bytes,
            });
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut b = Builder::new(limits);
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
                    quick_xml_start(&mut b, e, raw, pos)?;
                    if matches!(ev, Event::Empty(_)) {
                        b.end(None, pos)?;
                    }
                }
                Event::End(ref e) => b.end(Some(e.name().as_ref()), pos)?,
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
                Event::Comment(_) | Event::PI(_) => b.other()?,
                Event::Decl(_) => {
                    if b.saw_root || pos != 0 {
                        return Err(malformed("misplaced XML declaration", pos));
                    }
                }
                Event::DocType(_) => return Err(malformed("DTD refused", pos)),
                Event::Eof => break,
            }
        }
        b.finish(text.len())
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

    /// The element's attributes as `(qualified name, normalised value)`, in document order
    /// (namespace declarations included).
    pub fn attributes(&self) -> impl Iterator<Item = (&'a str, &'t str)> + 't {
        let attrs = self
            .data()
            .and_then(|d| {
                self.tree
                    .attrs
                    .get(d.attr_start as usize..d.attr_end as usize)
            })
            .unwrap_or_default();
        attrs.iter().map(|a| (a.qname, a.value.as_ref()))
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

/// One quick-xml start tag into the builder (names and values re-sliced from the input).
fn quick_xml_start<'a>(
    b: &mut Builder<'a>,
    e: &BytesStart<'a>,
    raw: &'a str,
    pos: u64,
) -> Result<(), XmlError> {
    // The name is the start of the tag's content, which borrows from the input.
    let name_len = e.name().as_ref().len();
    let qname = raw
        .get(..name_len)
        .ok_or_else(|| malformed("bad name", pos))?;
    if qname.is_empty() {
        return Err(malformed("empty element name", pos));
    }
    let attr_start = b.begin_element(pos)?;
    let scope_mark = b.scope.len() as u32;
    for a in e.attributes() {
        let a = a.map_err(|err| malformed(err, pos))?;
        let key =
            reslice_bytes(raw, a.key.as_ref()).ok_or_else(|| malformed("attribute name", pos))?;
        // Attribute-value normalisation (XML 1.0 §3.3.3) only changes values with
        // references or \t \r \n; borrow the others as they are.
        let v = reslice_bytes(raw, &a.value).ok_or_else(|| malformed("attribute value", pos))?;
        let value = if v.bytes().any(|c| matches!(c, b'&' | b'\t' | b'\r' | b'\n')) {
            Cow::Owned(
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map_err(|err| malformed(err, pos))?
                    .into_owned(),
            )
        } else {
            Cow::Borrowed(v)
        };
        b.attribute(attr_start, key, value, pos)?;
    }
    let colon = qname.bytes().position(|c| c == b':').unwrap_or(0);
    b.finish_start(qname, colon, attr_start, scope_mark, pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim() -> XmlLimits {
        XmlLimits::default()
    }

    type Parse = for<'a> fn(&'a str, &XmlLimits) -> Result<Tree<'a>, XmlError>;
    /// Both builders: every test below holds for each.
    const PARSERS: [(&str, Parse); 2] = [("hand-written", hand), ("quick-xml", quick)];
    fn hand<'a>(t: &'a str, l: &XmlLimits) -> Result<Tree<'a>, XmlError> {
        Tree::parse(t, l)
    }
    fn quick<'a>(t: &'a str, l: &XmlLimits) -> Result<Tree<'a>, XmlError> {
        Tree::parse_quick_xml(t, l)
    }

    #[test]
    fn names_namespaces_attributes_text() {
        for (_, parse) in PARSERS {
            let x = r#"<?xml version="1.0"?><p:a xmlns:p="urn:p" xmlns="urn:d" id="1&amp;2"><b xml:lang="en">x &lt; y<![CDATA[ & z]]></b><p:c/><d xmlns="">t</d></p:a>"#;
            let t = parse(x, &lim()).unwrap();
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
    }

    #[test]
    fn line_ends_and_attribute_values_are_normalised() {
        for (_, parse) in PARSERS {
            let t = parse("<a v=\"x\ty&#38;\">1\r\n2\r3</a>", &lim()).unwrap();
            let a = t.root_element();
            assert_eq!(a.attribute("v"), Some("x y&"));
            assert_eq!(a.text(), Some("1\n2\n3"));
        }
    }

    #[test]
    fn refuses_dtd_and_unknown_entities() {
        for (_, parse) in PARSERS {
            let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
            assert!(matches!(parse(xxe, &lim()), Err(XmlError::Malformed(_))));
            assert!(matches!(
                parse("<r>&x;</r>", &lim()),
                Err(XmlError::Malformed(_))
            ));
        }
    }

    #[test]
    fn refuses_malformed() {
        for (_, parse) in PARSERS {
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
                    matches!(parse(bad, &lim()), Err(XmlError::Malformed(_))),
                    "{bad:?}"
                );
            }
        }
    }

    #[test]
    fn caps_size_depth_and_nodes() {
        for (_, parse) in PARSERS {
            let l = XmlLimits {
                max_bytes: 64,
                max_nodes: 10,
                max_depth: 3,
            };
            let big = format!("<r>{}</r>", "x".repeat(100));
            assert_eq!(
                parse(&big, &l).unwrap_err(),
                XmlError::TooLarge {
                    size: 107,
                    limit: 64
                }
            );
            assert_eq!(
                parse("<a><b><c><d/></c></b></a>", &l).unwrap_err(),
                XmlError::TooDeep { limit: 3 }
            );
            assert!(parse("<a><b><c/></b></a>", &l).is_ok());
            let many = format!("<r>{}</r>", "<x/>".repeat(12));
            assert!(matches!(parse(&many, &l), Err(XmlError::Malformed(_))));
        }
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
                for (which, parse) in PARSERS {
                    let ours = parse(&text, &lim());
                    let theirs = super::super::xml::parse_bounded(&text, &lim());
                    assert_eq!(ours.is_ok(), theirs.is_ok(), "{which} {path:?}");
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
                        assert_eq!(names, want, "{which} {path:?}");
                    }
                }
                checked += 1;
            }
        }
        assert!(checked >= 40, "{checked}");
    }

    #[test]
    fn formatting_white_space_is_not_kept() {
        for (_, parse) in PARSERS {
            let x = "<a>\n <b>1</b>\n <c> </c>\n <d> <!--k-->2</d> <e>&amp; <f/></e>\n</a>";
            let t = parse(x, &lim()).unwrap();
            let kids: Vec<_> = t.root_element().children().collect();
            assert!(kids.iter().all(Node::is_element), "{x}");
            assert_eq!(kids.len(), 4);
            assert_eq!(kids[1].text(), Some(" "));
            let d: Vec<_> = kids[2].children().filter_map(|n| n.text()).collect();
            assert_eq!(d, [" ", "2"]);
            // Text that is not only white space keeps its spaces, even before an element.
            assert_eq!(kids[3].text(), Some("& "));
        }
    }

    #[test]
    fn skips_bom() {
        for (_, parse) in PARSERS {
            let t = parse("\u{feff}<r>1</r>", &lim()).unwrap();
            assert_eq!(t.root_element().text(), Some("1"));
        }
    }

    #[test]
    fn hand_written_tokenizer_details() {
        fn ok(x: &str) -> Tree<'_> {
            Tree::parse(x, &lim()).unwrap_or_else(|e| panic!("{x:?}: {e}"))
        }
        // Single quotes, white space around '=' and before '>' / in end tags.
        let x = "<a  b = 'x\"y' c=\"1\" ><b/></a >";
        let t = ok(x);
        let a = t.root_element();
        assert_eq!(
            (a.attribute("b"), a.attribute("c")),
            (Some("x\"y"), Some("1"))
        );
        // Comments and PIs split text runs, are skipped, and count towards the node cap.
        // A PI target may hold colons (XML 1.0 §2.6 Name; roxmltree agrees): skipped.
        assert_eq!(
            ok("<?:xml x?><r><?a:b:c y?></r>").root_element().name(),
            "r"
        );
        let t = ok("<?xml version='1.0'?><!-- c --><r>1<!-- c -->2<?pi x?>3</r><!-- end -->");
        let texts: Vec<_> = t
            .root_element()
            .children()
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(texts, ["1", "2", "3"]);
        let l = XmlLimits {
            max_nodes: 5,
            ..lim()
        };
        assert!(Tree::parse("<r><!--1--><!--2--><!--3--></r>", &l).is_ok());
        assert!(Tree::parse("<r><!--1--><!--2--><!--3--><!--4--></r>", &l).is_err());
        // Character references (decimal, hex, astral) merge into the text run.
        let t = ok("<r>a&#65;&#x42;&#x1F600;&amp;b</r>");
        assert_eq!(t.root_element().text(), Some("aAB\u{1F600}&b"));
        // \r\n in an attribute value is one space; a reference to \n stays \n.
        let t = ok("<r v=\"1\r\n2&#10;3\"/>");
        assert_eq!(t.root_element().attribute("v"), Some("1 2\n3"));
        // Non-ASCII names and text borrow fine.
        let t = ok("<straße xmlns='urn:x'>Zürich</straße>");
        assert_eq!(t.root_element().name(), "straße");
        for bad in [
            "<r>&#0;</r>",
            "<r>&#xD800;</r>",
            "<r>&#x110000;</r>",
            "<r>&#12a;</r>",
            "<r>&amp</r>",
            "<r>&;</r>",
            "&amp;<r/>",
            "<r a='1'b='2'/>",
            "<r a=1/>",
            "<r a='<'/>",
            "<r a='1/>",
            "<r a/>",
            "<r/ >",
            "<1r/>",
            "<a:b:c xmlns:a='u'/>",
            "<a: xmlns:a='u'/>",
            "<:a/>",
            "<r></r >x",
            "<r><!-- a --->",
            "<r><!-- a ",
            "<r><![CDATA[ x </r>",
            "<![CDATA[x]]><r/>",
            "<r/><?xml version='1.0'?>",
            " <?xml version='1.0'?><r/>",
            "<?XML version='1.0'?><r/>",
            "<!ELEMENT r ANY><r/>",
            "<r><!DOCTYPE r></r>",
            "<r",
            "<r a='1'",
            "<r></",
        ] {
            assert!(
                matches!(Tree::parse(bad, &lim()), Err(XmlError::Malformed(_))),
                "{bad:?}"
            );
        }
        let many: String = (0..=MAX_ATTRIBUTES).map(|i| format!(" a{i}='1'")).collect();
        assert!(Tree::parse(&format!("<r{many}/>"), &lim()).is_err());
    }
}
