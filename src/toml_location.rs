//! Where things sit in a TOML file, so configuration and signature errors name the line
//! of the key at fault rather than the top of the file or the table around it.

use std::ops::Range;

use toml_edit::{ArrayOfTables, ImDocument, Item, Table, TableLike};

/// 1-based line of a byte offset (the line after the text if past its end).
pub fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map_or(1, |t| t.matches('\n').count() + 1)
}

/// One step of a path into a document: a key, or an entry of an array of tables.
#[derive(Clone, Copy, Debug)]
pub enum Step<'a> {
    Key(&'a str),
    Entry(usize),
}

/// A parsed document with its spans, for finding lines after the fact.
pub struct Located {
    doc: ImDocument<String>,
    /// Byte offset of every `\n`, in order: a line is a binary search, not a count from
    /// the start (signature files ask for thousands of lines at every start-up).
    newlines: Vec<usize>,
}

impl Located {
    /// Parses `text`; a syntax error is the byte offset where it was found and the reason.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        ImDocument::parse(text.to_string())
            .map(|doc| Located {
                newlines: text
                    .bytes()
                    .enumerate()
                    .filter(|(_, b)| *b == b'\n')
                    .map(|(at, _)| at)
                    .collect(),
                doc,
            })
            .map_err(|e| {
                let at = e.span().map_or(0, |s| s.start);
                (at, e.message().trim().to_string())
            })
    }

    pub fn text(&self) -> &str {
        self.doc.raw()
    }

    pub fn root(&self) -> &Table {
        self.doc.as_table()
    }

    pub fn line(&self, span: Option<Range<usize>>) -> Option<usize> {
        span.map(|s| self.newlines.partition_point(|&nl| nl < s.start) + 1)
    }

    /// The line of the last step of `path`: a key's own line, or an entry's `[[header]]`.
    /// None when the path is not in the document (a default left out).
    pub fn line_of_path(&self, path: &[Step<'_>]) -> Option<usize> {
        enum Node<'d> {
            Table(&'d dyn TableLike),
            Entries(&'d ArrayOfTables),
            Leaf,
        }
        let mut node = Node::Table(self.root());
        let mut span = None;
        for step in path {
            node = match (node, *step) {
                (Node::Table(table), Step::Key(name)) => {
                    let (key, item) = table.get_key_value(name)?;
                    span = key.span();
                    match item {
                        Item::ArrayOfTables(entries) => Node::Entries(entries),
                        other => other.as_table_like().map_or(Node::Leaf, Node::Table),
                    }
                }
                (Node::Entries(entries), Step::Entry(n)) => {
                    let entry = entries.get(n)?;
                    span = entry.span().or(span);
                    Node::Table(entry)
                }
                _ => return None,
            };
        }
        self.line(span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_tables_and_entries() {
        let text = "a = 1\n\n[flow]\nmax_flows = 0\n\n[rules.4242]\nseverity = \"low\"\n\n[[suppress]]\nrule = 1\n\n[[suppress]]\nrule = 2\n";
        let doc = Located::parse(text).unwrap();
        assert_eq!(doc.line_of_path(&[Step::Key("a")]), Some(1));
        assert_eq!(
            doc.line_of_path(&[Step::Key("flow"), Step::Key("max_flows")]),
            Some(4)
        );
        assert_eq!(
            doc.line_of_path(&[Step::Key("rules"), Step::Key("4242")]),
            Some(6)
        );
        assert_eq!(
            doc.line_of_path(&[Step::Key("suppress"), Step::Entry(1)]),
            Some(12)
        );
        assert_eq!(
            doc.line_of_path(&[Step::Key("suppress"), Step::Entry(1), Step::Key("rule")]),
            Some(13)
        );
        assert_eq!(doc.line_of_path(&[Step::Key("nothing")]), None);
        let (at, reason) = Located::parse("a = \n").err().unwrap();
        assert_eq!(line_of("a = \n", at), 1);
        assert!(!reason.is_empty());
    }

    #[test]
    fn line_by_search_equals_line_by_count() {
        let text = "a = 1\n\n[flow]\nmax_flows = 0\n# é\nb = \"x\"\n";
        let doc = Located::parse(text).unwrap();
        for at in (0..=text.len()).filter(|at| text.is_char_boundary(*at)) {
            assert_eq!(doc.line(Some(at..at)), Some(line_of(text, at)), "{at}");
        }
    }
}
