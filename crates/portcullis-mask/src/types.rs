//! PostgreSQL data types and value formats that the masking methods understand.

use std::fmt;

/// Format of one value on the wire: the format code of a RowDescription field or of a
/// COPY column (0 = text, 1 = binary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// The type's output function text, in the client encoding.
    Text,
    /// The type's send function bytes.
    Binary,
}

impl Format {
    /// Maps a protocol format code to a format; codes other than 0 and 1 are invalid.
    pub fn from_code(code: i16) -> Option<Format> {
        match code {
            0 => Some(Format::Text),
            1 => Some(Format::Binary),
            _ => None,
        }
    }

    /// Returns the protocol format code.
    pub fn code(self) -> i16 {
        match self {
            Format::Text => 0,
            Format::Binary => 1,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Text => "text",
            Format::Binary => "binary",
        })
    }
}

/// Built-in type OIDs from PostgreSQL's `pg_type.dat`; they are fixed across versions.
pub mod oid {
    pub const BOOL: u32 = 16;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;
}

/// A data type whose values the masking methods can decode and re-encode.
///
/// RowDescription reports the base type of a domain column, so a domain over `text`
/// arrives here as [`PgType::Text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PgType {
    Text,
    Varchar,
    /// `character(n)`: values arrive padded with spaces to the declared length.
    Bpchar,
    Name,
    Int2,
    Int4,
    Int8,
    Numeric,
    Date,
    Timestamp,
    Timestamptz,
    Bool,
    Uuid,
}

impl PgType {
    /// Maps a type OID to a known type, or `None` for every other type (arrays, JSON,
    /// extension types…), which only [`crate::MaskMethod::Null`] can mask.
    pub fn from_oid(type_oid: u32) -> Option<PgType> {
        Some(match type_oid {
            oid::TEXT => PgType::Text,
            oid::VARCHAR => PgType::Varchar,
            oid::BPCHAR => PgType::Bpchar,
            oid::NAME => PgType::Name,
            oid::INT2 => PgType::Int2,
            oid::INT4 => PgType::Int4,
            oid::INT8 => PgType::Int8,
            oid::NUMERIC => PgType::Numeric,
            oid::DATE => PgType::Date,
            oid::TIMESTAMP => PgType::Timestamp,
            oid::TIMESTAMPTZ => PgType::Timestamptz,
            oid::BOOL => PgType::Bool,
            oid::UUID => PgType::Uuid,
            _ => return None,
        })
    }

    /// Returns the type's OID.
    pub fn oid(self) -> u32 {
        match self {
            PgType::Text => oid::TEXT,
            PgType::Varchar => oid::VARCHAR,
            PgType::Bpchar => oid::BPCHAR,
            PgType::Name => oid::NAME,
            PgType::Int2 => oid::INT2,
            PgType::Int4 => oid::INT4,
            PgType::Int8 => oid::INT8,
            PgType::Numeric => oid::NUMERIC,
            PgType::Date => oid::DATE,
            PgType::Timestamp => oid::TIMESTAMP,
            PgType::Timestamptz => oid::TIMESTAMPTZ,
            PgType::Bool => oid::BOOL,
            PgType::Uuid => oid::UUID,
        }
    }

    /// Returns the SQL name of the type as `format_type` prints it.
    pub fn sql_name(self) -> &'static str {
        match self {
            PgType::Text => "text",
            PgType::Varchar => "character varying",
            PgType::Bpchar => "character",
            PgType::Name => "name",
            PgType::Int2 => "smallint",
            PgType::Int4 => "integer",
            PgType::Int8 => "bigint",
            PgType::Numeric => "numeric",
            PgType::Date => "date",
            PgType::Timestamp => "timestamp without time zone",
            PgType::Timestamptz => "timestamp with time zone",
            PgType::Bool => "boolean",
            PgType::Uuid => "uuid",
        }
    }

    /// Returns whether values are character strings whose binary format equals their text.
    pub fn is_character(self) -> bool {
        matches!(
            self,
            PgType::Text | PgType::Varchar | PgType::Bpchar | PgType::Name
        )
    }

    /// All known types, for tables and tests.
    pub const ALL: [PgType; 13] = [
        PgType::Text,
        PgType::Varchar,
        PgType::Bpchar,
        PgType::Name,
        PgType::Int2,
        PgType::Int4,
        PgType::Int8,
        PgType::Numeric,
        PgType::Date,
        PgType::Timestamp,
        PgType::Timestamptz,
        PgType::Bool,
        PgType::Uuid,
    ];
}

impl fmt::Display for PgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sql_name())
    }
}

/// Type of a result column: a known type, or the OID of any other type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    Known(PgType),
    Other(u32),
}

impl ColumnType {
    pub fn from_oid(type_oid: u32) -> ColumnType {
        PgType::from_oid(type_oid).map_or(ColumnType::Other(type_oid), ColumnType::Known)
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnType::Known(pg_type) => write!(f, "{pg_type} (OID {})", pg_type.oid()),
            ColumnType::Other(type_oid) => write!(f, "type OID {type_oid}"),
        }
    }
}
