//! placeholder: the audit trail (issue 3).
