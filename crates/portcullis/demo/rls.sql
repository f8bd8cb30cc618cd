-- The gateway's database role and row-level security for the demo EHR schema. Load
-- after schema.sql and data.sql, as the owner of the tables.
--
-- Design:
--
-- * The gateway connects as `portcullis_gateway`: a login role that is not a
--   superuser, does not own the tables and lacks BYPASSRLS, so every policy below
--   applies to it. It may read every table and insert and update clinical rows. It
--   may not delete, truncate or change the schema, because medical records are
--   amended rather than deleted.
-- * For each user the gateway sets `portcullis.department` to a department code
--   (`cardiology`), a comma-separated list of codes (`cardiology,emergency`), or `*`
--   for all departments (billing, research, break-glass). Unset or empty, no
--   department-scoped row is visible, so a session the gateway forgot to scope sees
--   nothing. Setting it in the startup packet (`options=-c portcullis.department=...`)
--   keeps it across RESET ALL and DISCARD ALL.
-- * Any user may change a `portcullis.*` setting with SET or set_config(), so the
--   gateway must reject client statements that do. The database cannot tell the
--   gateway's SET from a client's.
-- * Encounters are visible in their own department. Diagnoses, medications, lab
--   results, clinical notes and claims follow their encounter. A patient is visible to
--   their primary department and to every department with one of their encounters,
--   because a clinician treating the patient needs the demographics.
-- * Departments and staff are a directory without patient data and have no policy.
-- * The tables do not use FORCE ROW LEVEL SECURITY: the owner, who loads data and runs
--   migrations, needs every row, and superusers bypass row-level security even when
--   forced. The gateway is never the owner.
--
-- The password of portcullis_gateway comes from the `portcullis.gateway_password`
-- setting of the loading session, so the caller can pass it as a bind parameter
-- (`SELECT set_config('portcullis.gateway_password', $1, false)`) instead of quoting
-- it into SQL text. Without it the role exists with no password and cannot log in
-- with password authentication. The setting is cleared once used.

DO $$
DECLARE
    gateway_password text := current_setting('portcullis.gateway_password', true);
BEGIN
    -- Roles belong to the whole cluster, so a second demo database reuses the role.
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'portcullis_gateway') THEN
        CREATE ROLE portcullis_gateway LOGIN;
    END IF;
    ALTER ROLE portcullis_gateway
        LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
    IF gateway_password IS NOT NULL AND gateway_password <> '' THEN
        EXECUTE format('ALTER ROLE portcullis_gateway PASSWORD %L', gateway_password);
        PERFORM pg_catalog.set_config('portcullis.gateway_password', '', false);
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO portcullis_gateway;
GRANT SELECT ON public.departments, public.staff, public.patients, public.encounters,
    public.diagnoses, public.medications, public.lab_results, public.clinical_notes,
    public.claims TO portcullis_gateway;
GRANT INSERT, UPDATE ON public.patients, public.encounters, public.diagnoses,
    public.medications, public.lab_results, public.clinical_notes, public.claims
    TO portcullis_gateway;
GRANT USAGE ON SEQUENCE public.patients_id_seq, public.encounters_id_seq,
    public.diagnoses_id_seq, public.medications_id_seq, public.lab_results_id_seq,
    public.clinical_notes_id_seq, public.claims_id_seq TO portcullis_gateway;

-- Ids of the departments the session may see, from `portcullis.department`. The
-- policies call it in uncorrelated subqueries, which the planner runs once per
-- statement, not once per row.
CREATE FUNCTION public.portcullis_visible_departments() RETURNS SETOF integer
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
        SELECT d.id
        FROM public.departments AS d
        WHERE pg_catalog.current_setting('portcullis.department', true) = '*'
           OR d.code = ANY (pg_catalog.string_to_array(
                  pg_catalog.current_setting('portcullis.department', true), ','))
    $$;
REVOKE ALL ON FUNCTION public.portcullis_visible_departments() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.portcullis_visible_departments() TO portcullis_gateway;

-- Ids of the encounters the session may see.
CREATE FUNCTION public.portcullis_visible_encounters() RETURNS SETOF integer
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
        SELECT e.id
        FROM public.encounters AS e
        WHERE e.department_id IN (SELECT public.portcullis_visible_departments())
    $$;
REVOKE ALL ON FUNCTION public.portcullis_visible_encounters() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.portcullis_visible_encounters() TO portcullis_gateway;

ALTER TABLE public.encounters ENABLE ROW LEVEL SECURITY;
CREATE POLICY department_scope ON public.encounters
    USING (department_id IN (SELECT public.portcullis_visible_departments()))
    WITH CHECK (department_id IN (SELECT public.portcullis_visible_departments()));

ALTER TABLE public.patients ENABLE ROW LEVEL SECURITY;
CREATE POLICY department_scope ON public.patients
    USING (primary_department_id IN (SELECT public.portcullis_visible_departments())
           OR id IN (SELECT e.patient_id FROM public.encounters AS e
                     WHERE e.department_id IN (SELECT public.portcullis_visible_departments())))
    WITH CHECK (primary_department_id IN (SELECT public.portcullis_visible_departments())
                OR id IN (SELECT e.patient_id FROM public.encounters AS e
                          WHERE e.department_id IN (SELECT public.portcullis_visible_departments())));

ALTER TABLE public.diagnoses ENABLE ROW LEVEL SECURITY;
CREATE POLICY department_scope ON public.diagnoses
    USING (encounter_id IN (SELECT public.portcullis_visible_encounters()))
    WITH CHECK (encounter_id IN (SELECT public.portcullis_visible_encounters()));

ALTER TABLE public.medications ENABLE ROW LEVEL SECURITY;
CREATE POLICY department_scope ON public.medications
    USING (encounter_id IN (SELECT public.portcullis_visible_encounters()))
    WITH CHECK (encounter_id IN (SELECT public.portcullis_visible_encounters()));

ALTER TABLE public.lab_results ENABLE ROW LEVEL SECURITY;
CREATE POLICY department_scope ON public.lab_results
    USING (encounter_id IN (SELECT public.portcullis_visible_encounters()))
    WITH CHECK (encounter_id IN (SELECT public.portcullis_visible_encounters()));

ALTER TABLE public.clinical_notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY department_scope ON public.clinical_notes
    USING (encounter_id IN (SELECT public.portcullis_visible_encounters()))
    WITH CHECK (encounter_id IN (SELECT public.portcullis_visible_encounters()));

ALTER TABLE public.claims ENABLE ROW LEVEL SECURITY;
CREATE POLICY department_scope ON public.claims
    USING (encounter_id IN (SELECT public.portcullis_visible_encounters()))
    WITH CHECK (encounter_id IN (SELECT public.portcullis_visible_encounters()));
