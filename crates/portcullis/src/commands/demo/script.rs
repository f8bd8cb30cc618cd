//! The scenario's steps, in order: what each persona tries and what the gateway must
//! decide.

use super::lifecycle::Lifecycle;
use super::scenario::{Expect, Step, Work};

/// Duration of dave's just-in-time grant: long enough to connect and change the schema,
/// short enough that the demo can wait for it to expire.
const JIT_DURATION: &str = "6s";

/// Returns the scenario's steps in order.
pub fn steps() -> Vec<Step> {
    vec![
        Step {
            persona: "alice",
            action: "counts encounters per department",
            work: Work::Sql {
                sql: "SELECT d.code, count(*) FROM encounters e JOIN departments d ON d.id = e.department_id GROUP BY d.code ORDER BY d.code",
                expect: Expect::Rows { contains: &["cardiology"], absent: &["oncology", "psychiatry"] },
            },
            why: "The gateway set portcullis.department = cardiology on her upstream session, so the database's row-level security shows only cardiology encounters.",
        },
        Step {
            persona: "alice",
            action: "reads her patients, SSN included",
            work: Work::Sql {
                sql: "SELECT mrn, first_name, last_name, ssn FROM patients ORDER BY id LIMIT 3",
                expect: Expect::Rows { contains: &["****"], absent: &[] },
            },
            why: "Policy clinician.ssn-last-four lets clinicians see only the last four digits of an SSN; the gateway masked the column in every row.",
        },
        Step {
            persona: "alice",
            action: "writes a progress note",
            work: Work::Sql {
                sql: "INSERT INTO clinical_notes (encounter_id, author_staff_id, note_type, body, written_at) \
                      SELECT e.id, e.attending_staff_id, 'progress', 'Patient stable; continue current plan.', now() \
                      FROM encounters e ORDER BY e.id LIMIT 1",
                expect: Expect::Rows { contains: &[], absent: &[] },
            },
            why: "Policy clinician.write-notes permits inserting notes; row-level security keeps them in her department.",
        },
        Step {
            persona: "alice",
            action: "tries to read psychotherapy notes",
            work: Work::Sql {
                sql: "SELECT body FROM clinical_notes WHERE note_type = 'psychotherapy' LIMIT 1",
                expect: Expect::Refused { error: "permission denied by the gateway" },
            },
            why: "Clinicians read notes only through clinical_notes_general, which leaves out psychotherapy and substance-use notes.",
        },
        Step {
            persona: "bob",
            action: "reads claims with patient names",
            work: Work::Sql {
                sql: "SELECT c.cpt_code, c.amount, p.first_name, p.last_name FROM claims c \
                      JOIN encounters e ON e.id = c.encounter_id JOIN patients p ON p.id = e.patient_id ORDER BY c.id LIMIT 3",
                expect: Expect::Rows { contains: &["cpt_code"], absent: &[] },
            },
            why: "Billing sees claims with the patient's name and address, across departments.",
        },
        Step {
            persona: "bob",
            action: "tries to read clinical notes",
            work: Work::Sql {
                sql: "SELECT body FROM clinical_notes LIMIT 1",
                expect: Expect::Refused { error: "permission denied by the gateway" },
            },
            why: "Policy billing.forbid-note-tables keeps clinical notes from billing.",
        },
        Step {
            persona: "carol",
            action: "reads patients for a study",
            work: Work::Sql {
                sql: "SELECT mrn, dob, zip FROM patients ORDER BY id LIMIT 3",
                expect: Expect::Rows { contains: &["tok_", "-01-01"], absent: &[] },
            },
            why: "Safe Harbor de-identification: identifiers become keyed tokens, dates their year, ZIP codes their first three digits.",
        },
        Step {
            persona: "carol",
            action: "tries to find patients by SSN",
            work: Work::Sql {
                sql: "SELECT count(*) FROM patients WHERE ssn LIKE '900%'",
                expect: Expect::Refused { error: "permission denied by the gateway" },
            },
            why: "A masked column cannot appear in WHERE: the filter would reveal what the mask hides.",
        },
        Step {
            persona: "dave",
            action: "tries to connect without a just-in-time grant",
            work: Work::Sql {
                sql: "SELECT first_name FROM patients LIMIT 1",
                expect: Expect::Refused { error: "no access to target" },
            },
            why: "Dave holds no standing role, and policy dba.connect-jit lets DBAs connect only through a just-in-time grant. His token is valid, so the gateway says he has no access without saying whether the target exists; the audit log has the real reason.",
        },
        Step {
            persona: "dave",
            action: "requests the dba role for a few seconds",
            work: Work::Lifecycle(Lifecycle::RequestAccess { duration: JIT_DURATION, reason: "Create the staging table for the lab results import" }),
            why: "Role dba is requestable ([access.roles.dba]): one approval from a security officer, at most 1 hour. The demo asks for seconds so that the grant expires while you watch.",
        },
        Step {
            persona: "erin",
            action: "approves dave's request",
            work: Work::Lifecycle(Lifecycle::ApproveRequest),
            why: "Erin holds role security_officer, is not the requester, and logged in with password and TOTP within access.approver_mfa_max_age (15 minutes). The approval raises an alert.",
        },
        Step {
            persona: "dave",
            action: "changes the schema, and his session outlives the grant",
            work: Work::Lifecycle(Lifecycle::OutliveGrant {
                statements: &[
                    "CREATE TABLE staging.lab_import (loinc_code varchar(10) NOT NULL, value numeric NOT NULL, unit text NOT NULL, received_at timestamptz NOT NULL DEFAULT now())",
                    "SELECT pg_sleep(60)",
                ],
            }),
            why: "The grant gives dave role dba with via_jit set, so policy dba.administer-jit permits DDL. When the grant expires, the revocation watcher ends every session that depended on it within a second.",
        },
        Step {
            persona: "dave",
            action: "reconnects after the grant expired",
            work: Work::Sql {
                sql: "SELECT 1",
                expect: Expect::Refused { error: "no access to target" },
            },
            why: "Without a grant in force dave is back to no access; the message points him at `portcullis request list` and `request create`.",
        },
        Step {
            persona: "erin",
            action: "tries to read patient records",
            work: Work::Sql {
                sql: "SELECT count(*) FROM patients",
                expect: Expect::Refused { error: "permission denied by the gateway" },
            },
            why: "The security officer reviews the audit log, not PHI.",
        },
        Step {
            persona: "frank",
            action: "tries to read a patient's record without emergency access",
            work: Work::Sql {
                sql: "SELECT mrn, first_name, last_name FROM patients ORDER BY id LIMIT 1",
                expect: Expect::Refused { error: "no access to target" },
            },
            why: "Frank holds only role on_call, which lets him break the glass but grants no access by itself.",
        },
        Step {
            persona: "frank",
            action: "breaks the glass",
            work: Work::Lifecycle(Lifecycle::BreakGlass { reason: "Unconscious patient in the ED, medication history needed" }),
            why: "Members of on_call may self-grant role emergency ([break_glass]) with a reason, their password and a TOTP code not used before, without anyone's approval and without the HTTP API.",
        },
        Step {
            persona: "frank",
            action: "reads the patient's record under break-glass",
            work: Work::Sql {
                sql: "SELECT mrn, first_name, last_name, ssn FROM patients ORDER BY id LIMIT 2",
                expect: Expect::Rows { contains: &[" | 9"], absent: &["****", "tok_"] },
            },
            why: "Policy emergency.break-glass-select permits role emergency to read unmasked records while via_break_glass is set. Every statement of the session is audited in full and marked break_glass.",
        },
        Step {
            persona: "erin",
            action: "lists the open break-glass reviews",
            work: Work::Lifecycle(Lifecycle::ReportReviews),
            why: "Each break-glass use opens a post-incident review that stays open until a reviewer closes it.",
        },
        Step {
            persona: "erin",
            action: "closes the review with her findings",
            work: Work::Lifecycle(Lifecycle::CloseReview { notes: "Confirmed with the ED charge nurse: patient admitted unconscious at 02:10; access justified." }),
            why: "Security officers are the break-glass reviewers (break_glass.reviewers); frank could not close his own review.",
        },
    ]
}
