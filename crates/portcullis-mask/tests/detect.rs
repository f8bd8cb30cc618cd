//! PHI detectors on column names and sampled values.

use portcullis_mask::detect::MIN_MATCH_PERCENT;
use portcullis_mask::{classify_column_name, classify_value, classify_values, PhiCategory};

#[test]
fn column_names_of_the_demo_schema() {
    let cases: [(&str, &str, Option<PhiCategory>); 24] = [
        ("patients", "ssn", Some(PhiCategory::Ssn)),
        ("patients", "mrn", Some(PhiCategory::Mrn)),
        ("patients", "dob", Some(PhiCategory::Date)),
        ("patients", "first_name", Some(PhiCategory::Name)),
        ("patients", "last_name", Some(PhiCategory::Name)),
        ("patients", "phone", Some(PhiCategory::Phone)),
        ("patients", "email", Some(PhiCategory::Email)),
        ("patients", "zip", Some(PhiCategory::Geographic)),
        ("patients", "address", Some(PhiCategory::Geographic)),
        ("patients", "city", Some(PhiCategory::Geographic)),
        ("patients", "external_id", Some(PhiCategory::OtherUniqueId)),
        ("patients", "state", None),
        ("patients", "sex", None),
        ("encounters", "admitted_at", Some(PhiCategory::Date)),
        ("encounters", "discharged_at", Some(PhiCategory::Date)),
        ("encounters", "patient_id", Some(PhiCategory::OtherUniqueId)),
        ("diagnoses", "icd10_code", Some(PhiCategory::Diagnosis)),
        ("diagnoses", "description", Some(PhiCategory::Diagnosis)),
        ("medications", "drug", Some(PhiCategory::Medication)),
        ("medications", "dose", Some(PhiCategory::Medication)),
        ("lab_results", "value", Some(PhiCategory::LabResult)),
        ("lab_results", "resulted_at", Some(PhiCategory::Date)),
        ("clinical_notes", "body", Some(PhiCategory::ClinicalNote)),
        ("departments", "name", None),
    ];
    for (table, column, expected) in cases {
        assert_eq!(
            classify_column_name(Some(table), column),
            expected,
            "{table}.{column}"
        );
    }
}

#[test]
fn column_name_variants() {
    let cases: [(&str, Option<PhiCategory>); 22] = [
        ("SocialSecurityNumber", Some(PhiCategory::Ssn)),
        ("patient_ssn_last4", Some(PhiCategory::Ssn)),
        ("medical_record_number", Some(PhiCategory::Mrn)),
        ("DateOfBirth", Some(PhiCategory::Date)),
        ("birth_date", Some(PhiCategory::Date)),
        ("fax_number", Some(PhiCategory::Fax)),
        ("mobile_phone", Some(PhiCategory::Phone)),
        ("e_mail", Some(PhiCategory::Email)),
        ("health_plan_id", Some(PhiCategory::HealthPlanNumber)),
        ("medicaid_number", Some(PhiCategory::HealthPlanNumber)),
        ("account_number", Some(PhiCategory::AccountNumber)),
        ("drivers_license", Some(PhiCategory::LicenseNumber)),
        ("license_plate", Some(PhiCategory::VehicleId)),
        ("device_serial", Some(PhiCategory::DeviceId)),
        ("homepage_url", Some(PhiCategory::Url)),
        ("client_ip", Some(PhiCategory::IpAddress)),
        ("fingerprint_template", Some(PhiCategory::Biometric)),
        ("photo", Some(PhiCategory::Photo)),
        ("psychotherapy_note", Some(PhiCategory::PsychotherapyNote)),
        (
            "substance_use_history",
            Some(PhiCategory::SubstanceUseRecord),
        ),
        ("postalCode", Some(PhiCategory::Geographic)),
        ("created_at", None),
    ];
    for (column, expected) in cases {
        assert_eq!(classify_column_name(None, column), expected, "{column}");
    }
    assert_eq!(
        classify_column_name(Some("patients"), "name"),
        Some(PhiCategory::Name)
    );
    assert_eq!(
        classify_column_name(Some("patients"), "created_at"),
        Some(PhiCategory::Date)
    );
}

#[test]
fn single_values() {
    let cases: [(&str, Option<PhiCategory>); 22] = [
        ("900-12-3456", Some(PhiCategory::Ssn)),
        ("jane.doe42@example.org", Some(PhiCategory::Email)),
        ("https://portal.example.org/p/42", Some(PhiCategory::Url)),
        ("192.0.2.17", Some(PhiCategory::IpAddress)),
        ("2001:db8::1", Some(PhiCategory::IpAddress)),
        ("(617) 555-0142", Some(PhiCategory::Phone)),
        ("617-555-0142", Some(PhiCategory::Phone)),
        ("+1 617 555 0142", Some(PhiCategory::Phone)),
        ("02139", Some(PhiCategory::Geographic)),
        ("02139-4307", Some(PhiCategory::Geographic)),
        ("1984-03-15", Some(PhiCategory::Date)),
        ("1984-03-15 13:45:00+00", Some(PhiCategory::Date)),
        ("03/15/1984", Some(PhiCategory::Date)),
        ("E11.9", Some(PhiCategory::Diagnosis)),
        ("S06.0X0A", Some(PhiCategory::Diagnosis)),
        ("2345-7", Some(PhiCategory::LabResult)),
        ("MRN-1000037", Some(PhiCategory::Mrn)),
        ("1HGCM82633A004352", Some(PhiCategory::VehicleId)),
        ("Jane O'Brien", Some(PhiCategory::Name)),
        (
            "Seen for chest pain. Vital signs stable. Continue current plan.",
            Some(PhiCategory::ClinicalNote),
        ),
        ("Cardiology", None),
        ("1984-13-45", None),
    ];
    for (value, expected) in cases {
        assert_eq!(classify_value(value), expected, "{value:?}");
    }
}

#[test]
fn sampled_columns() {
    let ssns = ["900-12-3456", "912-01-0001", "999-99-9999", ""];
    let result = classify_values(ssns).unwrap();
    assert_eq!(result.category, PhiCategory::Ssn);
    assert_eq!(
        (result.matched, result.sampled),
        (3, 3),
        "empty values are not counted"
    );

    let names = [
        "Mary Smith",
        "James Chen",
        "Aisha Okafor",
        "Liam Murphy",
        "Unknown",
    ];
    assert_eq!(classify_values(names).unwrap().category, PhiCategory::Name);

    let departments = ["Cardiology", "Oncology", "Emergency Medicine", "Psychiatry"];
    assert_eq!(classify_values(departments), None);

    // Below the threshold: 3 of 5 values are ZIP codes.
    let mixed = ["02139", "10001", "94110", "n/a", "unknown"];
    const { assert!(3 * 100 < 5 * MIN_MATCH_PERCENT) };
    assert_eq!(classify_values(mixed), None);

    assert_eq!(classify_values(Vec::<&str>::new()), None);
}

#[test]
fn safe_harbor_letters() {
    assert_eq!(PhiCategory::Name.safe_harbor_letter(), Some('A'));
    assert_eq!(PhiCategory::OtherUniqueId.safe_harbor_letter(), Some('R'));
    assert_eq!(PhiCategory::ClinicalNote.safe_harbor_letter(), None);
}

#[test]
fn category_serde_names() {
    let cases = [
        (PhiCategory::HealthPlanNumber, "\"health_plan_number\""),
        (PhiCategory::IpAddress, "\"ip_address\""),
        (PhiCategory::SubstanceUseRecord, "\"substance_use_record\""),
        (PhiCategory::Ssn, "\"ssn\""),
    ];
    for (category, json) in cases {
        assert_eq!(serde_json::to_string(&category).unwrap(), json);
        assert_eq!(serde_json::from_str::<PhiCategory>(json).unwrap(), category);
    }
}
