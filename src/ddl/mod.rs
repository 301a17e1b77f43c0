//! Pure SQL rendering, one file per object kind, from model values to the text pg_dump
//! writes into TOC entries.

pub mod acl;
pub mod collation;
pub mod comment;
pub mod constraint;
pub mod database;
pub mod extension;
pub mod foreign_data;
pub mod function;
pub mod index;
pub mod policy;
pub mod publication;
pub mod quote;
pub mod rule;
pub mod schema;
pub mod sequence;
pub mod subscription;
pub mod table;
pub mod trigger;
pub mod types;
pub mod view;
