//! Large objects (pg_dump.c `getLOs`, `dumpLO`, `dumpLOs`): their metadata (owner, ACL,
//! comment) and the BLOBS entries whose data are their bytes, in the shape of the archive
//! version written.
//!
//! Before archive 1.16 (pg_dump 14-16): one pre-data `BLOB` entry per object (`lo_create`,
//! owner, its own COMMENT and ACL entries) and a single `BLOBS` data entry for all of them.
//! From 1.16 (pg_dump 17+): objects sharing owner and ACL are grouped, at most
//! [`GROUP_SIZE`] per group; each group gets a data-section `BLOB METADATA` entry (its
//! definition is the OID list pg_restore expands), the per-object COMMENT entries, one ACL
//! entry for the group and a `BLOBS` entry of its own.

use crate::catalog::Ctx;
use crate::ddl::acl::{AclKind, acl_entry};
use crate::ddl::comment;
use crate::ddl::seclabel::{self, Label};
use crate::error::Result;
use crate::model::{CatalogId, Dep, Entry, Priority, Section, catalog_oid};

/// Most large objects in one BLOB METADATA / BLOBS pair (pg_dump's
/// `MAX_BLOBS_PER_ARCHIVE_ENTRY`).
pub const GROUP_SIZE: usize = 1000;

/// One large object's catalog row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LargeObject {
    pub oid: u32,
    pub owner: String,
    /// `lomacl::text`; `None` = default privileges.
    pub acl: Option<String>,
    /// `acldefault('L', lomowner)::text`.
    pub acl_default: String,
    pub comment: Option<String>,
    /// Its security labels (data, like the object: `dumpSecLabel`).
    pub labels: Vec<Label>,
}

/// The large objects query (also run ahead by a catalog helper).
pub(crate) fn list_sql(ctx: &Ctx<'_>) -> String {
    // pg_dump 17 reads them ordered so that objects to group are adjacent.
    let order = if ctx.large_object_groups {
        "m.lomowner, m.lomacl::pg_catalog.text, m.oid"
    } else {
        "m.oid"
    };
    format!(
        "SELECT m.oid, m.lomowner, m.lomacl::pg_catalog.text, \
         pg_catalog.acldefault('L', m.lomowner)::pg_catalog.text \
         FROM pg_catalog.pg_largeobject_metadata m ORDER BY {order}"
    )
}

pub async fn read(ctx: &mut Ctx<'_>) -> Result<()> {
    if !ctx.large_objects_wanted() {
        return Ok(());
    }
    let rows = ctx.query(&list_sql(ctx)).await?;
    let mut los = Vec::with_capacity(rows.len());
    for r in rows {
        let oid = r.oid(0)?;
        los.push(LargeObject {
            oid,
            owner: ctx.role(r.oid(1)?),
            acl: r.opt_text(2)?,
            acl_default: r.text(3)?,
            comment: ctx.comment(catalog_oid::PG_LARGEOBJECT, oid, 0).map(str::to_string),
            labels: ctx.large_object_labels(oid),
        });
    }
    let entries = if ctx.large_object_groups {
        grouped_entries(ctx, &los)
    } else {
        per_object_entries(ctx, &los)
    };
    for (e, blobs_dep) in entries {
        let at = ctx.entries.len();
        let e = match blobs_dep {
            // The BLOBS entry of a group follows its BLOB METADATA entry.
            true => e.with_dep(Dep::Entry(at - 1)),
            false => e,
        };
        ctx.push(e);
    }
    Ok(())
}

/// The ACL lists (current, baseline) of a large object, `None` under `-x`.
fn acl_lists(ctx: &Ctx<'_>, lo: &LargeObject) -> Option<(Vec<String>, Vec<String>)> {
    ctx.acl_lists(
        catalog_oid::PG_LARGEOBJECT,
        lo.oid,
        0,
        lo.acl.as_deref(),
        &lo.acl_default,
    )
}

/// Archive 1.14/1.15: a BLOB entry per object, then one BLOBS entry for all. The bool says
/// whether the entry depends on the one pushed before it.
fn per_object_entries(ctx: &Ctx<'_>, los: &[LargeObject]) -> Vec<(Entry, bool)> {
    let mut out = Vec::new();
    for lo in los {
        let name = lo.oid.to_string();
        let mut e = Entry::new("BLOB", Priority::LargeObjectPreData, Section::PreData, name.clone())
            .with_key(CatalogId::new(catalog_oid::PG_LARGEOBJECT, lo.oid))
            .with_owner(lo.owner.clone())
            .with_defn(format!("SELECT pg_catalog.lo_create('{name}');\n"))
            .with_drop(format!("SELECT pg_catalog.lo_unlink('{name}');\n"));
        if let Some(text) = &lo.comment {
            let c = comment::comment_entry(&e, "LARGE OBJECT", &name, &name, text);
            e.attached.push(c);
        }
        if let Some(l) = seclabel::seclabel_entry(&e, "LARGE OBJECT", &name, &name, &lo.labels) {
            e.attached.push(l);
        }
        if let Some((cur, base)) = acl_lists(ctx, lo)
            && let Some(a) = acl_entry(
                &e,
                AclKind::LargeObject,
                "LARGE OBJECT",
                &name,
                &name,
                None,
                &lo.owner,
                &cur,
                &base,
            )
        {
            e.attached.push(a);
        }
        out.push((e, false));
    }
    if !los.is_empty() {
        let mut blobs = Entry::new("BLOBS", Priority::LargeObjectData, Section::Data, "BLOBS");
        blobs.large_objects = los.iter().map(|l| l.oid).collect();
        out.push((blobs, false));
    }
    out
}

/// Splits objects (already ordered by owner, ACL, OID) into groups of equal owner and ACL,
/// at most [`GROUP_SIZE`] each.
pub fn groups(los: &[LargeObject]) -> Vec<&[LargeObject]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=los.len() {
        let ends = i == los.len()
            || i - start >= GROUP_SIZE
            || los[i].owner != los[start].owner
            || los[i].acl != los[start].acl;
        if ends {
            out.push(&los[start..i]);
            start = i;
        }
    }
    out
}

/// Archive 1.16: per group a BLOB METADATA entry (with the objects' comments and the
/// group's ACL attached) and a BLOBS entry depending on it.
fn grouped_entries(ctx: &Ctx<'_>, los: &[LargeObject]) -> Vec<(Entry, bool)> {
    let mut out = Vec::new();
    for group in groups(los) {
        let first = &group[0];
        let last = &group[group.len() - 1];
        let tag = if group.len() == 1 {
            first.oid.to_string()
        } else {
            format!("{}..{}", first.oid, last.oid)
        };
        let oids: String = group.iter().map(|l| format!("{}\n", l.oid)).collect();
        let mut meta = Entry::new("BLOB METADATA", Priority::LargeObject, Section::Data, tag.clone())
            .with_key(CatalogId::new(catalog_oid::PG_LARGEOBJECT, first.oid))
            .with_owner(first.owner.clone())
            .with_defn(oids)
            // pg_restore wants a non-empty drop statement to issue the per-OID OWNER TO.
            .with_drop("-- dummy");
        // Each object's comment, then its labels (dumpLO).
        for lo in group {
            let name = lo.oid.to_string();
            if let Some(text) = &lo.comment {
                let c = comment::comment_entry(&meta, "LARGE OBJECT", &name, &name, text);
                meta.attached.push(c);
            }
            if let Some(l) = seclabel::seclabel_entry(&meta, "LARGE OBJECT", &name, &name, &lo.labels) {
                meta.attached.push(l);
            }
        }
        // One ACL for the group, written for its first object; pg_restore repeats it for
        // every OID of a `LARGE OBJECTS a..b` entry.
        let (keyword, tag_name) = if group.len() == 1 {
            ("LARGE OBJECT", tag.clone())
        } else {
            ("LARGE OBJECTS", tag.clone())
        };
        if let Some((cur, base)) = acl_lists(ctx, first)
            && let Some(a) = acl_entry(
                &meta,
                AclKind::LargeObject,
                keyword,
                &first.oid.to_string(),
                &tag_name,
                None,
                &first.owner,
                &cur,
                &base,
            )
        {
            meta.attached.push(a);
        }
        out.push((meta, false));
        let mut blobs =
            Entry::new("BLOBS", Priority::LargeObjectData, Section::Data, tag).with_owner(first.owner.clone());
        blobs.large_objects = group.iter().map(|l| l.oid).collect();
        out.push((blobs, true));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lo(oid: u32, owner: &str, acl: Option<&str>) -> LargeObject {
        LargeObject {
            oid,
            owner: owner.into(),
            acl: acl.map(str::to_string),
            acl_default: format!("{{{owner}=rw/{owner}}}"),
            comment: None,
            labels: Vec::new(),
        }
    }

    #[test]
    fn groups_split_on_owner_acl_and_size() {
        let mut los = vec![
            lo(1, "a", None),
            lo(5, "a", None),
            lo(3, "a", Some("{a=rw/a,=r/a}")),
            lo(2, "b", None),
        ];
        let g = groups(&los);
        assert_eq!(g.iter().map(|g| g.len()).collect::<Vec<_>>(), vec![2, 1, 1]);
        los = (0..2500).map(|i| lo(16384 + i, "a", None)).collect();
        let g = groups(&los);
        assert_eq!(g.iter().map(|g| g.len()).collect::<Vec<_>>(), vec![1000, 1000, 500]);
        assert!(groups(&[]).is_empty());
    }
}
