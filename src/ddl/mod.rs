//! Pure SQL rendering, one file per object kind, from model values to the text pg_dump
//! writes into TOC entries.

pub mod acl;
pub mod comment;
pub mod quote;
