-- Views the demo policies rely on. Load after schema.sql, as the owner of the
-- tables, then grant the gateway's role SELECT on them.
--
-- The gateway decides per table and column. Some users may not see some rows
-- at all: psychotherapy notes (45 CFR 164.508(a)(2)) and substance use disorder
-- records (42 CFR Part 2). A view leaves them out, and those users read the
-- view instead of the table. security_barrier keeps functions in a caller's WHERE clause
-- from seeing rows the view's own condition removes. security_invoker (PostgreSQL 15
-- and newer) checks the table's privileges and row-level security as the gateway's
-- role rather than as the view's owner: without it, an owner that bypasses row-level
-- security would show every department's notes through the view.
--
-- An alternative that needs no view: a row-level security policy on note_type
-- keyed to a setting the gateway passes at connection start, e.g.
--   CREATE POLICY note_access ON public.clinical_notes AS RESTRICTIVE
--       USING (note_type = ANY (pg_catalog.string_to_array(
--           pg_catalog.current_setting('portcullis.note_access', true), ',')));
-- That keeps clients on the table name but needs the gateway to derive
-- portcullis.note_access per user, which it does not do yet.

CREATE VIEW public.clinical_notes_general WITH (security_barrier, security_invoker = true) AS
    SELECT id, encounter_id, author_staff_id, note_type, body, written_at
    FROM public.clinical_notes
    WHERE note_type NOT IN ('psychotherapy', 'substance_use');

GRANT SELECT ON public.clinical_notes_general TO portcullis_gateway;
