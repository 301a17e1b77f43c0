//! Typed access to result rows without exposing tokio-postgres to the catalog layer.

use postgres_types::Type;

use crate::error::{Error, Result};

pub struct Row(tokio_postgres::Row);

fn bad(row: &tokio_postgres::Row, i: usize, want: &str, e: impl std::fmt::Display) -> Error {
    let name = row
        .columns()
        .get(i)
        .map(|c| c.name().to_string())
        .unwrap_or_else(|| format!("#{i}"));
    Error::internal(format!("column {name}: expected {want}: {e}"))
}

impl Row {
    pub(crate) fn new(r: tokio_postgres::Row) -> Row {
        Row(r)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn ty(&self, i: usize) -> Option<&Type> {
        self.0.columns().get(i).map(|c| c.type_())
    }

    /// A text-like column (text, name, varchar, char, "char"); NULL → `None`.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>> {
        match self.ty(i) {
            Some(&Type::CHAR) => {
                let v: Option<i8> = self.0.try_get(i).map_err(|e| bad(&self.0, i, "\"char\"", e))?;
                Ok(v.map(|c| (c as u8 as char).to_string()))
            }
            _ => self.0.try_get(i).map_err(|e| bad(&self.0, i, "text", e)),
        }
    }

    pub fn text(&self, i: usize) -> Result<String> {
        self.opt_text(i)?.ok_or_else(|| bad(&self.0, i, "text", "NULL"))
    }

    /// A bytea column's bytes; NULL is an error.
    pub fn bytes(&self, i: usize) -> Result<Vec<u8>> {
        let v: Option<Vec<u8>> = self.0.try_get(i).map_err(|e| bad(&self.0, i, "bytea", e))?;
        v.ok_or_else(|| bad(&self.0, i, "bytea", "NULL"))
    }

    /// A `"char"` column as a byte (relkind, contype ...).
    pub fn char(&self, i: usize) -> Result<u8> {
        let s = self.text(i)?;
        Ok(s.bytes().next().unwrap_or(0))
    }

    pub fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        let r = match self.ty(i) {
            Some(&Type::INT2) => self.0.try_get::<_, Option<i16>>(i).map(|v| v.map(i64::from)),
            Some(&Type::INT4) => self.0.try_get::<_, Option<i32>>(i).map(|v| v.map(i64::from)),
            Some(&Type::OID) => self.0.try_get::<_, Option<u32>>(i).map(|v| v.map(i64::from)),
            Some(&Type::FLOAT4) => self.0.try_get::<_, Option<f32>>(i).map(|v| v.map(|f| f as i64)),
            Some(&Type::FLOAT8) => self.0.try_get::<_, Option<f64>>(i).map(|v| v.map(|f| f as i64)),
            _ => self.0.try_get::<_, Option<i64>>(i),
        };
        r.map_err(|e| bad(&self.0, i, "integer", e))
    }

    pub fn int(&self, i: usize) -> Result<i64> {
        self.opt_int(i)?.ok_or_else(|| bad(&self.0, i, "integer", "NULL"))
    }

    pub fn oid(&self, i: usize) -> Result<u32> {
        let v = self.int(i)?;
        u32::try_from(v).map_err(|e| bad(&self.0, i, "oid", e))
    }

    pub fn opt_bool(&self, i: usize) -> Result<Option<bool>> {
        self.0.try_get(i).map_err(|e| bad(&self.0, i, "bool", e))
    }

    pub fn bool(&self, i: usize) -> Result<bool> {
        self.opt_bool(i)?.ok_or_else(|| bad(&self.0, i, "bool", "NULL"))
    }

    /// A text[] (or name[]) column; NULL → empty. Cast other array types to text[] in SQL.
    pub fn text_array(&self, i: usize) -> Result<Vec<String>> {
        let v: Option<Vec<Option<String>>> = self.0.try_get(i).map_err(|e| bad(&self.0, i, "text[]", e))?;
        Ok(v.unwrap_or_default()
            .into_iter()
            .map(|s| s.unwrap_or_default())
            .collect())
    }

    /// An oid[] column; NULL → empty.
    pub fn oid_array(&self, i: usize) -> Result<Vec<u32>> {
        let v: Option<Vec<u32>> = self.0.try_get(i).map_err(|e| bad(&self.0, i, "oid[]", e))?;
        Ok(v.unwrap_or_default())
    }
}
