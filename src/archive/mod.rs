//! pg_dump-compatible archives: TOC encoding (`toc`), the directory format (`directory`) and
//! `pg_restore -l`-style listings (`list`).

pub mod directory;
pub mod list;
pub mod script;
pub mod toc;

pub use directory::{DirectoryReader, DirectoryWriter, data_file_name};
pub use list::{ListOptions, list, list_with};
pub use script::{ScriptOptions, Sections};
pub use toc::{ArchiveFormat, ArchiveVersion, CreateTime, Header, HeaderCompression, TocEntry, decode_toc, encode_toc};
