-- A work area for database administrators, loaded by `portcullis demo` after rls.sql.
-- The gateway's role may not change the clinical tables, but it may create objects in
-- schema `staging`, which contains no patient data. Which users may send DDL through the
-- gateway is the policies' decision (the demo lets DBAs do it on a just-in-time grant).

CREATE SCHEMA IF NOT EXISTS staging;
GRANT USAGE, CREATE ON SCHEMA staging TO portcullis_gateway;
