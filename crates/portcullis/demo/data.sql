-- Deterministic synthetic data for the demo EHR schema (schema.sql).
--
-- Every value derives from row ids through the integer hash pg_temp.h below. Nothing
-- calls random(), reads the clock or depends on the session time zone, so each load
-- produces the same rows. The demo_database test in portcullis-mask loads the files
-- twice and compares checksums of every table.
--
-- The data describes no real person. Names are random pairs from common-name lists.
-- SSNs use only area numbers 900-999, which the Social Security Administration never
-- assigns. IRS taxpayer numbers (ITIN, IRSN, ATIN) also start with 9 but use group
-- numbers 01-10, 17-19, 28-29, 37-39, 50-65, 70-88 and 90-99, so the SSNs here use
-- groups 40-49 only. Phone numbers use only 555-0100 to 555-0199, the range reserved
-- for fiction, and e-mail addresses use the example.org domain reserved by RFC 2606.
--
-- Sizes: 8 departments, 120 staff, 5,000 patients, 20,000 encounters, about 40,000
-- diagnoses, 20,000 medications, 50,000 lab results, 30,000 clinical notes and
-- 30,000 claims.

-- Helpers live in the session's temporary schema and vanish with the session.

-- One round of mixing on [0, 2^31 - 2]: XOR with a constant, then a multiplication
-- modulo the prime 2^31 - 1. Products stay below 2^48, so bigint never overflows. Each
-- parameter appears once, which lets the planner inline the calls. Three rounds gave
-- evenly spread low digits, uncorrelated between consecutive row numbers and salts,
-- in a check of 100,000 rows (PostgreSQL 15).
CREATE FUNCTION pg_temp.mix(x bigint, mask bigint, multiplier bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT (($1 # $2) * $3) % 2147483647 $$;

-- Pseudo-random non-negative integer below 2^31 - 1 for row number `n` and a `salt`
-- that distinguishes the columns drawn from one row.
CREATE FUNCTION pg_temp.h(n bigint, salt integer) RETURNS bigint
    LANGUAGE sql IMMUTABLE
    AS $$
        SELECT pg_temp.mix(pg_temp.mix(pg_temp.mix(
                   ($1 * 7919 + $2 * 104729 + 12345) % 2147483647,
                   1431655765, 48271), 715827882, 69621), 1227133513, 48271)
    $$;

-- Element `n` modulo the array length (arrays are 1-based).
CREATE FUNCTION pg_temp.pick(choices text[], n bigint) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT $1[1 + ($2 % cardinality($1))::integer] $$;

CREATE TEMPORARY TABLE female_names (names text[]);
INSERT INTO pg_temp.female_names VALUES (ARRAY[
    'Mary', 'Patricia', 'Jennifer', 'Linda', 'Elizabeth', 'Barbara', 'Susan', 'Jessica',
    'Sarah', 'Karen', 'Lisa', 'Nancy', 'Betty', 'Margaret', 'Sandra', 'Ashley',
    'Kimberly', 'Emily', 'Donna', 'Michelle', 'Carol', 'Amanda', 'Melissa', 'Deborah',
    'Stephanie', 'Maria', 'Ana', 'Mei', 'Priya', 'Fatima', 'Olivia', 'Emma', 'Sophia',
    'Aisha', 'Grace', 'Hannah', 'Rosa', 'Yuki', 'Nadia', 'Chloe']);

CREATE TEMPORARY TABLE male_names (names text[]);
INSERT INTO pg_temp.male_names VALUES (ARRAY[
    'James', 'Robert', 'John', 'Michael', 'David', 'William', 'Richard', 'Joseph',
    'Thomas', 'Charles', 'Christopher', 'Daniel', 'Matthew', 'Anthony', 'Mark',
    'Donald', 'Steven', 'Paul', 'Andrew', 'Joshua', 'Kenneth', 'Kevin', 'Brian',
    'George', 'Timothy', 'Jose', 'Luis', 'Wei', 'Raj', 'Ahmed', 'Liam', 'Noah', 'Mateo',
    'Kwame', 'Samuel', 'Ethan', 'Omar', 'Hiroshi', 'Ivan', 'Diego']);

CREATE TEMPORARY TABLE last_names (names text[]);
INSERT INTO pg_temp.last_names VALUES (ARRAY[
    'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis',
    'Rodriguez', 'Martinez', 'Hernandez', 'Lopez', 'Gonzalez', 'Wilson', 'Anderson',
    'Taylor', 'Moore', 'Jackson', 'Martin', 'Lee', 'Perez', 'Thompson', 'White',
    'Harris', 'Sanchez', 'Clark', 'Ramirez', 'Lewis', 'Robinson', 'Walker', 'Young',
    'Allen', 'King', 'Wright', 'Scott', 'Torres', 'Nguyen', 'Hill', 'Flores', 'Green',
    'Adams', 'Nelson', 'Baker', 'Hall', 'Rivera', 'Campbell', 'Mitchell', 'Carter',
    'Roberts', 'Chen', 'Wang', 'Kim', 'Patel', 'Singh', 'Cohen', 'Murphy', 'O''Brien',
    'Okafor', 'Tanaka', 'Kowalski']);

-- Cities with their state, 3-digit ZIP prefix and area code. The first six are the
-- hospital's local area and get half of the patients. Prefixes 036, 059, 063, 556,
-- 692, 790, 823, 830, 878, 879 and 893 are HIPAA Safe Harbor restricted prefixes,
-- which the zip3 mask turns into 000.
CREATE TEMPORARY TABLE cities (n integer PRIMARY KEY, city text, state text, zip3 text, area_code text);
INSERT INTO pg_temp.cities VALUES
    (0, 'Boston', 'MA', '021', '617'),
    (1, 'Cambridge', 'MA', '021', '617'),
    (2, 'Quincy', 'MA', '021', '617'),
    (3, 'Worcester', 'MA', '016', '508'),
    (4, 'Lowell', 'MA', '018', '978'),
    (5, 'Providence', 'RI', '029', '401'),
    (6, 'Springfield', 'MA', '011', '413'),
    (7, 'Hartford', 'CT', '061', '860'),
    (8, 'New London', 'CT', '063', '860'),
    (9, 'Claremont', 'NH', '036', '603'),
    (10, 'Island Pond', 'VT', '059', '802'),
    (11, 'Burlington', 'VT', '054', '802'),
    (12, 'Albany', 'NY', '122', '518'),
    (13, 'Brooklyn', 'NY', '112', '718'),
    (14, 'Philadelphia', 'PA', '191', '215'),
    (15, 'Baltimore', 'MD', '212', '410'),
    (16, 'Washington', 'DC', '200', '202'),
    (17, 'Atlanta', 'GA', '303', '404'),
    (18, 'Chicago', 'IL', '606', '312'),
    (19, 'Grand Marais', 'MN', '556', '218'),
    (20, 'Valentine', 'NE', '692', '402'),
    (21, 'Pampa', 'TX', '790', '806'),
    (22, 'Rawlins', 'WY', '823', '307'),
    (23, 'Jackson', 'WY', '830', '307'),
    (24, 'Socorro', 'NM', '878', '575'),
    (25, 'Truth or Consequences', 'NM', '879', '575'),
    (26, 'Ely', 'NV', '893', '775'),
    (27, 'Denver', 'CO', '802', '303'),
    (28, 'Seattle', 'WA', '981', '206'),
    (29, 'San Francisco', 'CA', '941', '415');

-- Department-specific reference data, `n` counting from 0 within each department.
CREATE TEMPORARY TABLE visit_reasons (department_id integer, n integer, reason text, PRIMARY KEY (department_id, n));
INSERT INTO pg_temp.visit_reasons VALUES
    (1, 0, 'Chest pain'), (1, 1, 'Shortness of breath'), (1, 2, 'Palpitations'), (1, 3, 'Hypertension follow-up'), (1, 4, 'Syncope'),
    (2, 0, 'Chemotherapy cycle'), (2, 1, 'Neutropenic fever'), (2, 2, 'Cancer staging visit'), (2, 3, 'Radiation therapy'), (2, 4, 'Cancer pain management'),
    (3, 0, 'Fall with wrist pain'), (3, 1, 'Abdominal pain'), (3, 2, 'Head injury'), (3, 3, 'Allergic reaction'), (3, 4, 'Laceration'),
    (4, 0, 'Depressive symptoms'), (4, 1, 'Anxiety'), (4, 2, 'Medication management'), (4, 3, 'Alcohol withdrawal'), (4, 4, 'Crisis evaluation'),
    (5, 0, 'Well-child visit'), (5, 1, 'Ear pain'), (5, 2, 'Asthma exacerbation'), (5, 3, 'Fever'), (5, 4, 'Rash'),
    (6, 0, 'Diabetes follow-up'), (6, 1, 'Cough and fever'), (6, 2, 'Fatigue'), (6, 3, 'Annual physical'), (6, 4, 'Kidney function review'),
    (7, 0, 'Knee pain'), (7, 1, 'Hip fracture'), (7, 2, 'Back pain'), (7, 3, 'Shoulder injury'), (7, 4, 'Post-operative check'),
    (8, 0, 'Seizure'), (8, 1, 'Migraine'), (8, 2, 'Stroke symptoms'), (8, 3, 'Numbness and tingling'), (8, 4, 'Tremor');

-- ICD-10-CM codes and their descriptions, 6 per department.
CREATE TEMPORARY TABLE icd10_codes (department_id integer, n integer, code text, description text, PRIMARY KEY (department_id, n));
INSERT INTO pg_temp.icd10_codes VALUES
    (1, 0, 'I10', 'Essential (primary) hypertension'),
    (1, 1, 'I21.4', 'Non-ST elevation (NSTEMI) myocardial infarction'),
    (1, 2, 'I48.91', 'Unspecified atrial fibrillation'),
    (1, 3, 'I50.9', 'Heart failure, unspecified'),
    (1, 4, 'I25.10', 'Atherosclerotic heart disease of native coronary artery without angina pectoris'),
    (1, 5, 'R07.9', 'Chest pain, unspecified'),
    (2, 0, 'C50.911', 'Malignant neoplasm of unspecified site of right female breast'),
    (2, 1, 'C34.90', 'Malignant neoplasm of unspecified part of unspecified bronchus or lung'),
    (2, 2, 'C18.9', 'Malignant neoplasm of colon, unspecified'),
    (2, 3, 'C61', 'Malignant neoplasm of prostate'),
    (2, 4, 'D64.81', 'Anemia due to antineoplastic chemotherapy'),
    (2, 5, 'R11.0', 'Nausea'),
    (3, 0, 'S52.501A', 'Unspecified fracture of the lower end of right radius, initial encounter for closed fracture'),
    (3, 1, 'R10.9', 'Unspecified abdominal pain'),
    (3, 2, 'S06.0X0A', 'Concussion without loss of consciousness, initial encounter'),
    (3, 3, 'T78.40XA', 'Allergy, unspecified, initial encounter'),
    (3, 4, 'S01.81XA', 'Laceration without foreign body of other part of head, initial encounter'),
    (3, 5, 'R55', 'Syncope and collapse'),
    (4, 0, 'F32.9', 'Major depressive disorder, single episode, unspecified'),
    (4, 1, 'F41.1', 'Generalized anxiety disorder'),
    (4, 2, 'F43.10', 'Post-traumatic stress disorder, unspecified'),
    (4, 3, 'F31.9', 'Bipolar disorder, unspecified'),
    (4, 4, 'F10.20', 'Alcohol dependence, uncomplicated'),
    (4, 5, 'F11.20', 'Opioid dependence, uncomplicated'),
    (5, 0, 'J45.909', 'Unspecified asthma, uncomplicated'),
    (5, 1, 'H66.90', 'Otitis media, unspecified, unspecified ear'),
    (5, 2, 'J21.9', 'Acute bronchiolitis, unspecified'),
    (5, 3, 'Z00.129', 'Encounter for routine child health examination without abnormal findings'),
    (5, 4, 'R50.9', 'Fever, unspecified'),
    (5, 5, 'L20.9', 'Atopic dermatitis, unspecified'),
    (6, 0, 'E11.9', 'Type 2 diabetes mellitus without complications'),
    (6, 1, 'E78.5', 'Hyperlipidemia, unspecified'),
    (6, 2, 'J44.9', 'Chronic obstructive pulmonary disease, unspecified'),
    (6, 3, 'N18.30', 'Chronic kidney disease, stage 3 unspecified'),
    (6, 4, 'J18.9', 'Pneumonia, unspecified organism'),
    (6, 5, 'E03.9', 'Hypothyroidism, unspecified'),
    (7, 0, 'M17.11', 'Unilateral primary osteoarthritis, right knee'),
    (7, 1, 'S72.001A', 'Fracture of unspecified part of neck of right femur, initial encounter for closed fracture'),
    (7, 2, 'M54.50', 'Low back pain, unspecified'),
    (7, 3, 'M75.101', 'Unspecified rotator cuff tear or rupture of right shoulder, not specified as traumatic'),
    (7, 4, 'S83.511A', 'Sprain of anterior cruciate ligament of right knee, initial encounter'),
    (7, 5, 'M81.0', 'Age-related osteoporosis without current pathological fracture'),
    (8, 0, 'G40.909', 'Epilepsy, unspecified, not intractable, without status epilepticus'),
    (8, 1, 'G43.909', 'Migraine, unspecified, not intractable, without status migrainosus'),
    (8, 2, 'I63.9', 'Cerebral infarction, unspecified'),
    (8, 3, 'G35', 'Multiple sclerosis'),
    (8, 4, 'G20', 'Parkinson''s disease'),
    (8, 5, 'G47.33', 'Obstructive sleep apnea (adult) (pediatric)');

-- RxNorm ingredient codes with a drug name and an order, 4 per department.
CREATE TEMPORARY TABLE rxnorm_orders (department_id integer, n integer, code text, drug text, dose text, PRIMARY KEY (department_id, n));
INSERT INTO pg_temp.rxnorm_orders VALUES
    (1, 0, '83367', 'atorvastatin', '40 mg oral daily'),
    (1, 1, '6918', 'metoprolol', '25 mg oral twice daily'),
    (1, 2, '29046', 'lisinopril', '10 mg oral daily'),
    (1, 3, '32968', 'clopidogrel', '75 mg oral daily'),
    (2, 0, '10324', 'tamoxifen', '20 mg oral daily'),
    (2, 1, '3002', 'cyclophosphamide', '600 mg/m2 IV every 21 days'),
    (2, 2, '26225', 'ondansetron', '8 mg oral every 8 hours as needed'),
    (2, 3, '6851', 'methotrexate', '15 mg oral weekly'),
    (3, 0, '161', 'acetaminophen', '1000 mg oral once'),
    (3, 1, '5640', 'ibuprofen', '600 mg oral once'),
    (3, 2, '7052', 'morphine', '4 mg IV once'),
    (3, 3, '2193', 'ceftriaxone', '1 g IV once'),
    (4, 0, '36437', 'sertraline', '50 mg oral daily'),
    (4, 1, '51272', 'quetiapine', '100 mg oral at bedtime'),
    (4, 2, '6448', 'lithium carbonate', '300 mg oral twice daily'),
    (4, 3, '1819', 'buprenorphine', '8 mg sublingual daily'),
    (5, 0, '723', 'amoxicillin', '45 mg/kg/day oral in 2 doses'),
    (5, 1, '435', 'albuterol', '2 puffs inhaled every 4 hours as needed'),
    (5, 2, '161', 'acetaminophen', '15 mg/kg oral every 6 hours as needed'),
    (5, 3, '5640', 'ibuprofen', '10 mg/kg oral every 8 hours as needed'),
    (6, 0, '6809', 'metformin', '500 mg oral twice daily'),
    (6, 1, '274783', 'insulin glargine', '20 units subcutaneous at bedtime'),
    (6, 2, '17767', 'amlodipine', '5 mg oral daily'),
    (6, 3, '4603', 'furosemide', '40 mg oral daily'),
    (7, 0, '7804', 'oxycodone', '5 mg oral every 6 hours as needed'),
    (7, 1, '67108', 'enoxaparin', '40 mg subcutaneous daily'),
    (7, 2, '2180', 'cefazolin', '2 g IV before surgery'),
    (7, 3, '5640', 'ibuprofen', '800 mg oral three times daily'),
    (8, 0, '114477', 'levetiracetam', '500 mg oral twice daily'),
    (8, 1, '25480', 'gabapentin', '300 mg oral three times daily'),
    (8, 2, '37418', 'sumatriptan', '50 mg oral as needed'),
    (8, 3, '8640', 'prednisone', '60 mg oral daily');

-- LOINC codes with their unit, plausible range and decimal places.
CREATE TEMPORARY TABLE loinc_tests (n integer PRIMARY KEY, code text, unit text, low numeric, high numeric, decimals integer);
INSERT INTO pg_temp.loinc_tests VALUES
    (0, '2345-7', 'mg/dL', 65, 250, 0),       -- glucose
    (1, '2951-2', 'mmol/L', 128, 150, 0),     -- sodium
    (2, '2823-3', 'mmol/L', 3.0, 5.8, 1),     -- potassium
    (3, '2160-0', 'mg/dL', 0.5, 2.5, 2),      -- creatinine
    (4, '718-7', 'g/dL', 8.5, 17.5, 1),       -- hemoglobin
    (5, '6690-2', '10*3/uL', 2.5, 18.0, 1),   -- leukocytes
    (6, '777-3', '10*3/uL', 90, 450, 0),      -- platelets
    (7, '4548-4', '%', 4.5, 11.0, 1),         -- hemoglobin A1c
    (8, '2093-3', 'mg/dL', 120, 300, 0),      -- cholesterol
    (9, '10839-9', 'ng/mL', 0.00, 2.50, 2),   -- troponin I
    (10, '33762-6', 'pg/mL', 20, 5000, 0),    -- NT-proBNP
    (11, '1742-6', 'U/L', 7, 120, 0),         -- ALT
    (12, '3016-3', 'mIU/L', 0.2, 8.0, 2),     -- TSH
    (13, '2857-1', 'ng/mL', 0.1, 12.0, 1),    -- PSA
    (14, '5902-2', 's', 10.0, 20.0, 1),       -- prothrombin time
    (15, '6301-6', '{INR}', 0.8, 3.5, 1);     -- INR

-- CPT codes with a base charge, 4 per department.
CREATE TEMPORARY TABLE cpt_charges (department_id integer, n integer, code text, base numeric, PRIMARY KEY (department_id, n));
INSERT INTO pg_temp.cpt_charges VALUES
    (1, 0, '99214', 180), (1, 1, '93000', 60), (1, 2, '93306', 450), (1, 3, '92928', 9500),
    (2, 0, '96413', 700), (2, 1, '77385', 1200), (2, 2, '85025', 35), (2, 3, '99215', 250),
    (3, 0, '99283', 400), (3, 1, '99284', 700), (3, 2, '99285', 1100), (3, 3, '70450', 900),
    (4, 0, '90791', 300), (4, 1, '90834', 160), (4, 2, '90837', 220), (4, 3, '99214', 180),
    (5, 0, '99392', 200), (5, 1, '90460', 40), (5, 2, '99213', 130), (5, 3, '87880', 30),
    (6, 0, '99213', 130), (6, 1, '99214', 180), (6, 2, '80053', 45), (6, 3, '71046', 120),
    (7, 0, '27447', 22000), (7, 1, '29881', 6000), (7, 2, '73721', 1400), (7, 3, '99213', 130),
    (8, 0, '95816', 650), (8, 1, '70551', 1600), (8, 2, '99215', 250), (8, 3, '95910', 500);

INSERT INTO public.departments (id, code, name) VALUES
    (1, 'cardiology', 'Cardiology'),
    (2, 'oncology', 'Oncology'),
    (3, 'emergency', 'Emergency Medicine'),
    (4, 'psychiatry', 'Psychiatry'),
    (5, 'pediatrics', 'Pediatrics'),
    (6, 'internal_medicine', 'Internal Medicine'),
    (7, 'orthopedics', 'Orthopedics'),
    (8, 'neurology', 'Neurology');

-- 15 staff per department: staff `id` works in department 1 + (id - 1) % 8, so the
-- staff of department d have ids d, d + 8, ..., d + 112.
INSERT INTO public.staff (id, department_id, first_name, last_name, role, email)
SELECT id, department_id, first_name, last_name, role,
       lower(regexp_replace(first_name, '[^A-Za-z]', '', 'g')) || '.'
           || lower(regexp_replace(last_name, '[^A-Za-z]', '', 'g')) || '.staff' || id || '@example.org'
FROM (
    SELECT id,
           1 + (id - 1) % 8 AS department_id,
           CASE WHEN pg_temp.h(id, 101) % 2 = 0
                THEN pg_temp.pick((SELECT names FROM pg_temp.female_names), pg_temp.h(id, 102))
                ELSE pg_temp.pick((SELECT names FROM pg_temp.male_names), pg_temp.h(id, 102)) END AS first_name,
           pg_temp.pick((SELECT names FROM pg_temp.last_names), pg_temp.h(id, 103)) AS last_name,
           CASE WHEN (id - 1) / 8 < 5 THEN 'physician'
                WHEN (id - 1) / 8 < 11 THEN 'nurse'
                WHEN (id - 1) / 8 < 13 AND 1 + (id - 1) % 8 = 4 THEN 'therapist'
                WHEN (id - 1) / 8 < 13 THEN 'technician'
                ELSE 'pharmacist' END AS role
    FROM generate_series(1, 120) AS id
) AS staff_rows;

INSERT INTO public.patients (id, external_id, mrn, first_name, last_name, dob, sex, ssn, address,
                             city, state, zip, phone, email, deceased, primary_department_id)
SELECT p.id,
       -- A version 4 UUID layout built from hashes.
       (lpad(to_hex(pg_temp.h(p.id, 11)), 8, '0') || '-'
        || substr(lpad(to_hex(pg_temp.h(p.id, 12)), 8, '0'), 1, 4) || '-4'
        || substr(lpad(to_hex(pg_temp.h(p.id, 12)), 8, '0'), 6, 3) || '-'
        || to_hex(8 + pg_temp.h(p.id, 13) % 4)
        || substr(lpad(to_hex(pg_temp.h(p.id, 13)), 8, '0'), 2, 3) || '-'
        || lpad(to_hex(pg_temp.h(p.id, 14)), 8, '0')
        || substr(lpad(to_hex(pg_temp.h(p.id, 15)), 8, '0'), 1, 4))::uuid,
       'MRN-' || (1000000 + p.id * 37)::text,
       p.first_name,
       p.last_name,
       CASE WHEN p.department_id = 5
            THEN date '2006-01-01' + (pg_temp.h(p.id, 16) % 4380)::integer
            ELSE date '1932-01-01' + (pg_temp.h(p.id, 16) % 25000)::integer END,
       p.sex,
       CASE WHEN pg_temp.h(p.id, 17) % 100 < 3 THEN NULL
            ELSE (900 + pg_temp.h(p.id, 18) % 100)::text || '-'
                 || (40 + pg_temp.h(p.id, 19) % 10)::text || '-'
                 || lpad((1 + pg_temp.h(p.id, 20) % 9999)::text, 4, '0') END,
       (1 + pg_temp.h(p.id, 21) % 9899)::text || ' '
           || pg_temp.pick(ARRAY['Maple', 'Oak', 'Pine', 'Cedar', 'Elm', 'Washington', 'Lake', 'Hill',
                                 'Park', 'Main', 'Church', 'High', 'Spring', 'Chestnut', 'Walnut',
                                 'River', 'Sunset', 'Highland', 'Mill', 'Union'], pg_temp.h(p.id, 22)) || ' '
           || pg_temp.pick(ARRAY['St', 'Ave', 'Rd', 'Ln', 'Dr', 'Ct', 'Way', 'Pl'], pg_temp.h(p.id, 23)),
       c.city,
       c.state,
       c.zip3 || lpad((pg_temp.h(p.id, 24) % 100)::text, 2, '0'),
       CASE WHEN pg_temp.h(p.id, 25) % 100 < 5 THEN NULL
            ELSE '(' || c.area_code || ') 555-01' || lpad((pg_temp.h(p.id, 26) % 100)::text, 2, '0') END,
       CASE WHEN pg_temp.h(p.id, 27) % 10 = 0 THEN NULL
            ELSE lower(regexp_replace(p.first_name, '[^A-Za-z]', '', 'g')) || '.'
                 || lower(regexp_replace(p.last_name, '[^A-Za-z]', '', 'g')) || p.id || '@example.org' END,
       pg_temp.h(p.id, 28) % 100 < 2,
       p.department_id
FROM (
    SELECT id, sex, department_id,
           CASE sex WHEN 'F' THEN pg_temp.pick((SELECT names FROM pg_temp.female_names), pg_temp.h(id, 3))
                    WHEN 'M' THEN pg_temp.pick((SELECT names FROM pg_temp.male_names), pg_temp.h(id, 3))
                    ELSE pg_temp.pick((SELECT names FROM pg_temp.female_names) || (SELECT names FROM pg_temp.male_names), pg_temp.h(id, 3))
           END AS first_name,
           pg_temp.pick((SELECT names FROM pg_temp.last_names), pg_temp.h(id, 4)) AS last_name,
           CASE WHEN pg_temp.h(id, 5) % 2 = 0 THEN pg_temp.h(id, 6) % 6
                ELSE pg_temp.h(id, 6) % 30 END AS city_n
    FROM (
        SELECT id,
               CASE WHEN pg_temp.h(id, 1) % 100 < 49 THEN 'F'
                    WHEN pg_temp.h(id, 1) % 100 < 98 THEN 'M'
                    ELSE 'X' END AS sex,
               (1 + pg_temp.h(id, 2) % 8)::integer AS department_id
        FROM generate_series(1, 5000) AS id
    ) AS drawn
) AS p
JOIN pg_temp.cities AS c ON c.n = p.city_n;

-- 70% of encounters are in the patient's primary department; the others are in a
-- department drawn at random, or the emergency department for pediatric patients.
INSERT INTO public.encounters (id, patient_id, department_id, attending_staff_id, admitted_at,
                               discharged_at, acuity, reason)
SELECT e.id,
       e.patient_id,
       e.department_id,
       e.department_id + 8 * (pg_temp.h(e.id, 33) % 15)::integer,
       e.admitted_at,
       CASE WHEN pg_temp.h(e.id, 34) % 200 = 0 THEN NULL
            WHEN e.department_id = 3 THEN e.admitted_at + (60 + pg_temp.h(e.id, 35) % 600) * interval '1 minute'
            ELSE e.admitted_at + (1 + pg_temp.h(e.id, 35) % 120) * interval '1 hour' END,
       CASE WHEN e.department_id = 3 THEN (1 + pg_temp.h(e.id, 36) % 5)::smallint END,
       r.reason
FROM (
    SELECT drawn.id,
           drawn.patient_id,
           CASE WHEN pg_temp.h(drawn.id, 31) % 10 < 7 THEN p.primary_department_id
                WHEN p.primary_department_id = 5 THEN 3
                ELSE (1 + pg_temp.h(drawn.id, 32) % 8)::integer END AS department_id,
           timestamptz '2020-01-01 00:00:00+00' + (pg_temp.h(drawn.id, 37) % 2629800) * interval '1 minute' AS admitted_at
    FROM (SELECT id, (1 + pg_temp.h(id, 30) % 5000)::integer AS patient_id
          FROM generate_series(1, 20000) AS id) AS drawn
    JOIN public.patients AS p ON p.id = drawn.patient_id
) AS e
JOIN pg_temp.visit_reasons AS r ON r.department_id = e.department_id AND r.n = pg_temp.h(e.id, 38) % 5;

-- 1 to 3 distinct diagnoses per encounter.
INSERT INTO public.diagnoses (id, encounter_id, icd10_code, description)
SELECT row_number() OVER (ORDER BY e.id, k), e.id, d.code, d.description
FROM public.encounters AS e
CROSS JOIN LATERAL generate_series(1, (1 + pg_temp.h(e.id, 40) % 3)::integer) AS k
JOIN pg_temp.icd10_codes AS d ON d.department_id = e.department_id AND d.n = (pg_temp.h(e.id, 41) + k) % 6;

-- 0 to 2 distinct medication orders per encounter.
INSERT INTO public.medications (id, encounter_id, rxnorm_code, drug, dose)
SELECT row_number() OVER (ORDER BY e.id, k), e.id, m.code, m.drug, m.dose
FROM public.encounters AS e
CROSS JOIN LATERAL generate_series(1, (pg_temp.h(e.id, 50) % 3)::integer) AS k
JOIN pg_temp.rxnorm_orders AS m ON m.department_id = e.department_id AND m.n = (pg_temp.h(e.id, 51) + k) % 4;

-- 1 to 4 distinct lab results per encounter, resulted 30 minutes to 12.5 hours after
-- admission.
INSERT INTO public.lab_results (id, encounter_id, loinc_code, value, unit, resulted_at)
SELECT row_number() OVER (ORDER BY e.id, k), e.id, t.code,
       round(t.low + (t.high - t.low) * (pg_temp.h(e.id * 4 + k, 62) % 1001)::numeric / 1000, t.decimals),
       t.unit,
       e.admitted_at + (30 + pg_temp.h(e.id * 4 + k, 63) % 721) * interval '1 minute'
FROM public.encounters AS e
CROSS JOIN LATERAL generate_series(1, (1 + pg_temp.h(e.id, 60) % 4)::integer) AS k
JOIN pg_temp.loinc_tests AS t ON t.n = (pg_temp.h(e.id, 61) + 5 * k) % 16;

-- 1 or 2 notes per encounter. Psychiatry writes psychotherapy notes; psychiatry and
-- the emergency department write some substance use notes; a second note on a
-- discharged encounter is the discharge summary.
INSERT INTO public.clinical_notes (id, encounter_id, author_staff_id, note_type, body, written_at)
SELECT row_number() OVER (ORDER BY n.encounter_id, n.k), n.encounter_id, n.author_staff_id, n.note_type,
       CASE n.note_type
           WHEN 'progress' THEN
               'Seen for ' || lower(n.reason) || '. '
               || pg_temp.pick(ARRAY['Vital signs stable.', 'Afebrile, mild distress.', 'Alert and oriented, no acute distress.',
                                     'Pain controlled on current regimen.', 'Symptoms improving since admission.'], n.h)
               || ' '
               || pg_temp.pick(ARRAY['Continue current plan.', 'Repeat labs in the morning.', 'Adjust medication dose as tolerated.',
                                     'Consult requested.', 'Reassess in 24 hours.'], n.h / 7)
           WHEN 'discharge' THEN
               'Discharge summary: admitted for ' || lower(n.reason) || '. '
               || pg_temp.pick(ARRAY['Condition at discharge: stable.', 'Condition at discharge: improved.',
                                     'Discharged home with family.', 'Discharged to rehabilitation facility.'], n.h)
               || ' Follow up in '
               || pg_temp.pick(ARRAY['1 week', '2 weeks', '1 month', '3 months'], n.h / 7) || '.'
           WHEN 'psychotherapy' THEN
               'Psychotherapy session. '
               || pg_temp.pick(ARRAY['Explored sources of stress at work and home.', 'Practiced cognitive restructuring of negative thoughts.',
                                     'Discussed grief and coping strategies.', 'Reviewed sleep hygiene and daily routine.'], n.h)
               || ' '
               || pg_temp.pick(ARRAY['Patient engaged and receptive.', 'Affect constricted, engaged late in session.',
                                     'Homework assigned: thought record.', 'Safety plan reviewed, no current risk.'], n.h / 7)
           ELSE
               'Substance use assessment. '
               || pg_temp.pick(ARRAY['Reports daily alcohol use.', 'Reports opioid use, last use 2 days ago.',
                                     'In early remission, attending support meetings.', 'Reports cannabis use several times weekly.'], n.h)
               || ' '
               || pg_temp.pick(ARRAY['Brief intervention provided.', 'Referred to outpatient treatment program.',
                                     'Withdrawal monitoring started.', 'Discussed medication for addiction treatment.'], n.h / 7)
       END,
       (n.admitted_at AT TIME ZONE 'UTC') + (2 * n.k + pg_temp.h(n.encounter_id, 73) % 10) * interval '1 hour'
FROM (
    SELECT e.id AS encounter_id, k, e.reason, e.admitted_at,
           pg_temp.h(e.id * 2 + k, 72) AS h,
           e.department_id + 8 * (pg_temp.h(e.id * 2 + k, 71) % 15)::integer AS author_staff_id,
           CASE WHEN k = 2 AND e.discharged_at IS NOT NULL THEN 'discharge'
                WHEN e.department_id = 4 AND pg_temp.h(e.id, 74) % 3 = 0 THEN 'psychotherapy'
                WHEN e.department_id IN (3, 4) AND pg_temp.h(e.id, 75) % 8 = 0 THEN 'substance_use'
                ELSE 'progress' END AS note_type
    FROM public.encounters AS e
    CROSS JOIN LATERAL generate_series(1, (1 + pg_temp.h(e.id, 70) % 2)::integer) AS k
) AS n;

-- 1 or 2 claims per encounter.
INSERT INTO public.claims (id, encounter_id, cpt_code, amount, payer, status)
SELECT row_number() OVER (ORDER BY e.id, k), e.id, c.code,
       c.base + (pg_temp.h(e.id * 2 + k, 82) % 10000) / 100.0,
       pg_temp.pick(ARRAY['Medicare', 'Medicaid', 'Blue Cross Blue Shield', 'Aetna', 'UnitedHealthcare',
                          'Cigna', 'Humana', 'Self-pay'], pg_temp.h(e.id, 83)),
       pg_temp.pick(ARRAY['paid', 'paid', 'paid', 'paid', 'pending', 'submitted', 'denied'], pg_temp.h(e.id * 2 + k, 84))
FROM public.encounters AS e
CROSS JOIN LATERAL generate_series(1, (1 + pg_temp.h(e.id, 80) % 2)::integer) AS k
JOIN pg_temp.cpt_charges AS c ON c.department_id = e.department_id AND c.n = (pg_temp.h(e.id, 81) + k) % 4;

-- Rows above carry explicit ids; new rows continue after them.
SELECT setval(pg_get_serial_sequence('public.staff', 'id'), (SELECT max(id) FROM public.staff));
SELECT setval(pg_get_serial_sequence('public.patients', 'id'), (SELECT max(id) FROM public.patients));
SELECT setval(pg_get_serial_sequence('public.encounters', 'id'), (SELECT max(id) FROM public.encounters));
SELECT setval(pg_get_serial_sequence('public.diagnoses', 'id'), (SELECT max(id) FROM public.diagnoses));
SELECT setval(pg_get_serial_sequence('public.medications', 'id'), (SELECT max(id) FROM public.medications));
SELECT setval(pg_get_serial_sequence('public.lab_results', 'id'), (SELECT max(id) FROM public.lab_results));
SELECT setval(pg_get_serial_sequence('public.clinical_notes', 'id'), (SELECT max(id) FROM public.clinical_notes));
SELECT setval(pg_get_serial_sequence('public.claims', 'id'), (SELECT max(id) FROM public.claims));

DROP TABLE pg_temp.female_names, pg_temp.male_names, pg_temp.last_names, pg_temp.cities,
    pg_temp.visit_reasons, pg_temp.icd10_codes, pg_temp.rxnorm_orders, pg_temp.loinc_tests,
    pg_temp.cpt_charges;
DROP FUNCTION pg_temp.pick(text[], bigint), pg_temp.h(bigint, integer), pg_temp.mix(bigint, bigint, bigint);

ANALYZE public.departments, public.staff, public.patients, public.encounters, public.diagnoses,
    public.medications, public.lab_results, public.clinical_notes, public.claims;
