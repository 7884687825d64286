//! challenger
