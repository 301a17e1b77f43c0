//! pg_dump-compatible archives: TOC encoding (`toc`), the writer seam (`writer`) and its
//! format back-ends (`directory`, `custom`, `tar`, and `plain` through the script printer
//! `script`), the byte outputs under them (`output`, `ordered`, `spool`), readers of every format
//! (`read`) and `pg_restore -l`-style listings (`list`).

pub mod custom;
pub mod digest;
pub mod directory;
pub mod leftovers;
pub mod list;
pub mod ordered;
pub mod output;
pub mod plain;
pub mod read;
pub mod script;
pub mod spool;
pub mod tar;
pub mod toc;
pub mod writer;
pub mod zone;

pub use directory::{DirectoryReader, DirectoryWriter, data_file_name};
pub use list::{ListOptions, list, list_with};
pub use read::list_archive;
pub use script::{ScriptOptions, Sections};
pub use toc::{ArchiveFormat, ArchiveVersion, CreateTime, Header, HeaderCompression, TocEntry, decode_toc, encode_toc};
pub use writer::{ArchiveWriter, DataSink, DataSinks, Finished, Format, WriterOptions};
