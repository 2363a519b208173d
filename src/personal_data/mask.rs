//! Masking rules of DESIGN §5: user names keep their initial, secrets are never
//! shown — only that they are present and how long they are.

/// `alice.martin` → `a***`. The length is hidden too; one letter is all an auditor
/// needs to tell accounts apart on one flow.
pub fn user_name(name: &str) -> String {
    match name.chars().next() {
        Some(first) => format!("{first}***"),
        None => "(empty)".to_string(),
    }
}

/// A password, token or key: presence and length, never content.
pub fn secret(what: &str, len: usize) -> String {
    if len == 0 {
        format!("{what} empty")
    } else {
        format!("{what} present ({len} chars)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(user_name("alice.martin"), "a***");
        assert_eq!(user_name("Élodie"), "É***");
        assert_eq!(user_name(""), "(empty)");
        assert_eq!(secret("password", 21), "password present (21 chars)");
    }
}
