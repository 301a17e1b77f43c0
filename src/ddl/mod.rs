//! Pure SQL rendering, one file per object kind, from model values to the text pg_dump
//! writes into TOC entries.

pub mod access_method;
pub mod acl;
pub mod aggregate;
pub mod cast;
pub mod collation;
pub mod comment;
pub mod constraint;
pub mod conversion;
pub mod database;
pub mod event_trigger;
pub mod extension;
pub mod foreign_data;
pub mod function;
pub mod index;
pub mod language;
pub mod opclass;
pub mod operator;
pub mod policy;
pub mod publication;
pub mod quote;
pub mod rel_stats;
pub mod rule;
pub mod schema;
pub mod seclabel;
pub mod sequence;
pub mod statistics;
pub mod subscription;
pub mod table;
pub mod text_search;
pub mod trigger;
pub mod types;
pub mod view;
